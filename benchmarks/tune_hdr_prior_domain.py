"""How the companding of the learned HDR prior (``LKRConfig.tone``, see
:mod:`inversa.burst.companding`) was chosen, on training images only (never the
benchmark's held-out photos).

The bursts of ``tune_hdr_object_motion.py`` (four training photos, 192x192 crops,
exposures 1, 4, 1/4, 9 or 14 frames), static and with two moving objects, at x2 and x1.
The learned HDR model (``MODEL``: the shipped one, or a ``.pt``) is run with its prior
step in the companded domain for each ``mu`` (0 = linear), whatever it was trained with,
next to ``map``; mu-law PSNR (border 16) averaged over the bursts.

    MODEL=hdr_lkr TONES=0,10,50,200,1000,5000 python benchmarks/tune_hdr_prior_domain.py
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
from bench_hdr import hdr_burst, scores
from tune_hdr_object_motion import IMAGES

from inversa.burst.hdr import (
    HDRConfig,
    finish,
    hdr_model,
    learned_solve,
    prepare_hdr,
    reconstruct_hdr,
)


def main() -> None:
    torch.set_num_threads(2)
    name = os.environ.get("MODEL", "hdr_lkr")
    tones = [float(v) for v in os.environ.get("TONES", "0,10,50,200,1000,5000").split(",")]
    net = hdr_model(name)
    base = net.config
    for scale in (2, 1):
        for moving in (0, 2):
            tot: dict = {}
            for img, seed, frames in IMAGES:
                sb = hdr_burst(img, seed, scale, frames, moving)
                inp = prepare_hdr(sb.burst, HDRConfig(method="learned", scale=scale, g_model=None))
                for mu in tones:
                    net.config = dataclasses.replace(base, tone=mu)
                    with torch.no_grad():
                        x = finish(learned_solve(net, inp), inp)
                    tot.setdefault(f"learned, tone {mu:g}", []).append(scores(x[0], sb.gt)[1])
                net.config = base
                r = reconstruct_hdr(sb.burst, HDRConfig(method="map", scale=scale, g_model=None))
                tot.setdefault("map", []).append(scores(r.x[0], sb.gt)[1])
            print(f"x{scale}, moving objects {moving} ({len(IMAGES)} bursts), mu-law PSNR:")
            for k, v in tot.items():
                print(f"  {k:<24} {np.mean(v):.2f}   " + " ".join(f"{u:.2f}" for u in v),
                      flush=True)


if __name__ == "__main__":
    main()
