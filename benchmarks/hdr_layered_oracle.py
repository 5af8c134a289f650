"""Would a layered model meet the moving-regions figure? An oracle (HDR issue, diagnosis).

``hdr_oracle.py`` gives ``map`` everything (true camera motions, object motions, ``g``)
and still finds the moving regions 2.1 dB short of the static scene at x1, most of it on
the objects' one-pixel anti-aliased rims: one radiance image warped per frame cannot show
the reference's blend of object and background, which no other frame sees. This script
gives ``map`` a layered scene instead: a background ``B`` that follows the camera and one
image ``O_j`` per object that follows the object, each with its true matte ``alpha_j``
(the reference's anti-aliased disc), composited in every frame as the simulator does,

.. math::  f_k = \\prod_j (1 - \\alpha_{jk}) \\, W_k B
           + \\sum_j \\alpha_{jk} \\prod_{i > j} (1 - \\alpha_{ik}) \\, T_{jk} O_j,

``W_k`` the camera warp, ``T_{jk}`` the object's translation (frame ``k`` shows the
reference's object point ``q - k v_j``) and ``alpha_{jk} = T_{jk} alpha_j``; then blur,
decimation and mosaic (:class:`~inversa.burst.layered.LayeredBurstOperator`). Every sample is
explained (uncovered background informs ``B`` where the reference hides it), so ``g = 1``
but for samples showing object parts outside the reference's field at frame 0, which no
layer pixel holds; the mattes are the frames' true coverages (``--mattes`` for others,
:func:`mattes_of`); the saturation masks, exposures, noise estimate, weights,
prior (colour TV, on each layer apart) and solver are ``map``'s. The output is the
reference's composite. Scored as in ``bench_hdr.py`` (mu-law PSNR in the moving regions)
beside ``hdr_oracle.py``'s one-image oracle and the two static twins (``map`` given the
true camera motions).

The layered problem has more unknowns, some seen by few samples, and converges slowly.
Every layer starts from the one-image oracle's merge (true ``g`` and object motions; the
merge of all samples, ghosts included, started it far off). ``--iterations`` and
``--cg-iter`` set the solver of every row: ``map``'s own 8 x 8 leaves the layered problem
short of its minimum, 48 x 32 (the default here) takes it further but costs the static
rows, which ``map``'s early stop regularises (``HDR_LAMBDA_FACTOR`` was chosen at 8 x 8);
``benchmarks/hdr_layered_oracle.out.txt`` has both.

``--method learned`` runs the learned reconstruction (``hdr_lkr``) in every row instead.
``--mattes`` with a ``-level`` suffix moves the mattes as level sets (signed distances
warped, then clipped to the ramp: :func:`inversa.burst.layered.level_coverages`); ``--fit
N`` adds, for those, a row where the signed distances are fitted to the data ``N`` times
(:func:`fit_levels`), each fit followed by a new solve.

Run: cd benchmarks && python hdr_layered_oracle.py [--scales 2,1] [--seeds 2]
     [--iterations 48 --cg-iter 32] [--method learned]
     [--mattes exact,warped,hard,grown,shrunk,level,hard-level,grown-level] [--fit 2]
     [--diagnose astronaut/101/14f,...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from bench_hdr import B, hdr_burst, held_out, scores
from common import markdown_table
from hdr_oracle import given, oracle
from scipy import ndimage

from inversa.burst.hdr import (
    HDRConfig,
    finish,
    mu_law,
    prepare_hdr,
    reconstruct_hdr,
)
from inversa.burst.layered import LayeredBurstOperator, level_set, outside_field, translations
from inversa.burst.layered_hdr import fit_levels, solve_layers
from inversa.burst.objects import LayersConfig
from inversa.burst.scene import _disc
from inversa.burst.truth import coverages, reference_rims

# Gaussian smoothing (pixels) of a segmentation's signed distance (levels_of), as the
# layered estimate smooths its own
SMOOTH = LayersConfig().smooth


def mattes_of(sb, matte: str = "exact") -> torch.Tensor:
    """(J, H, W) reference mattes of the objects of ``sb``: ``exact`` the simulator's
    anti-aliased discs (and the frames' true coverages, :func:`layered`); ``warped`` the
    same, but the frames' coverages warped from them as an estimate would be; ``hard``
    rounded to 0 or 1 (no sub-pixel edge); ``grown`` / ``shrunk`` with the edge half a
    pixel out / in (a matte estimated half a pixel off). All but ``exact`` are warped.
    A ``-level`` suffix (``level`` alone: the exact mattes) moves them as level sets
    instead (:func:`levels_of`)."""
    matte = {"level": "exact"}.get(matte, matte.removesuffix("-level"))
    hh, ww = sb.gt.shape[-2:]
    delta = {"exact": 0.0, "warped": 0.0, "hard": 0.0, "grown": 0.5, "shrunk": -0.5}[matte]
    out = [_disc(hh, ww, *o.centre(0), o.radius + delta).double() for o in sb.objects]
    if matte == "hard":
        out = [(a >= 0.5).double() for a in out]
    return torch.stack(out) if out else torch.zeros(0, hh, ww, dtype=torch.float64)


def levels_of(sb, matte: str) -> torch.Tensor | None:
    """The signed distances (J, H, W) whose ramps the frames' coverages are made of
    (:func:`inversa.burst.layered.level_coverages`) for the ``-level`` mattes, else None:
    ``level`` those of the exact mattes; ``hard-level`` and ``grown-level`` those of the
    hard and grown ones smoothed by a Gaussian of 1.5 pixels, as a pixel-wise segmentation
    of the objects would be before fitting (:func:`fit_levels`)."""
    if matte != "level" and not matte.endswith("-level"):
        return None
    out = [level_set(a) for a in mattes_of(sb, matte)]
    if matte != "level":
        out = [torch.from_numpy(ndimage.gaussian_filter(p.numpy(), SMOOTH)) for p in out]
    hh, ww = sb.gt.shape[-2:]
    return torch.stack(out) if out else torch.zeros(0, hh, ww, dtype=torch.float64)


def layered(sb, cfg: HDRConfig, matte: str = "exact", fit: int = 0) -> list[torch.Tensor]:
    """``map`` (``cfg``'s solver settings) on the layered model with everything true
    (module docstring), the mattes as :func:`mattes_of` makes them: [(3, H, W)]. With
    ``cfg.method == "learned"`` the learned reconstruction (``cfg.model``) instead, its
    stages on the layered model as they are (``LKRNet``'s ``operator``: no motion
    refinement, its prior on each layer apart). ``fit``: rounds of :func:`fit_levels`
    (``-level`` mattes), each followed by a new solve from the same start; one result
    before them and one after each."""
    s = sb.scale
    k = sb.motions.shape[0]
    ones = torch.ones_like(sb.burst.raw)
    trust = oracle(sb, move_objects=False)[0]  # clipped samples bound where they show bg
    with given(ones, None):
        inp = prepare_hdr(sb.burst, cfg, motions_hr=sb.motions)
    inp.trust = trust[:len(inp.y)] * (inp.valid > 0)
    velocities = torch.tensor([[-o.vx, -o.vy] for o in sb.objects], dtype=torch.float64)
    objs = [translations(k, v) for v in velocities]
    hh, ww = sb.gt.shape[-2:]
    mattes = mattes_of(sb, matte)
    true = torch.stack([torch.stack(coverages(sb, i)) for i in range(k)], 1).double() \
        if objs else torch.zeros(0, k, hh, ww, dtype=torch.float64)
    # every frame's true coverages (a bilinear warp of the reference's matte errs by up to
    # 0.25 on the simulator's one-pixel ramps), unless the mattes are off on purpose
    cover = true if objs and matte == "exact" else None
    levels = levels_of(sb, matte) if objs else None
    a = LayeredBurstOperator(inp.m_hr, objs, mattes, s, inp.cfa, coverages=cover) \
        if levels is None else LayeredBurstOperator.from_levels(inp.m_hr, objs, levels, s, inp.cfa)
    # samples showing object parts outside the reference's field at frame 0 (no layer
    # pixel holds them) are left out, as the one-image oracle leaves out what it cannot
    # predict
    bad = outside_field(objs, true, s)
    inp.valid = inp.valid * (~bad[:len(inp.y)]).to(inp.valid)
    # start every layer from the one-image oracle's merge (true g and object motions):
    # the merge of all samples, ghosts included, is a poor start for a slow problem
    g, flow = oracle(sb)
    with given(g, flow):
        start = prepare_hdr(sb.burst, cfg, motions_hr=sb.motions).x0
    z0 = start.repeat(1, a.layers, 1, 1)
    z = solve_layers(a, inp, z0, cfg)
    out = [finish(a.reference(z).float(), inp)[0]]
    for _ in range(fit if levels is not None else 0):
        levels, _ = fit_levels(inp, velocities, levels, z)
        a = LayeredBurstOperator.from_levels(inp.m_hr, objs, levels, s, inp.cfa)
        z = solve_layers(a, inp, z0, cfg)
        out.append(finish(a.reference(z).float(), inp)[0])
    return out


def diagnose(name: str, seed: int, frames: int, scale: int, cfg: HDRConfig) -> None:
    """Where the layered oracle's excess error (over ``map`` on the twin with the objects
    held still) lies on one burst: within a pixel of the reference objects' rims (split
    into the leading half, ahead of the object's motion, and the trailing half), on their
    interiors, on the background; squared mu-law errors over the moving regions."""
    dyn = hdr_burst(name, seed, scale, frames, 2)
    still = hdr_burst(name, seed, scale, frames, 2, True)
    with given(torch.ones_like(still.burst.raw), None):
        x_still = reconstruct_hdr(still.burst, cfg, motions_hr=still.motions).x[0]
    x_lay = layered(dyn, cfg)[0]
    hh, ww = dyn.gt.shape[-2:]
    yy, xx = torch.meshgrid(torch.arange(hh, dtype=torch.float64),
                            torch.arange(ww, dtype=torch.float64), indexing="ij")
    lead = torch.zeros(hh, ww, dtype=torch.bool)
    trail = torch.zeros_like(lead)
    inner = torch.zeros_like(lead)
    for o, a, near in zip(dyn.objects, coverages(dyn, 0), reference_rims(dyn, 1), strict=True):
        ahead = (xx - o.centre(0)[0]) * o.vx + (yy - o.centre(0)[1]) * o.vy > 0
        lead |= near & ahead
        trail |= near & ~ahead
        inner |= a >= 1
    inner &= ~(lead | trail)
    m = torch.zeros(hh, ww, dtype=torch.bool)
    m[B:-B, B:-B] = dyn.moving[B:-B, B:-B]
    pk = float(dyn.gt.max())
    err = {k: ((mu_law(x, pk) - mu_law(dyn.gt, pk)) ** 2).mean(0)
           for k, x in (("layered", x_lay), ("held still", x_still))}
    excess = err["layered"] - err["held still"]
    total = float(excess[m].sum())
    parts = (("leading rims", lead), ("trailing rims", trail), ("object interiors", inner),
             ("background", ~(lead | trail | inner)))
    print(f"{name}/{seed}/{frames}f x{scale}: layered oracle "
          f"{scores(x_lay, dyn.gt, dyn.moving)[1]:.2f}, held still "
          f"{scores(x_still, dyn.gt, dyn.moving)[1]:.2f} dB")
    for label, r in parts:
        print(f"  {label:<17} {float((m & r).sum()) / float(m.sum()):5.0%} of the area, "
              f"{float(excess[m & r].sum()) / total:5.0%} of the excess; mean squared error "
              f"{float(err['layered'][m & r].mean()):.2e} layered, "
              f"{float(err['held still'][m & r].mean()):.2e} held still")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="2,1")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--mattes", default="exact",
                    help="comma-separated matte variants for the layered rows: exact, warped, "
                         "hard, grown, shrunk (mattes_of); rows other than exact are labelled")
    ap.add_argument("--iterations", type=int, default=48,
                    help="HQS iterations of every row (map's default: 8)")
    ap.add_argument("--cg-iter", type=int, default=32,
                    help="conjugate-gradient steps per iteration (map's default: 8)")
    ap.add_argument("--fit", type=int, default=0,
                    help="rounds of matte fitting from the data (fit_levels) for the -level "
                         "mattes")
    ap.add_argument("--method", choices=("map", "learned"), default="map",
                    help="learned: the learned reconstruction (hdr_lkr) in every row, its own "
                         "stages (--iterations and --cg-iter do not apply)")
    ap.add_argument("--diagnose", default="",
                    help="NAME/SEED/FRAMES[,...]: only print where the layered oracle's "
                         "excess error lies on these bursts (diagnose)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.diagnose:
        for scale in (int(v) for v in args.scales.split(",")):
            cfg = HDRConfig(method="map", scale=scale, g_model=None,
                            iterations=args.iterations, cg_iter=args.cg_iter)
            for item in args.diagnose.split(","):
                name, seed, frames = item.split("/")
                diagnose(name, int(seed), int(frames.rstrip("f")), scale, cfg)
        return
    for scale in (int(v) for v in args.scales.split(",")):
        rows = []
        cfg = HDRConfig(method=args.method, scale=scale, g_model=None,
                        iterations=args.iterations, cg_iter=args.cg_iter)
        for name, seed, frames in held_out(args.seeds):
            t0 = time.time()
            dyn = hdr_burst(name, seed, scale, frames, 2)
            still = hdr_burst(name, seed, scale, frames, 2, True)
            static = hdr_burst(name, seed, scale, frames, 0)
            r = {}
            for m in args.mattes.split(","):
                label = "layered oracle, dynamic" if m == "exact" else f"layered, {m} mattes"
                xs = layered(dyn, cfg, m, args.fit if m.endswith("-level") else 0)
                r[label] = scores(xs[0], dyn.gt, dyn.moving)[1]
                if len(xs) > 1:  # the last round only
                    r[label + f", fitted {len(xs) - 1}x"] = scores(xs[-1], dyn.gt, dyn.moving)[1]
            g, flow = oracle(dyn)
            with given(g, flow):
                x = reconstruct_hdr(dyn.burst, cfg, motions_hr=dyn.motions).x[0]
            r["one-image oracle, dynamic"] = scores(x, dyn.gt, dyn.moving)[1]
            for label, sb in (("objects held still", still), ("static twin", static)):
                with given(torch.ones_like(sb.burst.raw), None):
                    x = reconstruct_hdr(sb.burst, cfg, motions_hr=sb.motions).x[0]
                r[label] = scores(x, sb.gt, dyn.moving)[1]
            rows.append((f"{name}/{seed}/{frames}f", r))
            print(f"{rows[-1][0]}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items())
                  + f" ({time.time() - t0:.0f} s)", flush=True)
        labels = list(rows[0][1])
        table = [[b, *(f"{r[k]:.2f}" for k in labels)] for b, r in rows]
        mean = {k: float(np.mean([r[k] for _, r in rows])) for k in labels}
        table.append(["mean", *(f"{mean[k]:.2f}" for k in labels)])
        solver = ("its own stages" if args.method == "learned" else
                  f"{args.iterations} iterations x {args.cg_iter} CG steps")
        print(f"\nx{scale}, {args.method} given everything ({solver}), mu-law PSNR (dB) in the "
              "moving regions")
        print(markdown_table(["burst", *labels], table))
        for k in labels[:-3]:  # the layered rows
            print(f"{k} vs objects held still: {mean[k] - mean['objects held still']:+.2f} "
                  f"dB; vs the static twin: {mean[k] - mean['static twin']:+.2f} dB")


if __name__ == "__main__":
    main()
