"""Would exact object displacements close the moving-region gap? (HDR issue, diagnosis.)

On the training bursts of ``tune_hdr_object_motion.py`` (never the held-out photos),
with the true camera motions given, ``map`` and ``learned`` (shipped learned confidence
``hdr_g``) are run with:

- the object displacements estimated (:func:`inversa.burst.local_motion.object_flow`);
- the true displacements (``hdr_oracle.oracle``: where a frame shows an object whole and
  the reference shows the same point of it) handed to the pipeline in its place, the
  confidence ``g`` still computed by the pipeline from them;

beside the twin with the objects held still (everything estimated): the issue's target
is the moving regions within 1 dB of it. Mu-law PSNR in the moving regions.

Run: cd benchmarks && python hdr_true_displacements.py
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch
from bench_hdr import hdr_burst, scores
from hdr_oracle import oracle
from tune_hdr_object_motion import IMAGES

import inversa.burst.hdr as hdr
from inversa.burst.hdr import HDRConfig, reconstruct_hdr


@contextlib.contextmanager
def displacements(flow: torch.Tensor | None):
    """Make the pipeline use ``flow`` as the objects' displacement field."""
    keep = hdr.object_flow
    hdr.object_flow = lambda *a, **kw: flow
    try:
        yield
    finally:
        hdr.object_flow = keep


def main() -> None:
    torch.set_num_threads(2)
    methods = os.environ.get("METHODS", "map,learned").split(",")
    scales = [int(v) for v in os.environ.get("SCALES", "2,1").split(",")]
    for s in scales:
        tot: dict = {}
        for name, seed, frames in IMAGES:
            dyn = hdr_burst(name, seed, s, frames, 2)
            still = hdr_burst(name, seed, s, frames, 2, True)
            true_flow = oracle(dyn)[1]
            for m in methods:
                cfg = HDRConfig(method=m, scale=s)
                for label in ("estimated", "true camera motions",
                              "true camera motions + true displacements",
                              "objects held still (target)"):
                    if label == "estimated":
                        x = reconstruct_hdr(dyn.burst, cfg).x[0]
                    elif label == "true camera motions":
                        x = reconstruct_hdr(dyn.burst, cfg, motions_hr=dyn.motions).x[0]
                    elif label == "objects held still (target)":
                        x = reconstruct_hdr(still.burst, cfg).x[0]
                    else:
                        with displacements(true_flow):
                            x = reconstruct_hdr(dyn.burst, cfg, motions_hr=dyn.motions).x[0]
                    gt = still.gt if "still" in label else dyn.gt
                    tot.setdefault((m, label), []).append(scores(x, gt, dyn.moving)[1])
            print(f"done x{s} {name}", flush=True)
        print(f"x{s}, moving regions, mu-law PSNR (dB): mean [per burst "
              + ", ".join(f"{n}/{sd}" for n, sd, _ in IMAGES) + "]")
        for (m, label), v in tot.items():
            print(f"  {m:<8} {label:<42} {np.mean(v):6.2f}  {[round(a, 2) for a in v]}")


if __name__ == "__main__":
    main()
