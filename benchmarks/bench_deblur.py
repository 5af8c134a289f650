"""Deblurring benchmark: inversa TV/PnP vs scikit-image Richardson-Lucy and Wiener.

Blur: Gaussian sigma 1.6 and a linear motion kernel (length 9, 30 degrees), reflective
boundary, then white Gaussian noise 0.01 (seed 0). Test images held out of training:
astronaut, coffee (colour), camera, coins (gray). Richardson-Lucy (iterations) and Wiener
(balance) are tuned per image by an oracle grid search on the ground truth; inversa uses
its automatic lambda (TV) or its default PnP settings, and the true noise level.

    python benchmarks/bench_deblur.py
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import bundled, oracle, psnr, report, timed, to_np

from inversa.operators import Conv2d, gaussian_kernel, motion_kernel
from inversa.restore.image import RestoreConfig, restore


def per_channel(fn, y):
    if y.ndim == 2:
        return fn(y)
    return np.stack([fn(y[..., c]) for c in range(y.shape[-1])], axis=-1)


def methods(blurred: torch.Tensor, clean: torch.Tensor, k: torch.Tensor, s: float):
    from skimage.restoration import richardson_lucy, wiener

    y = to_np(blurred)
    psf = k.double().numpy()

    def rl(n):
        return per_channel(lambda c: richardson_lucy(np.clip(c, 0, None), psf,
                                                     num_iter=int(round(n)), clip=False), y)

    def wi(b):
        return per_channel(lambda c: wiener(c, psf, balance=b, clip=False), y)

    n_best, _ = oracle(rl, [5, 10, 20, 40, 80], clean)
    yield "skimage Richardson-Lucy (oracle iters)", lambda: rl(n_best)
    b_best, _ = oracle(wi, [0.003, 0.01, 0.03, 0.1, 0.3], clean)
    yield "skimage Wiener (oracle balance)", lambda: wi(b_best)
    yield "inversa TV (auto lambda)", lambda: restore(
        blurred, RestoreConfig(prior="tv", noise_sigma=s, kernel=k)).x
    yield "inversa PnP (shipped denoiser)", lambda: restore(
        blurred, RestoreConfig(prior="pnp", noise_sigma=s, kernel=k)).x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", nargs="+", default=["astronaut", "coffee", "camera", "coins"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    s = 0.01
    kernels = {"gaussian σ=1.6": gaussian_kernel(1.6), "motion 9 px @30°": motion_kernel(9, 30)}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    order: list[str] = []
    per_image = []
    for kname, k in kernels.items():
        for name in args.images:
            clean = bundled(name)
            g = torch.Generator().manual_seed(0)
            blurred = Conv2d(k, clean.shape[1:], boundary="reflect")(clean)
            blurred = blurred + s * torch.randn(clean.shape, generator=g)
            results.setdefault(("blurred input", kname), []).append((psnr(blurred, clean), 0.0))
            if "blurred input" not in order:
                order.append("blurred input")
            for label, fn in methods(blurred, clean, k, s):
                with torch.no_grad():
                    out, dt = timed(fn)
                p = psnr(out, clean)
                results.setdefault((label, kname), []).append((p, dt))
                if label not in order:
                    order.append(label)
                per_image.append([name, kname, label, f"{p:.2f}", f"{dt:.2f}"])
                print(f"{name:10s} {kname:18s} {label:38s} {p:6.2f} dB {dt:7.2f} s", flush=True)
    report(results, order, list(kernels), str, per_image, ["image", "blur", "method", "PSNR", "s"],
           f"Mean over {len(args.images)} images ({', '.join(args.images)}), noise 0.01")


if __name__ == "__main__":
    main()
