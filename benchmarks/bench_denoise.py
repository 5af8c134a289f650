"""Denoising benchmark: inversa vs scikit-image and BM3D, side by side, same process.

Test images (held out of training and of the lambda calibration): colour astronaut,
coffee, chelsea; gray camera, coins, moon. White Gaussian noise sigma 15, 25, 50 (/255),
seed 0, not clipped; every method is given the true sigma.

    python benchmarks/bench_denoise.py [--sigmas 15 25 50] [--images astronaut camera ...]

Prints a markdown table (PSNR dB / seconds per call, mean over images) and per-image rows.
"""

from __future__ import annotations

import argparse

import torch
from common import TEST_COLOR, TEST_GRAY, bundled, oracle, psnr, report, timed, to_np

from inversa.restore.image import RestoreConfig, restore


def methods(noisy: torch.Tensor, clean: torch.Tensor, s: float):
    import bm3d
    from skimage.restoration import denoise_tv_chambolle, denoise_wavelet

    y = to_np(noisy)
    color = y.ndim == 3
    ca = -1 if color else None

    def sk_tv(w):
        return denoise_tv_chambolle(y, weight=w, channel_axis=ca)

    w_best, _ = oracle(sk_tv, [s * f for f in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)], clean)
    yield "skimage TV (oracle weight)", lambda: sk_tv(w_best)
    yield "skimage wavelet (BayesShrink)", lambda: denoise_wavelet(
        y, sigma=s, channel_axis=ca, convert2ycbcr=color, method="BayesShrink", mode="soft",
        rescale_sigma=True)
    yield "BM3D", lambda: (bm3d.bm3d_rgb(y, s) if color else bm3d.bm3d(y, s))
    for prior in ("tv", "wavelet", "pnp", "learned"):
        label = {"tv": "inversa TV (auto lambda)", "wavelet": "inversa wavelet (auto lambda)",
                 "pnp": "inversa PnP (shipped denoiser)",
                 "learned": "inversa denoiser alone"}[prior]
        yield label, (lambda p=prior: restore(noisy, RestoreConfig(prior=p, noise_sigma=s)).x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigmas", type=float, nargs="+", default=[15, 25, 50])
    ap.add_argument("--images", nargs="+", default=[*TEST_COLOR, *TEST_GRAY])
    args = ap.parse_args()
    torch.set_num_threads(2)
    results: dict[tuple[str, float], list[tuple[float, float]]] = {}
    per_image = []
    order: list[str] = []
    # warm-up (first calls pay for library initialisation): every method once, untimed
    small = bundled(args.images[0])[..., :64, :64]
    for _, fn in methods(small + 0.1 * torch.randn(small.shape), small, 0.1):
        with torch.no_grad():
            fn()
    for sig in args.sigmas:
        s = sig / 255
        for name in args.images:
            clean = bundled(name)
            g = torch.Generator().manual_seed(0)
            noisy = clean + s * torch.randn(clean.shape, generator=g)
            for label, fn in methods(noisy, clean, s):
                with torch.no_grad():
                    out, dt = timed(fn)
                p = psnr(out, clean)
                results.setdefault((label, sig), []).append((p, dt))
                if label not in order:
                    order.append(label)
                per_image.append([name, f"{sig:g}", label, f"{p:.2f}", f"{dt:.2f}"])
                print(f"{name:10s} sigma={sig:4g} {label:34s} {p:6.2f} dB {dt:7.2f} s", flush=True)
    report(results, order, args.sigmas, lambda s: f"σ={s:g}", per_image,
           ["image", "σ", "method", "PSNR", "s"],
           f"Mean over {len(args.images)} images ({', '.join(args.images)})")


if __name__ == "__main__":
    main()
