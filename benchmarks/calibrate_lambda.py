"""Fit the automatic regularisation weight ``lam = c * sigma ** p`` per prior and task.

On crops of *training* images only (inversa.data.TRAIN_IMAGES, never the test images),
separately for colour and gray images (colour TV couples the channels, so its best ``lam``
differs), for each noise level find the PSNR-optimal ``lam`` on a log grid (refined by a
parabola in log-lam), then fit ``log lam = log c + p log sigma`` by least squares.

    python benchmarks/calibrate_lambda.py            # prints the table for AUTO_LAMBDA
"""

from __future__ import annotations

import math

import numpy as np
import torch

from inversa.data.images import bundled
from inversa.metrics import psnr
from inversa.operators import gaussian_kernel
from inversa.restore.image import RestoreConfig, restore

SOURCES = {
    "color": ["rocket", "motorcycle_left", "motorcycle_right", "immunohistochemistry",
              "retina", "hubble_deep_field"],
    "gray": ["rocket", "motorcycle_left", "clock", "brick", "grass", "gravel", "cell",
             "hubble_deep_field"],
}


def crops(kind: str, size: int, n: int, seed: int = 0) -> list[torch.Tensor]:
    """``n`` random ``size`` x ``size`` crops (seeded) cycling over the source images,
    skipping nearly flat crops (standard deviation < 0.05)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    names = SOURCES[kind]
    i = 0
    while len(out) < n:
        im = bundled(names[i % len(names)], gray=kind == "gray")
        i += 1
        h, w = im.shape[-2:]
        y = int(torch.randint(0, h - size + 1, (1,), generator=g))
        x = int(torch.randint(0, w - size + 1, (1,), generator=g))
        c = im[..., y:y + size, x:x + size]
        if float(c.std()) >= 0.05:
            out.append(c)
    return out


def best_lam(images, degrade, prior, sigma, kernel, grid):
    scores = []
    for lam in grid:
        p = 0.0
        for clean, noisy in zip(images, degrade):
            r = restore(noisy, RestoreConfig(prior=prior, noise_sigma=sigma, lam=lam,
                                             kernel=kernel, iterations=80))
            p += psnr(r.x, clean)
        scores.append(p / len(images))
    i = int(np.argmax(scores))
    if 0 < i < len(grid) - 1:  # parabola through the three best points in log-lam
        lx = np.log(grid[i - 1:i + 2])
        a, b, _ = np.polyfit(lx, scores[i - 1:i + 2], 2)
        if a < 0:
            return float(np.exp(-b / (2 * a)))
    return float(grid[i])


def calibrate(task: str, prior: str, kind: str, sigmas, size: int,
              n: int) -> tuple[float, float]:
    images = crops(kind, size, n)
    kernel = gaussian_kernel(1.6) if task == "inverse" else None
    lams = []
    for s in sigmas:
        g = torch.Generator().manual_seed(0)
        deg = []
        for im in images:
            b = im
            if kernel is not None:
                from inversa.operators import Conv2d

                b = Conv2d(kernel, im.shape[1:], boundary="reflect")(im)
            deg.append(b + s * torch.randn(b.shape, generator=g))
        ref = {"tv": 1.0, "wavelet": 2.0, "smooth": 8.0}[prior] * s
        if task == "inverse":
            ref = {"tv": 0.1, "wavelet": 0.2, "smooth": 0.5}[prior] * s ** 1.5
        grid = ref * np.logspace(-1.2, 1.2, 9)
        lam = best_lam(images, deg, prior, s, kernel, grid)
        lams.append(lam)
        print(f"  {task:7s} {prior:7s} {kind:5s} sigma={s * 255:5.1f}/255  best lam={lam:.4g}",
              flush=True)
    p, logc = np.polyfit(np.log(sigmas), np.log(lams), 1)
    return math.exp(logc), p


def main() -> None:
    torch.set_num_threads(1)
    table = {}
    for prior in ("tv", "wavelet", "smooth"):
        for kind in ("color", "gray"):
            if prior != "wavelet":  # wavelet denoising uses BayesShrink, no lambda
                table[("denoise", prior, kind)] = calibrate(
                    "denoise", prior, kind, [s / 255 for s in (5, 10, 15, 25, 35, 50)], 160, 8)
            table[("inverse", prior, kind)] = calibrate(
                "inverse", prior, kind, [0.005, 0.01, 0.02, 0.04], 96, 3)
    print("AUTO_LAMBDA = {")
    for k, (c, p) in table.items():
        print(f"    {k!r}: ({c:.4g}, {p:.3g}),")
    print("}")


if __name__ == "__main__":
    main()
