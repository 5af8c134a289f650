"""Choose the plug-and-play HQS settings (iterations, DPIR's lambda) for deblurring.

On crops of *training* images only (the lambda-calibration crops), Gaussian blur 1.6 and a
motion kernel, noise 0.01: PSNR of PnP-HQS with the shipped denoiser for each setting.

    python benchmarks/calibrate_pnp.py
"""

from __future__ import annotations

import itertools

import torch
from calibrate_lambda import crops

from inversa.metrics import psnr
from inversa.operators import Conv2d, gaussian_kernel, motion_kernel
from inversa.restore.image import RestoreConfig, restore


def main() -> None:
    torch.set_num_threads(2)
    images = crops("color", 128, 3) + crops("gray", 128, 3)
    s = 0.01
    cases = []
    for k in (gaussian_kernel(1.6), motion_kernel(9, 30)):
        g = torch.Generator().manual_seed(0)
        for im in images:
            y = Conv2d(k, im.shape[1:], boundary="reflect")(im)
            cases.append((im, y + s * torch.randn(y.shape, generator=g), k))
    for iters, lam in itertools.product((8, 16, 24), (0.1, 0.23, 0.5)):
        with torch.no_grad():
            p = sum(psnr(restore(y, RestoreConfig(prior="pnp", noise_sigma=s, kernel=k,
                                                  iterations=iters, lam=lam)).x, im)
                    for im, y, k in cases) / len(cases)
        print(f"iterations {iters:3d}  lambda {lam:5.2f}  mean PSNR {p:.2f} dB", flush=True)


if __name__ == "__main__":
    main()
