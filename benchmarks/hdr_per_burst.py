"""Per-burst mu-law PSNR of the learned HDR model against ``map`` on the held-out bursts of
``bench_hdr.py`` (same crops, seeds and exposures), to see where the averages come from.

    SCALE=1 MOVING=0 python benchmarks/hdr_per_burst.py
    MODEL=old.pt TONE=50 ...   other weights, or their prior step companded at mu = TONE
                               (e.g. the stage-3 weights: git show REV:src/inversa/weights/hdr_lkr.pt)
"""

from __future__ import annotations

import dataclasses
import os

import torch
from bench_hdr import hdr_burst, scores
from common import TEST_COLOR

from inversa.burst.hdr import HDRConfig, finish, learned_solve, prepare_hdr, reconstruct_hdr
from inversa.burst.lkr import load_lkr


def main() -> None:
    torch.set_num_threads(2)
    scale = int(os.environ.get("SCALE", 1))
    moving = int(os.environ.get("MOVING", 0))
    net = load_lkr(os.environ.get("MODEL", "hdr_lkr"))
    if "TONE" in os.environ:
        net.config = dataclasses.replace(net.config, tone=float(os.environ["TONE"]))
    print(f"x{scale}, moving objects {moving}, learned tone {net.config.tone:g}")
    gains = []
    for i, name in enumerate(TEST_COLOR):
        for s in range(2):
            seed, frames = 100 + 10 * i + s, (9, 14)[s]
            sb = hdr_burst(name, seed, scale, frames, moving)
            inp = prepare_hdr(sb.burst, HDRConfig(method="learned", scale=scale, g_model=None))
            with torch.no_grad():
                lr = scores(finish(learned_solve(net, inp), inp)[0], sb.gt)[1]
            mp = scores(reconstruct_hdr(sb.burst, HDRConfig(method="map", scale=scale, g_model=None)).x[0],
                        sb.gt)[1]
            gains.append(lr - mp)
            print(f"  {name}/{seed}/{frames}f  learned {lr:.2f}  map {mp:.2f}  "
                  f"gain {lr - mp:+.2f}", flush=True)
    print(f"  mean gain {sum(gains) / len(gains):+.2f}")


if __name__ == "__main__":
    main()
