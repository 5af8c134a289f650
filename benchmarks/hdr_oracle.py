"""How close to the static scene can the moving regions get? An oracle bound (HDR issue).

The HDR issue asks that, in the regions the moving objects cross, a dynamic burst be
reconstructed within 1 dB of its static twin. This script measures what the frames allow
when everything the reconstruction has to estimate is given exactly, on the bursts of
``bench_hdr.py`` (same photos, seeds, exposures, scales, mask, scores):

- **oracle, dynamic**: the true camera motions; the true motion of each object (frame
  ``k`` shows the reference's point ``q - k v_j`` where object ``j`` covers ``q``) as the
  displacement field; and the true confidence ``g``: 1 for a raw sample whose
  ``s x s`` high-resolution pixels all show what the reference shows where the motion
  puts them (background on background, or the whole of one object on the same object),
  0 otherwise (occluded or uncovered background, the one-pixel anti-aliased object
  edges), judged at the nearest pixel, with no margin around the edges (``--margin N``
  distrusts N more pixels on each side of them). Nothing is guessed, so what remains
  is, to within that rounding, the information the frames hold;
- **oracle, dynamic, no object motion**: the same, with the object samples distrusted
  instead of moved (what a perfect ``g`` without local motion gives);
- **oracle, static twin**: the static twin without objects, true camera motions, g = 1;
- **oracle, objects held still**: the static twin with the same objects held still;
- **estimated**: ``map`` as in ``bench_hdr.py`` (everything estimated), dynamic and the
  twin with the objects held still; and the dynamic burst with only the camera motions
  given (``g`` and the objects' displacements estimated); and the same with the true
  ``g`` for the *estimated* displacements (a sample counts where the estimated field
  puts it on the reference point that shows the same thing, to half a pixel), which
  separates the displacements' errors from the confidence's.

All with ``map`` (TV prior, HDR data term) and the same saturation masks. Also reported:
the *coverage*, the exposure-weighted number of trusted samples seeing each pixel of the
moving regions, relative to the twin with the objects held still (1 = as many as in the
static scene): ``sum_k e_k m_k g_k`` brought to the reference grid, averaged over the
region; and per burst, the share of the oracle's extra error (dynamic over objects held
still) that lies within a pixel of the objects' anti-aliased rims in the reference.

``--method learned`` runs the same with the learned reconstruction (``hdr_lkr``) in place
of ``map`` (the estimated rows then use the shipped learned ``g``, as ``inversa hdr``
does; the oracle rows are given theirs).

Run: python benchmarks/hdr_oracle.py [--seeds 2] [--margin 0] [--method learned]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch
import torch.nn.functional as F
from bench_hdr import B, hdr_burst, held_out, scores
from common import markdown_table

import inversa.burst.hdr as hdr
from inversa.burst.hdr import HDRConfig, mu_law, reconstruct_hdr, saturation_masks
from inversa.burst.truth import (
    at,
    coverages,
    positions,
    reference_background,
    reference_objects,
    reference_rims,
    union,
)

# the true confidence's helpers (inversa.burst.truth), under this script's old names
_positions, _at, _union = positions, at, union


def oracle(sb, move_objects: bool = True, margin: int = 0,
           flow_given: torch.Tensor | None = None, tol: float = 0.5,
           ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """True ``g`` (K, h, w) on the raw grids and displacement field (K, 2, sH, sW) of a
    synthetic burst ``sb`` (see the module docstring). With ``flow_given`` (an estimated
    displacement field), the true ``g`` *for it*: a sample counts where the reference
    point the field puts it on shows what the sample shows, to within ``tol`` pixels."""
    s = sb.scale
    hh, ww = sb.gt.shape[-2:]
    k = sb.motions.shape[0]
    objs = sb.objects
    # what the reference shows: object j fully (eroded), anything of an object (grown);
    # a later object on top hides an earlier one
    ref_full = reference_objects(sb, margin)
    ref_bg = reference_background(sb, margin)
    good = torch.zeros(k, hh, ww, dtype=torch.bool)
    flow = torch.zeros(k, 2, hh, ww, dtype=torch.float64)
    ys, xs = torch.meshgrid(torch.arange(hh, dtype=torch.float64),
                            torch.arange(ww, dtype=torch.float64), indexing="ij")
    for i in range(k):
        px, py = _positions(sb.motions[i], hh, ww)
        alphas = coverages(sb, i)
        frame_any = _union(alphas, px.float())
        # per object: where frame i shows it whole and on top, and the reference's point
        parts = [((alphas[j] >= 1) & (_union(alphas[j + 1:], px.float()) == 0),
                  xs - i * o.vx, ys - i * o.vy, ref_full[j]) for j, o in enumerate(objs)]
        if flow_given is not None:  # judge the given displacements
            sx, sy = px + flow_given[i, 0], py + flow_given[i, 1]
            ok = (frame_any == 0) & (_at(ref_bg.float(), sx, sy) > 0) \
                & (flow_given[i].norm(dim=0) < tol)
            for shows, rx, ry, full in parts:
                ok |= shows & (_at(full, sx, sy) > 0) \
                    & (((sx - rx) ** 2 + (sy - ry) ** 2).sqrt() < tol)
        else:
            ok = (frame_any == 0) & (_at(ref_bg.float(), px, py) > 0)
            for shows, rx, ry, full in parts if move_objects else []:
                sees = shows & (_at(full, rx, ry) > 0)
                ok |= sees
                flow[i, 0] = torch.where(sees, rx - px, flow[i, 0])
                flow[i, 1] = torch.where(sees, ry - py, flow[i, 1])
        good[i] = ok
    g = (-F.max_pool2d(-good[:, None].float(), s)[:, 0]) if s > 1 else good.float()
    g[0] = 1.0
    if flow_given is not None:
        return g, flow_given
    flow[0] = 0
    return g, (flow if move_objects and bool(flow.abs().sum() > 0) else None)


@contextlib.contextmanager
def given(g: torch.Tensor, flow: torch.Tensor | None):
    """Make the HDR reconstruction use this ``g`` and ``flow`` instead of estimating them.
    As in :func:`inversa.burst.hdr.trusted`, a clipped sample bounds the reference only
    where the camera motion puts it, so displaced samples bound nothing."""
    keep = hdr.trusted
    trust = g if flow is None else torch.where(
        hdr.displaced(flow, flow.shape[-1] // g.shape[-1]), torch.zeros_like(g), g)
    hdr.trusted = lambda *a, **kw: (g, trust, flow)
    try:
        yield
    finally:
        hdr.trusted = keep


def coverage(sb, g: torch.Tensor, flow: torch.Tensor | None) -> torch.Tensor:
    """``sum_k e_k m_k g_k`` on the reference grid, (sH, sW): every high-resolution pixel
    of every frame splatted (nearest) where the camera motion and ``flow`` put it."""
    s = sb.scale
    k, h, w = g.shape
    rel = hdr.relative_exposures(sb.burst).float()
    usable = ~saturation_masks(sb.burst.raw.float())
    wt = rel.reshape(-1, 1, 1) * usable.float() * g
    wt = F.interpolate(wt[:, None], scale_factor=s, mode="nearest")[:, 0] if s > 1 else wt
    hh, ww = h * s, w * s
    out = torch.zeros(hh * ww)
    for i in range(k):
        px, py = _positions(sb.motions[i], hh, ww)
        if flow is not None:
            px, py = px + flow[i, 0], py + flow[i, 1]
        ix, iy = px.round().long(), py.round().long()
        ok = (ix >= 0) & (ix < ww) & (iy >= 0) & (iy < hh)
        out.index_add_(0, (iy * ww + ix)[ok], wt[i][ok].float())
    return out.reshape(hh, ww)


def rim_share(sb, x_dyn: torch.Tensor, x_still: torch.Tensor) -> tuple[float, float]:
    """Of the oracle's excess squared mu-law error on the dynamic burst over the twin with
    the objects held still (moving regions, border excluded as in the scores), the share
    within one pixel of the reference objects' anti-aliased rims; and the rims' share of
    the regions' area."""
    hh, ww = sb.gt.shape[-2:]
    rim = reference_rims(sb, 1).any(0)
    m = torch.zeros(hh, ww, dtype=torch.bool)
    m[B:-B, B:-B] = sb.moving[B:-B, B:-B]
    pk = float(sb.gt.max())
    err = [((mu_law(x, pk) - mu_law(sb.gt, pk)) ** 2).mean(0) for x in (x_dyn, x_still)]
    excess = err[0] - err[1]
    total = float(excess[m].sum())
    return (float(excess[m & rim].sum()) / total if total > 0 else float("nan"),
            float((m & rim).sum()) / float(m.sum()))


