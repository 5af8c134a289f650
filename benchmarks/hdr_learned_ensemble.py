"""A test-time ensemble for the learned HDR reconstruction? (HDR issue, probe; not shipped.)

``inversa burst --method learned`` averages the solution of the transposed burst at x2
(``inversa.burst.reconstruct._dihedral``). This probe does the same for the learned HDR
reconstruction (``hdr_lkr``): the burst, its data weights, the ``merge`` start and the
objects' displacement field are mirrored and/or transposed (a mirror keeps the CFA
pattern once the last column or row is dropped when the side is even; a displacement's
component along a mirrored axis changes sign; a transpose swaps both the axes and the
components), solved, brought back and averaged (2 members: direct and transposed; 8: every
mirror with and without the transpose). Training bursts of ``tune_hdr_object_motion.py``
(never the held-out photos), two moving objects, and the twin with the objects held still
(the issue's target: moving regions within 1 dB of it); mu-law PSNR over the image and in
the moving regions.

Run: cd benchmarks && python hdr_learned_ensemble.py
"""

from __future__ import annotations

import numpy as np
import torch
from bench_hdr import hdr_burst, scores
from tune_hdr_object_motion import IMAGES

import inversa.burst.hdr as hdr
from inversa.burst.hdr import HDRConfig, reconstruct_hdr
from inversa.burst.reconstruct import _dihedral

DIRECT = hdr.learned_solve


def member(net, inp, fx: bool, fy: bool, tr: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The learned solution of the mirrored (``fx``, ``fy``) and/or transposed (``tr``)
    burst, brought back: ``(x, weight)``, the weight 0 where the cropped burst did not
    reach (``inversa burst``'s own member, with the HDR inputs)."""
    return _dihedral(net, inp.y, inp.cfa, inp.m_hr, inp.scale, inp.noise, inp.valid, fx, fy,
                     tr, x0=inp.x0, gain=inp.gain, flow=inp.flow)


def ensemble(members):
    def solve(net, inp):
        acc, ws = 0.0, 0.0
        for fx, fy, tr in members:
            x, wg = member(net, inp, fx, fy, tr)
            acc, ws = acc + x * wg, ws + wg
        return acc / ws
    return solve


def report(head: str, tot: dict, keys, col) -> None:
    """Print ``tot`` ((where, key) -> mu-law PSNR per burst of ``IMAGES``): the mean and
    the bursts of every row, each key written ``col(key)``, then the moving regions' gap
    between the dynamic bursts and the twins with the objects held still, per key."""
    print(f"{head}mu-law PSNR (dB): mean [per burst "
          + ", ".join(f"{n}/{sd}" for n, sd, _ in IMAGES) + "]")
    for (where, k), v in sorted(tot.items()):
        print(f"  {where:<30} {col(k)} {np.mean(v):6.2f}  {[round(a, 2) for a in v]}",
              flush=True)
    gaps = {k: np.mean(tot[("dynamic, moving regions", k)])
            - np.mean(tot[("held still, moving regions", k)]) for k in keys}
    print("  moving regions, dynamic - held still: "
          + ", ".join(f"{col(k).strip()} {v:+.2f}" for k, v in gaps.items()), flush=True)


def main() -> None:
    torch.set_num_threads(2)
    two = [(False, False, False), (False, False, True)]
    eight = [(a, b, t) for a in (False, True) for b in (False, True) for t in (False, True)]
    solvers = (("learned", DIRECT), ("2 members", ensemble(two)), ("8 members", ensemble(eight)))
    for s in (1, 2):
        tot: dict = {}
        for name, seed, frames in IMAGES:
            for kind in ("dynamic", "held still"):
                sb = hdr_burst(name, seed, s, frames, 2, kind == "held still")
                for label, fn in solvers:
                    hdr.learned_solve = fn
                    try:
                        x = reconstruct_hdr(sb.burst, HDRConfig(method="learned", scale=s)).x[0]
                    finally:
                        hdr.learned_solve = DIRECT
                    tot.setdefault((f"{kind}, moving regions", label), []).append(
                        scores(x, sb.gt, sb.moving)[1])
                    tot.setdefault((f"{kind}, whole", label), []).append(scores(x, sb.gt)[1])
        report(f"x{s}, ", tot, [label for label, _ in solvers], lambda k: f"{k:<10}")


if __name__ == "__main__":
    main()
