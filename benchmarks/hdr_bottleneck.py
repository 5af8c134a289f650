"""What limits ``map`` in the moving regions of dynamic HDR bursts: the objects'
displacements or the confidence ``g``? On the training bursts of
``tune_hdr_object_motion.py`` (never the benchmark's held-out photos), each part is
replaced by the truth in turn (``hdr_oracle.oracle``), with the true camera motions so
that the camera alignment plays no part:

- estimated: displacements and ``g`` as ``inversa hdr`` computes them;
- refined translations snapped to the truth: every object translation that
  ``inversa.burst.local_motion`` refines is replaced by the true one when within 1.5
  pixels of it (same pixels, exact values);
- true displacements, estimated ``g`` for them: the true field, with ``g`` recomputed by
  :func:`inversa.burst.hdr.confidence` for it;
- estimated displacements, true ``g`` for them: a sample is trusted where the point the
  field puts it on shows what it shows (``oracle(flow_given=...)``);
- the same, split: only the samples ``g`` trusts wrongly removed (``min``), or only the
  ones it distrusts wrongly added (``max``);
- the learned confidence (``inversa.burst.confidence_net``, weights ``hdr_g``) in place
  of the analytic ``g``, everything else estimated.

All other rows use the analytic ``g`` (``HDRConfig(g_model=None)``).

Mu-law PSNR in the moving regions, mean over the four bursts (and per burst).

    cd benchmarks && python hdr_bottleneck.py
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from bench_hdr import hdr_burst, scores
from hdr_oracle import given, oracle
from hdr_true_displacements import displacements
from tune_hdr_object_motion import IMAGES

import inversa.burst.hdr as hdr
import inversa.burst.local_motion as lm
from inversa.burst.hdr import HDRConfig, reconstruct_hdr


@contextlib.contextmanager
def snapped(true_d: torch.Tensor):
    """Object translations refined by ``local_motion`` replaced by the nearest true one
    (``true_d`` (N, 2)) when within 1.5 pixels."""
    keep = lm._refine

    def refine(ref, frame, d, support, iters=8):
        out = keep(ref, frame, d, support, iters)
        dist = (true_d - out).norm(dim=1)
        j = int(dist.argmin())
        return true_d[j] if float(dist[j]) < 1.5 else out

    lm._refine = refine
    try:
        yield
    finally:
        lm._refine = keep


@contextlib.contextmanager
def captured(out: dict):
    """Keep what :func:`inversa.burst.hdr.trusted` returns: ``(g, trust, flow)``."""
    keep = hdr.trusted

    def trusted(*a, **kw):
        out["v"] = keep(*a, **kw)
        return out["v"]

    hdr.trusted = trusted
    try:
        yield
    finally:
        hdr.trusted = keep


def print_rows(title: str, rows: dict[str, list[float]], width: int) -> None:
    """``title: mean [per burst ...]`` then one line per row: mean and per-burst values."""
    print(f"{title}: mean [per burst {', '.join(f'{n}/{sd}' for n, sd, _ in IMAGES)}]")
    for label, v in rows.items():
        print(f"  {label:<{width}} {np.mean(v):6.2f}  {np.round(v, 2).tolist()}", flush=True)


def main() -> None:
    torch.set_num_threads(2)
    for s in (2, 1):
        rows: dict[str, list[float]] = {}
        for name, seed, frames in IMAGES:
            sb = hdr_burst(name, seed, s, frames, 2)
            cfg = HDRConfig(method="map", scale=s, g_model=None)  # the analytic g

            def run(sb=sb, cfg=cfg) -> float:
                x = reconstruct_hdr(sb.burst, cfg, motions_hr=sb.motions).x[0]
                return scores(x, sb.gt, sb.moving)[1]

            cap: dict = {}
            with captured(cap):
                rows.setdefault("estimated", []).append(run())
            g, _, flow = cap["v"]
            true_d = torch.tensor([[-i * o.vx, -i * o.vy] for o in sb.objects
                                   for i in range(1, frames)], dtype=torch.float64)
            with snapped(true_d):
                rows.setdefault("refined translations snapped to the truth", []).append(run())
            with displacements(oracle(sb)[1]):
                rows.setdefault("true displacements, estimated g for them", []).append(run())
            if flow is None:
                continue
            g_true = oracle(sb, flow_given=flow)[0]
            for label, g2 in (("estimated displacements, true g for them", g_true),
                              ("  only wrongly trusted samples removed", torch.minimum(g, g_true)),
                              ("  only wrongly distrusted samples added", torch.maximum(g, g_true))):
                with given(g2, flow):
                    rows.setdefault(label, []).append(run())
            rows.setdefault("learned confidence (hdr_g), estimated displacements", []).append(
                run(cfg=HDRConfig(method="map", scale=s)))
        print_rows(f"x{s}, moving regions, mu-law PSNR (dB)", rows, 45)


if __name__ == "__main__":
    main()
