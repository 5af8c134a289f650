"""How much of the moving regions' gap to the static scene sits on the objects' rims?

For each held-out burst of ``bench_hdr.py`` (same photos, seeds, scales, mask, scores) the
reconstruction (``map`` or ``learned``, everything estimated, as ``inversa hdr`` runs) of
the dynamic burst is compared with that of its twin with the objects held still (same
ground truth). Then the dynamic result's pixels within ``r`` pixels of the objects'
anti-aliased rims in the reference frame are replaced by the held-still result's: the
score a reconstruction would reach if it got the rims as right as the static scene does
and changed nothing else. Mu-law PSNR in the moving regions, per burst and mean.

Run: cd benchmarks && python hdr_rim_share.py [--method learned] [--scales 2,1] [--radius 1]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench_hdr import hdr_burst, held_out, scores
from common import markdown_table

from inversa.burst.hdr import HDRConfig, reconstruct_hdr
from inversa.burst.truth import reference_rims


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", choices=("map", "learned"), default="learned")
    ap.add_argument("--scales", default="2,1")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--radius", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(2)
    for scale in (int(v) for v in args.scales.split(",")):
        cfg = HDRConfig(method=args.method, scale=scale)
        rows = []
        for name, seed, frames in held_out(args.seeds):
            dyn = hdr_burst(name, seed, scale, frames, 2)
            still = hdr_burst(name, seed, scale, frames, 2, True)
            xd = reconstruct_hdr(dyn.burst, cfg).x[0]
            xs = reconstruct_hdr(still.burst, cfg).x[0]
            rim = reference_rims(dyn, args.radius).any(0)
            fixed = torch.where(rim[None], xs, xd)
            area = float((rim & dyn.moving).sum()) / float(dyn.moving.sum())
            r = [scores(v, dyn.gt, dyn.moving)[1] for v in (xd, fixed, xs)]
            rows.append([f"{name}/{seed}/{frames}f", *(f"{v:.2f}" for v in r),
                         f"{r[0] - r[2]:+.2f}", f"{r[1] - r[2]:+.2f}", f"{area:.0%}"])
            print(" ".join(rows[-1]), flush=True)
        mean = [f"{np.mean([float(row[i]) for row in rows]):.2f}" for i in (1, 2, 3)]
        rows.append(["mean", *mean, f"{float(mean[0]) - float(mean[2]):+.2f}",
                     f"{float(mean[1]) - float(mean[2]):+.2f}", ""])
        print(f"\nx{scale}, {args.method}, moving regions, mu-law PSNR (dB); rims within "
              f"{args.radius} px")
        print(markdown_table(["burst", "dynamic", "dynamic, rims as held still", "held still",
                              "gap", "gap, rims fixed", "rims' share of the regions"], rows))


if __name__ == "__main__":
    main()
