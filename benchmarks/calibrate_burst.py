"""Calibration of the burst reconstruction constants on *training* images only.

Sweeps the weight of the prior for ``map`` (PnP: DPIR's lambda; TV: a multiple of the
reference noise variance) and for ``single`` (TV, a multiple of the noise variance at
0.1), on x4 14-frame synthetic bursts (medium noise, shot 3e-3) from crops of
``hubble_deep_field``, ``motorcycle_left`` and ``immunohistochemistry``; blind noise,
estimated motion. The chosen values are ``AUTO_LAMBDA`` and ``SINGLE_LAMBDA_FACTOR`` in
``inversa.burst.reconstruct``.

Run: python benchmarks/calibrate_burst.py
"""

from __future__ import annotations

import numpy as np
import torch
from common import bundled, markdown_table

from inversa.burst import reconstruct as rec
from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.noise import NoiseLevels
from inversa.metrics import psnr

IMAGES = ("hubble_deep_field", "motorcycle_left", "immunohistochemistry")


def main() -> None:
    torch.set_num_threads(2)
    bursts = []
    for i, name in enumerate(IMAGES):
        img = bundled(name)[..., 20:20 + 448, 20:20 + 448]
        bursts.append(synthesize_burst(img, SynthConfig(scale=4, frames=14,
                                                        noise=NoiseLevels(3e-3, 2e-5)),
                                       seed=i, box=(32, 32, 384, 384)))

    def mean_psnr(cfg: rec.ReconConfig) -> float:
        out = []
        for sb in bursts:
            x = rec.reconstruct(sb.burst, cfg).x
            out.append(psnr(x[..., 16:-16, 16:-16], sb.gt[None][..., 16:-16, 16:-16]))
        return float(np.mean(out))

    rows = []
    for lam in (0.03, 0.06, 0.12, 0.23):
        p = mean_psnr(rec.ReconConfig(prior="pnp", lam=lam))
        rows.append(["map PnP, DPIR lambda", f"{lam}", f"{p:.2f}"])
    base = rec.AUTO_LAMBDA["tv"]
    for f in (1.0, 3.0, 10.0):
        rec.AUTO_LAMBDA["tv"] = f
        p = mean_psnr(rec.ReconConfig(prior="tv"))
        rows.append(["map TV, lambda / noise variance", f"{f}", f"{p:.2f}"])
    rec.AUTO_LAMBDA["tv"] = base
    base = rec.SINGLE_LAMBDA_FACTOR
    for f in (3.0, 7.0, 15.0):
        rec.SINGLE_LAMBDA_FACTOR = f
        rows.append(["single TV, lambda / noise variance at 0.1", f"{f}",
                     f"{mean_psnr(rec.ReconConfig(method='single')):.2f}"])
    rec.SINGLE_LAMBDA_FACTOR = base
    print("\nCalibration on training bursts (x4, 14 frames, shot 3e-3), mean PSNR (dB)")
    print(markdown_table(["setting", "value", "PSNR"], rows))


if __name__ == "__main__":
    main()
