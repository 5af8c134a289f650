"""How the object-motion constants were chosen (HDRConfig.local_motion, g_chi), on
training images only (never the benchmark's held-out photos).

Four dynamic bracketed bursts (motorcycle_left/5/9f, retina/6/14f,
immunohistochemistry/7/9f, colorwheel/8/14f; 192x192 crops, exposures 1, 4, 1/4, two
moving objects; pass MOVS=0 for their static versions), each reconstructed with and
without object motion; mu-law PSNR over the image / in the moving regions, and seconds.

    METHODS=map SCALES=2,1 MOVS=2 python benchmarks/tune_hdr_object_motion.py
    G_CHI=1e9 ... (no sample-by-sample check), G_CHI=1.2, 2, 3: the other values tried
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from bench_hdr import hdr_burst, scores

from inversa.burst.hdr import HDRConfig, reconstruct_hdr

IMAGES = (("motorcycle_left", 5, 9), ("retina", 6, 14), ("immunohistochemistry", 7, 9),
          ("colorwheel", 8, 14))


def main() -> None:
    torch.set_num_threads(2)
    methods = os.environ.get("METHODS", "map").split(",")
    scales = [int(v) for v in os.environ.get("SCALES", "2").split(",")]
    movs = [int(v) for v in os.environ.get("MOVS", "2").split(",")]
    chi = float(os.environ.get("G_CHI", 1.5))
    for s in scales:
        for mo in movs:
            tot: dict = {}
            for name, seed, frames in IMAGES:
                sb = hdr_burst(name, seed, s, frames, mo)
                for m in methods:
                    for lm in (False, True):
                        t0 = time.time()
                        r = reconstruct_hdr(sb.burst, HDRConfig(method=m, scale=s,
                                                                local_motion=lm, g_chi=chi))
                        dt = time.time() - t0
                        whole = scores(r.x[0], sb.gt)[1]
                        moving = scores(r.x[0], sb.gt, sb.moving)[1] if mo else float("nan")
                        key = f"{m}{' + object motion' if lm else ''}"
                        tot.setdefault(key, []).append((whole, moving, dt))
            print(f"x{s}, moving objects {mo}, g_chi {chi:g}:")
            for k, v in tot.items():
                a = np.mean(v, 0)
                print(f"  {k:<28} mu-law {a[0]:.2f} / moving {a[1]:.2f}  {a[2]:.1f} s")


if __name__ == "__main__":
    main()
