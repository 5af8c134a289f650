"""Large frames: a 12-megapixel synthetic raw burst reconstructed in tiles.

A 4000x3000 RGGB burst (6 frames, random handheld-scale motion, Brooks noise) is made
from the bundled ``retina`` photograph upsampled to 4000x3000 at scale 1 (the "ground
truth" is that upsampled image), then ``merge`` at x2 (an 8000x6000 output) and ``map``
(TV) at x1 on a 1024x1024 crop of it. Reports wall time and the peak resident memory of the
process (``ru_maxrss``), so that memory bounded by the tiles can be checked.

Run: python benchmarks/bench_large.py
"""

from __future__ import annotations

import resource
import time

import torch
import torch.nn.functional as F
from common import bundled, markdown_table

from inversa.burst.motion import MotionConfig
from inversa.burst.reconstruct import ReconConfig, reconstruct
from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.burstio import Burst


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main() -> None:
    torch.set_num_threads(2)
    src = F.interpolate(bundled("retina"), size=(3000, 4000), mode="bicubic",
                        align_corners=False).clamp(0, 1)
    t0 = time.perf_counter()
    sb = synthesize_burst(src, SynthConfig(scale=1, frames=6, motion=MotionConfig(12, 0.3)),
                          seed=0)
    del src
    t_synth = time.perf_counter() - t0
    b = sb.burst
    rows = [["synthesis", f"{tuple(b.raw.shape)}", f"{t_synth:.1f}", f"{peak_gb():.2f}"]]
    t0 = time.perf_counter()
    r = reconstruct(b, ReconConfig(method="merge", scale=2))
    rows.append(["merge x2 (tiled)", f"{tuple(r.x.shape[-2:])}",
                 f"{time.perf_counter() - t0:.1f}", f"{peak_gb():.2f}"])
    del r
    crop = Burst(b.raw[:, 1000:2024, 1500:2524].contiguous(), b.cfa, noise=b.noise)
    t0 = time.perf_counter()
    r = reconstruct(crop, ReconConfig(method="map", prior="tv", scale=1))
    rows.append(["map TV x1, 1024x1024 crop (tiled)", f"{tuple(r.x.shape[-2:])}",
                 f"{time.perf_counter() - t0:.1f}", f"{peak_gb():.2f}"])
    print("\n12-megapixel burst, 6 frames, 2 torch threads")
    print(markdown_table(["step", "size", "seconds", "peak memory so far (GB)"], rows))


if __name__ == "__main__":
    main()
