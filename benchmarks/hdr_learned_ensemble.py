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

DIRECT = hdr.learned_solve


def _c(a: torch.Tensor | None) -> torch.Tensor | None:
    return None if a is None else a.contiguous()


def member(net, inp, fx: bool, fy: bool, tr: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The learned solution of the mirrored (``fx``, ``fy``) and/or transposed (``tr``)
    burst, brought back: ``(x, weight)``, the weight 0 where the cropped burst did not
    reach."""
    s = inp.scale
    h, w = inp.y.shape[-2:]
    hk = h - (1 - h % 2) if fy else h
    wk = w - (1 - w % 2) if fx else w
    y, v = inp.y[:, :hk, :wk], inp.valid[:, :hk, :wk]
    x0 = inp.x0[..., :hk * s, :wk * s]
    fl = None if inp.flow is None else inp.flow[..., :hk * s, :wk * s].clone()
    f = torch.eye(3, dtype=inp.m_hr.dtype)
    dims = []
    for on, axis, side in ((fx, 0, wk), (fy, 1, hk)):
        if on:
            f[axis, axis], f[axis, 2] = -1.0, s * side - 1.0
            dims.append(-1 - axis)
            if fl is not None:
                fl[:, axis] = -fl[:, axis]
    if dims:
        y, v, x0 = y.flip(dims), v.flip(dims), x0.flip(dims)
        fl = None if fl is None else fl.flip(dims)
    m = f @ inp.m_hr @ f
    if tr:
        p = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=m.dtype)
        m = p @ m @ p
        y, v, x0 = y.transpose(-1, -2), v.transpose(-1, -2), x0.transpose(-1, -2)
        fl = None if fl is None else fl.transpose(-1, -2)[:, [1, 0]]
    x = net(_c(y), inp.cfa, m, s, inp.noise, valid=_c(v), x0=_c(x0), gain=inp.gain,
            flow=_c(fl))
    if tr:
        x = x.transpose(-1, -2)
    if dims:
        x = x.flip(dims)
    out = x.new_zeros(1, x.shape[1], h * s, w * s)
    wg = x.new_zeros(1, 1, h * s, w * s)
    out[..., :hk * s, :wk * s] = x
    wg[..., :hk * s, :wk * s] = 1.0
    return out, wg


def ensemble(members):
    def solve(net, inp):
        acc, ws = 0.0, 0.0
        for fx, fy, tr in members:
            x, wg = member(net, inp, fx, fy, tr)
            acc, ws = acc + x * wg, ws + wg
        return acc / ws
    return solve


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
        print(f"x{s}, mu-law PSNR (dB): mean [per burst "
              + ", ".join(f"{n}/{sd}" for n, sd, _ in IMAGES) + "]")
        for (where, label), v in sorted(tot.items()):
            print(f"  {where:<30} {label:<10} {np.mean(v):6.2f}  {[round(a, 2) for a in v]}",
                  flush=True)
        gaps = {label: np.mean(tot[("dynamic, moving regions", label)])
                - np.mean(tot[("held still, moving regions", label)]) for label, _ in solvers}
        print("  moving regions, dynamic - held still: "
              + ", ".join(f"{k} {v:+.2f}" for k, v in gaps.items()))


if __name__ == "__main__":
    main()
