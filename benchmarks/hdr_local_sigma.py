"""Does the learned HDR prior need a higher level where the data are scarce? (HDR issue,
probe.)

In the moving regions ``g`` distrusts the frames that saw something else there, so the
``z`` of each stage of ``hdr_lkr`` averages fewer samples than elsewhere, while the
prior's level ``sigma_t`` is one number for the whole image. ``LKRConfig.local_sigma``
(``e``) multiplies it per pixel by ``clip((median P / P)^e, 1 / r_max, r_max)``, ``P`` the
weight of the samples that see the pixel (:meth:`inversa.burst.lkr.LKRNet.
precision_factor`). Applied at test time to the shipped weights (trained without it), on
the training bursts of ``tune_hdr_object_motion.py`` (never the held-out photos), two
moving objects, and the twin with the objects held still (the issue's target: moving
regions within 1 dB of it); mu-law PSNR over the image and in the moving regions. Each
burst is prepared once (alignment, ``g``, object motion) and solved at every setting.

Run: cd benchmarks && python hdr_local_sigma.py --exponents -0.5 -0.25 0 0.5 1
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from bench_hdr import hdr_burst, scores
from hdr_learned_ensemble import report
from tune_hdr_object_motion import IMAGES

from inversa.burst.hdr import HDRConfig, finish, hdr_model, learned_solve, prepare_hdr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--exponents", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    ap.add_argument("--max", type=float, default=4.0)
    ap.add_argument("--scales", type=int, nargs="+", default=[2, 1])
    args = ap.parse_args()
    torch.set_num_threads(2)
    for s in args.scales:
        cfg = HDRConfig(method="learned", scale=s)
        net = hdr_model(cfg.model)
        base = net.config
        tot: dict = {}
        for name, seed, frames in IMAGES:
            for kind in ("dynamic", "held still"):
                sb = hdr_burst(name, seed, s, frames, 2, kind == "held still")
                inp = prepare_hdr(sb.burst, cfg)
                for e in args.exponents:
                    net.config = dataclasses.replace(base, local_sigma=e,
                                                     local_sigma_max=args.max)
                    with torch.no_grad():
                        x = finish(learned_solve(net, inp), inp)[0]
                    tot.setdefault((f"{kind}, moving regions", e), []).append(
                        scores(x, sb.gt, sb.moving)[1])
                    tot.setdefault((f"{kind}, whole", e), []).append(scores(x, sb.gt)[1])
        net.config = base
        report(f"x{s}, r_max {args.max}, ", tot, args.exponents, lambda e: f"e={e:<4}")


if __name__ == "__main__":
    main()
