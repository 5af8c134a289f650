"""Choose between learned burst weights on validation bursts only (never the test images).

Bursts of the validation photograph (``rocket``, kept out of training) made as in
bench_lkr.py (x4: 96x96 -> 384x384 and x2: 96x96 -> 192x192, 14 frames, random Brooks
noise, blind), reconstructed with ``map`` (PnP) and with each set of weights given; PSNR
in linear camera RGB, 16-pixel border excluded. The held-out table (bench_lkr.py) is run
only for the weights chosen here.

Run: python benchmarks/select_lkr.py WEIGHTS [WEIGHTS ...] [--per-scale 4] [--ensemble]
     [--flips] [--scales 4,2]
     (WEIGHTS: a shipped name such as burst_lkr, or a .pt path; --ensemble: also each
     weights with the transposed-burst ensemble, ReconConfig.transpose_ensemble; --flips:
     the mirrored bursts too, ReconConfig.flip_ensemble, alone and with the transposed)
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench_lkr import make_burst, run, score
from common import bundled, markdown_table

from inversa.camera.noise import random_noise_levels
from inversa.data.images import VALIDATION


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--per-scale", type=int, default=4)
    ap.add_argument("--ensemble", action="store_true")
    ap.add_argument("--flips", action="store_true",
                    help="also the mirrored-burst ensembles (ReconConfig.flip_ensemble), x4 / x8")
    ap.add_argument("--scales", default="4,2")
    args = ap.parse_args()
    torch.set_num_threads(2)
    src = bundled(VALIDATION)
    methods = {"map, PnP": dict(method="map", prior="pnp")}
    methods.update({w: dict(method="learned", model=w, transpose_ensemble=False)
                    for w in args.weights})
    if args.ensemble:
        methods.update({f"{w} + transposed": dict(method="learned", model=w,
                                                  transpose_ensemble=True)
                        for w in args.weights})
    if args.flips:
        methods.update({f"{w} + mirrored": dict(method="learned", model=w, flip_ensemble=True)
                        for w in args.weights})
        methods.update({f"{w} + mirrored + transposed": dict(
            method="learned", model=w, flip_ensemble=True, transpose_ensemble=True)
            for w in args.weights})
    for scale in map(int, args.scales.split(",")):
        res: dict = {m: [] for m in methods}
        for b in range(args.per_scale):
            g = torch.Generator().manual_seed(5000 + 10 * scale + b)
            sb = make_burst(src, g, seed=5000 + b, noise=random_noise_levels(g), scale=scale)
            row = [f"x{scale}", f"{sb.burst.noise.shot:.1e}"]
            for label, cfg in methods.items():
                x, dt = run(sb.burst, cfg, scale)
                res[label].append((score(x, sb.gt)[0], dt))
                row.append(f"{res[label][-1][0]:.2f}")
            print(" | ".join(row), flush=True)
        base = np.array([v[0] for v in res["map, PnP"]])
        rows = [[m, f"{np.mean([v[0] for v in r]):.2f}",
                 f"{np.mean([v[0] for v in r]) - base.mean():+.2f}",
                 f"{np.mean([v[1] for v in r]):.2f}"] for m, r in res.items()]
        print(f"\n{VALIDATION} (validation), x{scale}, 14 frames, {args.per_scale} bursts")
        print(markdown_table(["method", "PSNR (dB)", "vs map PnP", "seconds / burst"], rows))
        print()


if __name__ == "__main__":
    main()
