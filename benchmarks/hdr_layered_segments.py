"""What the layered estimate finds on one burst, against the truth (HDR issue, diagnosis).

For each burst: the simulator's objects (velocity, radius, area of the disc at the
reference); the velocities that ``hdr_layered_estimate.find_objects`` keeps (steps 1 to 4a,
:func:`inversa.burst.objects.find_objects`) and, for each, the pixels of its region that
lie inside each true disc and outside all of them (background taken by an object) and its
cost ratio (``Objects.ratios``: its label's cost over the cheapest other label's, median
over its region) and the share of its region where its own cost is above ``--tail``
times its median there (pixels its velocity does not explain); and, for the true
velocities, each label's cost (``segment``'s, every frame counted) against the
background's, median inside each disc and in the background (leaving out pixels where
both are infinite): a ratio near 1 means that the frames do not tell the object from the
background there.

Run: cd benchmarks && python hdr_layered_segments.py --scale 2 --only coffee/111,astronaut/100
     [--true-velocities] [--refine-v 0] [--seeds 4 --from-seed 2] [--base 200] [--tail 10]
"""

from __future__ import annotations

import argparse

import torch
from bench_hdr import chosen, hdr_burst
from hdr_layered_estimate import find_objects
from hdr_layered_oracle import mattes_of

from inversa.burst.hdr import HDRConfig
from inversa.burst.objects import LayersConfig, segment


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated bursts (photo/seed), default all")
    ap.add_argument("--refine-v", type=int, default=LayersConfig().refine,
                    help="rounds of step 4a")
    ap.add_argument("--max-ratio", type=float, default=LayersConfig().max_ratio)
    ap.add_argument("--merge", action=argparse.BooleanOptionalAction,
                    default=LayersConfig().merge)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--from-seed", type=int, default=0,
                    help="leave out each photo's first bursts (2: fresh bursts, with --seeds 4)")
    ap.add_argument("--base", type=int, default=100, help="first seed (bench_hdr.held_out)")
    ap.add_argument("--tail", type=float, default=10.0,
                    help="a kept object's pixels above this times its median cost are counted")
    ap.add_argument("--unseen", type=float, default=LayersConfig().unseen,
                    help="segment's background cost where frames hardly show it (LayersConfig)")
    ap.add_argument("--true-velocities", action="store_true",
                    help="the true velocities put in for the estimated ones (as the script's row)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = HDRConfig(method="learned", scale=args.scale)
    for name, seed, frames in chosen(args.seeds, args.from_seed, args.only, args.base):
        sb = hdr_burst(name, seed, args.scale, frames, 2)
        discs = mattes_of(sb, "hard") > 0.5
        bg = ~discs.any(0)
        truth = torch.tensor([[-o.vx, -o.vy] for o in sb.objects], dtype=torch.float64)
        print(f"{name}/{seed}/{frames}f x{args.scale}")
        for n, (o, d) in enumerate(zip(sb.objects, discs, strict=True)):
            print(f"  true object {n}: velocity ({truth[n, 0]:.2f}, {truth[n, 1]:.2f}) px/frame, "
                  f"radius {o.radius:.1f}, {int(d.sum())} px")
        found = find_objects(sb, cfg, args.true_velocities,
                             lcfg=LayersConfig(refine=args.refine_v, unseen=args.unseen,
                                               max_ratio=args.max_ratio, merge=args.merge))
        if found is None:
            print("  no object found")
            continue
        inp, found = found
        # each kept object's own cost under the final label map: the share of its region
        # where it is above ``tail`` times its median there (pixels its velocity does not
        # explain, such as a missed object's that the region took in)
        vs = [found.paths[j] for j in found.keep]
        _, own = segment(found.grey, inp.m_hr, vs, found.masks, iterations=0,
                         unseen=args.unseen)
        for label, (j, m, c) in enumerate(zip(found.keep, found.masks, found.ratios,
                                              strict=True), 1):
            v = found.paths[j]
            inside = ", ".join(f"{int((m & d).sum())} in object {n}" for n, d in enumerate(discs))
            cost = own[label][m]
            tail = float((cost > args.tail * cost.median()).double().mean())
            print(f"  kept velocity ({v[0]:.2f}, {v[1]:.2f}): {int(m.sum())} px; {inside}, "
                  f"{int((m & bg).sum())} in the background; cost ratio {c:.2f}; "
                  f"share of the region above {args.tail:g} x its median cost {tail:.3f}")
        empty = [torch.zeros(found.grey.shape[1:], dtype=torch.bool) for _ in truth]
        _, costs = segment(found.grey, inp.m_hr, list(truth), empty, iterations=0)
        for n in range(len(truth)):
            ratio = costs[n + 1] / costs[0]
            inside = ", ".join(f"{float(ratio[d].nanmedian()):.2f} in object {i}"
                               for i, d in enumerate(discs))
            print(f"  true velocity {n}: label cost / background cost, median {inside}, "
                  f"{float(ratio[bg].nanmedian()):.2f} in the background")


if __name__ == "__main__":
    main()