def run(name: str, seed: int, scale: int, frames: int, out: dict, margin: int = 0,
        method: str = "map") -> None:
    dyn = hdr_burst(name, seed, scale, frames, 2)
    still = hdr_burst(name, seed, scale, frames, 2, True)
    static = hdr_burst(name, seed, scale, frames, 0)
    mask = dyn.moving
    # map: the analytic g, as in its output; learned: the shipped learned g
    cfg = (HDRConfig(method="map", scale=scale, g_model=None) if method == "map"
           else HDRConfig(method=method, scale=scale))
    row = {}
    xs = {}
    t0 = time.perf_counter()
    for label, sb, mv in (("oracle, dynamic", dyn, True),
                          ("oracle, dynamic, no object motion", dyn, False),
                          ("oracle, static twin", static, None),
                          ("oracle, objects held still", still, None)):
        if mv is None:
            g, flow = torch.ones_like(sb.burst.raw), None
        else:
            g, flow = oracle(sb, mv, margin)
        with given(g, flow):
            x = reconstruct_hdr(sb.burst, cfg, motions_hr=sb.motions).x[0]
        row[label] = scores(x, sb.gt, mask)
        xs[label] = x
        if label == "oracle, dynamic":
            cov_dyn = coverage(sb, g, flow)
        if label == "oracle, objects held still":
            cov_still = coverage(sb, g, flow)
    for label, sb in (("estimated, dynamic", dyn), ("estimated, objects held still", still)):
        row[label] = scores(reconstruct_hdr(sb.burst, cfg).x[0], sb.gt, mask)
    est = reconstruct_hdr(dyn.burst, cfg, motions_hr=dyn.motions)
    row["estimated, true camera motions"] = scores(est.x[0], dyn.gt, mask)
    if est.flow is not None:  # the estimated displacements, judged by the truth
        g, flow = oracle(dyn, flow_given=est.flow)
        with given(g, flow):
            x = reconstruct_hdr(dyn.burst, cfg, motions_hr=dyn.motions).x[0]
    row["true camera motions, estimated displacements, true g for them"] = \
        scores(x, dyn.gt, mask) if est.flow is not None else row["oracle, dynamic, no object motion"]
    m = mask & (cov_still > 0)
    ratio = float((cov_dyn[m] / cov_still[m]).mean())
    single = float((cov_dyn[m] <= 1.0 + 1e-6).float().mean())
    rim = rim_share(dyn, xs["oracle, dynamic"], xs["oracle, objects held still"])
    out.setdefault(scale, []).append((name, seed, frames, row, ratio, single, rim))
    print(f"done x{scale} {name} seed {seed} ({time.perf_counter() - t0:.0f} s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--margin", type=int, default=0)
    ap.add_argument("--method", choices=("map", "learned"), default="map")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out: dict = {}
    for scale in (2, 1):
        for name, seed, frames in held_out(args.seeds):
            run(name, seed, scale, frames, out, args.margin, args.method)
    for scale, runs in out.items():
        names = list(runs[0][3])
        rows = [[n, f"{np.mean([r[3][n][0] for r in runs]):.2f}",
                 f"{np.mean([r[3][n][1] for r in runs]):.2f}"] for n in names]
        print(f"\nx{scale}, moving regions ({len(runs)} bursts: "
              + ", ".join(f"{r[0]}/{r[1]}/{r[2]}f" for r in runs) + ")")
        print(markdown_table([f"{args.method}, given", "PSNR linear (dB)", "PSNR mu-law (dB)"],
                             rows))
        short = ("oracle, dynamic", "oracle, objects held still", "estimated, dynamic")
        print("per burst, mu-law: " + ", ".join(short) + "; coverage; share of the "
              "oracle's excess error (dynamic over held still) on the objects' rims "
              "(1 pixel either side) / the rims' share of the area")
        for r in runs:
            print(f"  {r[0]}/{r[1]}/{r[2]}f: " + " / ".join(f"{r[3][n][1]:.2f}" for n in short)
                  + f"; {r[4]:.2f}; {r[6][0]:.0%} / {r[6][1]:.0%}")
        print(f"coverage of the moving regions by trusted samples, dynamic / held still: "
              f"{np.mean([r[4] for r in runs]):.2f} (per burst "
              + ", ".join(f"{r[4]:.2f}" for r in runs) + "); share of the regions seen by "
              f"the reference exposure alone or less: {np.mean([r[5] for r in runs]):.1%}")


if __name__ == "__main__":
    main()
