"""The layered HDR reconstruction with the layers estimated from the data (HDR issue,
the moving-regions figure), against the shipped one-image learned reconstruction.

``hdr_layered_oracle.py --method learned`` shows that the learned reconstruction on the
layered model (:class:`~inversa.burst.layered.LayeredBurstOperator`) meets the moving-regions
figure when it is given the objects' motions and a segmentation of them to the pixel. This
script estimates both from the burst and measures what is left. The steps live in the
package (their docstrings have the details):

1. camera motions, exposures, noise and the one-image start as ``inversa hdr`` (learned),
   the object motion with its constant-velocity trajectories on (``HDRInputs.paths``);
2. to 4a. objects (:func:`inversa.burst.objects.find_objects`): seeds from the frames'
   chosen translations, segmentation of the reference, pruning, velocities refitted on
   their regions (``--refine-v`` rounds);
4b. amodal mattes (:func:`inversa.burst.objects.amodal`; ``--no-amodal`` leaves them out);
5. and 6. the layered solve, the distrust of unexplained samples and the mattes' fits
   (:func:`inversa.burst.layered_hdr.layered_hdr`; ``--fits`` rounds).

Rows: the shipped learned reconstruction; the layered one with everything estimated; the
same with the true velocities put in for the estimated ones at step 2 (each estimated one
replaced by the nearest true one, and not refined at step 4a), so that the segmentation is
measured alone. Mu-law PSNR in the moving regions of ``bench_hdr.py``'s held-out bursts.

``--lr-v`` also fits the velocities at step 5 (``fit_levels``' Adam step for them).

``--normalise`` puts each frame's squared differences at step 4 in units of their median
(the frame's noise): a label's cost is a median over the frames where it is seen, and
those sets differ between labels while the exposures (and noise) differ up to 16 times
(tried at x2: +0.06 dB; not the default).

``--box 5`` widens step 4's window to 5 x 5 high-resolution pixels (at x2 about the 3 x 3
low-resolution pixels of x1; tried at x2: 32.26 -> 32.13, not kept).

``--unseen 0``: the segmentation's background cost infinite where fewer than two frames
show it, as before ``LayersConfig.unseen`` (now 3) came in; ``hdr_layered_estimate.out.txt``
ran so, and 3 gives the same figures but coffee/110 at x2 (31.70 -> 31.69).

``--fit-coarse 2`` / ``8``: step 5's corrections on a grid 2 or 8 times coarser than the
output instead of 4 (tried at x1: worse, not kept).

``--no-merge`` (or ``--max-ratio 1``): without the check after the velocity refit
(``LayersConfig.merge``, ``max_ratio``; the default since it was measured here: repeated
velocities merged, and no layers when an object's label is not clearly cheaper than the
others over its region).

``--method map``: every row with ``map`` (TV) instead of the learned reconstruction.

``--via-config``: the layered row through ``reconstruct_hdr(..., HDRConfig(layers=True))``,
the path of ``inversa hdr --layers``, with its time alone.

``--cost-seeds`` takes step 3's seeds from the velocities' segmentation costs instead of
the frames' chosen translations (tried on coffee/111 at x2, whose slow, dark object gets
no seed: no better, not kept).

``--relabel`` (segmenting again against the first solve's layers; tried at x1, -2.62 dB on
coffee/110, not kept) was removed when the steps moved into the package; its lines in
``hdr_layered_estimate_variants.out.txt`` come from this script at commit 2a6ef9e.

``--seeds 4 --from-seed 2 --twin``: six fresh bursts of the held-out photos (seeds 102,
103, 112, ...), never used to choose anything, with the shipped learned reconstruction of
their static twins (the figure's reference); ``--held-still`` adds the twin with the
same objects held still in the scene (``bench_hdr.py``'s other twin: the dynamic burst's
ground truth, every frame seeing the objects where the reference shows them).
``--seeds 6 --from-seed 4`` and ``--seeds 8 --from-seed 6``: two more fresh sets of six.
Seeds 102-129 were later used in diagnoses; ``--base 200`` (seeds ``200 + 10 i + s``)
draws bursts never run before.

Step 7 (``LayersConfig.blend``, the default since it came in): the layered result is kept
only where the objects found cover the reference in some frame, at a share of
``LayersConfig.inside`` with the one-image result's, and the one-image result elsewhere
(:func:`inversa.burst.layered_hdr.layers_region`); the "layered, estimated"
row is then the blend, and "layered alone" the same solve without it (the row as it was
before; ``--no-blend`` runs everything without it, as the outputs before it did).

Step 8 (``LayersConfig.trust``, the guard): inside that region the layered result's
share falls where the other frames disagree with the layer the reference shows
(:func:`inversa.burst.layered_hdr.misfit`, :func:`~inversa.burst.layered_hdr.trusted`);
the "blend, no guard" row is the same solve without it, and ``--no-guard`` runs
without it (the outputs before it came in).

Run: cd benchmarks && python hdr_layered_estimate.py [--scales 1] [--seeds 2] [--lr-v 0.01]
     [--seeds 4 --from-seed 2 --twin [--held-still]] [--method map] [--unseen 0]
     [--no-merge] [--max-ratio 1] [--via-config] [--fit-coarse 8]
     [--no-amodal] [--refine-v 0] [--fits 2] [--normalise] [--box 5] [--cost-seeds]
     [--estimated-only] [--only coffee/110,...] [--base 200] [--no-blend] [--no-guard]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from bench_hdr import chosen, hdr_burst, scores
from common import markdown_table

import inversa.burst.objects as objects
from inversa.burst.hdr import HDRConfig, prepare_hdr, reconstruct_hdr
from inversa.burst.layered_hdr import blended, layered_hdr
from inversa.burst.objects import LayersConfig, greys, seed_mask, segment


def cost_seeds(grey: torch.Tensor, m_hr: torch.Tensor, paths: torch.Tensor,
               ratio: float = 0.5, normalise: bool = False) -> list[torch.Tensor]:
    """Step 3, from the velocities' costs alone: one (sH, sW) bool seed per velocity, the
    reference pixels where its label is the cheapest (``segment``'s cost, every frame
    counted) and costs less than ``ratio`` times the background's; largest component,
    eroded by 3 pixels."""
    empty = [torch.zeros(grey.shape[1:], dtype=torch.bool) for _ in paths]
    _, costs = segment(grey, m_hr, list(paths), empty, iterations=0, normalise=normalise)
    best = costs.argmin(0)
    return [seed_mask((best == j + 1) & (costs[j + 1] < ratio * costs[0]))
            for j in range(len(paths))]


def find_objects(sb, cfg: HDRConfig, true_velocities: bool = False, by_cost: bool = False,
                 lcfg: LayersConfig = LayersConfig()) -> tuple[object, objects.Objects] | None:
    """Steps 1 to 4a (module docstring) on the burst ``sb``: the one-image preparation
    and the objects found, or None when none is. ``true_velocities``: each velocity found
    replaced by the nearest true one (in their order), not refined; ``by_cost``: seeds
    from :func:`cost_seeds`."""
    motion = dataclasses.replace(cfg.object_motion, trajectories=True)
    inp = prepare_hdr(sb.burst, dataclasses.replace(cfg, object_motion=motion))
    paths = inp.paths
    if inp.flow is None or paths is None or len(paths) == 0:
        return None
    if true_velocities:
        truth = torch.tensor([[-o.vx, -o.vy] for o in sb.objects], dtype=torch.float64)
        rank = [int((truth - v).norm(dim=1).argmin()) for v in paths]
        paths = truth[sorted(set(rank))]
        lcfg = dataclasses.replace(lcfg, refine=0)
    seeds = None
    if by_cost:
        grey = greys(inp.y, inp.gain, inp.cfa, inp.scale)
        seeds = cost_seeds(grey, inp.m_hr, paths, normalise=lcfg.normalise)
    found = objects.find_objects(inp, lcfg, paths, seeds)
    return None if found is None else (inp, found)


def layered_estimate(sb, cfg: HDRConfig, true_velocities: bool = False, by_cost: bool = False,
                     lcfg: LayersConfig = LayersConfig(), one: torch.Tensor | None = None,
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The layered learned reconstruction (3, sH, sW) with the layers estimated (module
    docstring; :func:`inversa.burst.layered_hdr.layered_hdr` on :func:`find_objects`'s
    objects), blended with the one-image result ``one`` (1, 3, sH, sW) as ``inversa hdr
    --layers`` does (``LayersConfig.blend``, ``inside``, ``trust``), the layered result
    alone, and the blend without the guard (``trust``); None when no object was found."""
    found = find_objects(sb, cfg, true_velocities, by_cost, lcfg)
    if found is None:
        return None
    lay = layered_hdr(*found, cfg, lcfg)
    if one is None:
        return lay.x[0], lay.x[0], lay.x[0]
    return (blended(lay, one)[0], lay.x[0],
            blended(dataclasses.replace(lay, guard=None), one)[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--from-seed", type=int, default=0,
                    help="leave out each photo's first bursts (2: fresh bursts, with --seeds 4)")
    ap.add_argument("--via-config", action="store_true",
                    help="the layered row through reconstruct_hdr(HDRConfig(layers=True)), "
                         "as inversa hdr --layers runs it, timed alone")
    ap.add_argument("--twin", action="store_true",
                    help="also the shipped learned reconstruction of the static twin")
    ap.add_argument("--lr-v", type=float, default=LayersConfig().lr_v,
                    help="fit the velocities with the mattes (Adam step, pixels per frame)")
    ap.add_argument("--no-amodal", action="store_true",
                    help="leave out step 4b (each object's mask stays its visible region)")
    ap.add_argument("--cost-seeds", action="store_true",
                    help="seeds from the velocities' costs (cost_seeds) instead of step 3")
    ap.add_argument("--refine-v", type=int, default=LayersConfig().refine,
                    help="rounds of step 4a (velocities refined on their regions, segmented again)")
    ap.add_argument("--fits", type=int, default=LayersConfig().fits, help="rounds of step 5")
    ap.add_argument("--max-ratio", type=float, default=LayersConfig().max_ratio,
                    help="with --merge: no layers when an object's label costs more than "
                         "this times the cheapest other one over its region")
    ap.add_argument("--merge", action=argparse.BooleanOptionalAction,
                    default=LayersConfig().merge,
                    help="after the refit: merge velocities that repeat each other, drop "
                         "emptied regions, check --max-ratio")
    ap.add_argument("--fit-coarse", type=int, default=LayersConfig().fit_coarse,
                    help="step 5's grid of corrections, times coarser than the output")
    ap.add_argument("--fit-steps", type=int, default=LayersConfig().fit_steps,
                    help="Adam steps of each fit at step 5")
    ap.add_argument("--normalise", action="store_true",
                    help="segment's per-frame residuals in units of the frame's median one")
    ap.add_argument("--box", type=int, default=LayersConfig().box,
                    help="segment's window at step 4 (pixels)")
    ap.add_argument("--unseen", type=float, default=LayersConfig().unseen,
                    help="segment's background cost where frames hardly show it, in units of "
                         "its median (0: infinite)")
    ap.add_argument("--method", default="learned", choices=("learned", "map"),
                    help="the reconstruction of every row (map: its one-image row is 'map, "
                         "one image')")
    ap.add_argument("--held-still", action="store_true",
                    help="with --twin: also the twin with the objects held still")
    ap.add_argument("--estimated-only", action="store_true", help="leave out the true-velocity row")
    ap.add_argument("--only", default="", help="comma-separated bursts (photo/seed), default all")
    ap.add_argument("--blend", action=argparse.BooleanOptionalAction,
                    default=LayersConfig().blend,
                    help="blend with the one-image result (LayersConfig.blend, inside)")
    ap.add_argument("--guard", action=argparse.BooleanOptionalAction,
                    default=LayersConfig().trust is not None,
                    help="the blend's guard (LayersConfig.trust); with it, a 'blend, no "
                         "guard' row from the same solve")
    ap.add_argument("--base", type=int, default=100,
                    help="first seed of the bursts (bench_hdr.held_out; 200: a set never run)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    lcfg = LayersConfig(lr_v=args.lr_v, amodal=not args.no_amodal, refine=args.refine_v,
                        fits=args.fits, normalise=args.normalise, box=args.box,
                        unseen=args.unseen, max_ratio=args.max_ratio, merge=args.merge,
                        fit_coarse=args.fit_coarse,
                        fit_steps=args.fit_steps, blend=args.blend,
                        **({} if args.guard else {"trust": None}))
    for scale in (int(v) for v in args.scales.split(",")):
        cfg = HDRConfig(method=args.method, scale=scale)
        one = "shipped learned" if args.method == "learned" else "map, one image"
        rows = []
        for name, seed, frames in chosen(args.seeds, args.from_seed, args.only, args.base):
            t0 = time.time()
            dyn = hdr_burst(name, seed, scale, frames, 2)
            x_one = reconstruct_hdr(dyn.burst, cfg).x
            r = {one: scores(x_one[0], dyn.gt, dyn.moving)[1]}
            for label, true_v in (("layered, estimated", False),
                                  ("layered, true velocities", True))[:1 if args.estimated_only else 2]:
                if args.via_config and not true_v:
                    t1 = time.time()
                    x = reconstruct_hdr(dyn.burst, dataclasses.replace(
                        cfg, layers=True, layer_config=lcfg)).x[0]
                    print(f"{name}/{seed}: inversa hdr --layers path, {time.time() - t1:.0f} s",
                          flush=True)
                else:
                    both = layered_estimate(dyn, cfg, true_v, args.cost_seeds, lcfg, x_one)
                    x = None if both is None else both[0]
                    if lcfg.blend and not true_v:  # and without the blend, the same solve
                        r["layered alone"] = r[one] if both is None else \
                            scores(both[1], dyn.gt, dyn.moving)[1]
                        if lcfg.trust is not None:  # and without the guard
                            r["blend, no guard"] = r[one] if both is None else \
                                scores(both[2], dyn.gt, dyn.moving)[1]
                r[label] = scores(x, dyn.gt, dyn.moving)[1] if x is not None else r[one]
            if args.twin:
                static = hdr_burst(name, seed, scale, frames, 0)
                r["static twin"] = scores(reconstruct_hdr(static.burst, cfg).x[0], static.gt,
                                          dyn.moving)[1]
            if args.twin and args.held_still:
                still = hdr_burst(name, seed, scale, frames, 2, True)
                r["objects held still"] = scores(reconstruct_hdr(still.burst, cfg).x[0],
                                                 still.gt, dyn.moving)[1]
            rows.append((f"{name}/{seed}/{frames}f", r))
            print(f"{rows[-1][0]}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items())
                  + f" ({time.time() - t0:.0f} s)", flush=True)
        labels = list(rows[0][1])
        table = [[b, *(f"{r[k]:.2f}" for k in labels)] for b, r in rows]
        table.append(["mean", *(f"{np.mean([r[k] for _, r in rows]):.2f}" for k in labels)])
        print(f"\nx{scale}, {args.method}, mu-law PSNR (dB) in the moving regions (a burst where no "
              "object is found keeps the shipped result)")
        print(markdown_table(["burst", *labels], table))
        if args.twin:
            mean = {k: float(np.mean([r[k] for _, r in rows])) for k in labels}
            twins = [k for k in ("static twin", "objects held still") if k in mean]
            for k in labels:
                if k not in twins:
                    print(f"{k} vs " + ", ".join(f"the {t}: {mean[k] - mean[t]:+.2f} dB"
                                                 for t in twins))


if __name__ == "__main__":
    main()
