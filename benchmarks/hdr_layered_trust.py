"""The guard inside the layers' region (HDR issue, the moving-regions figure;
``LayersConfig.trust``, ``trust_smooth``).

``inversa hdr --layers`` blends the layered result with the one-image result where the
objects it found act (``hdr_layered_blend.py``). When the search misses an object that
overlaps a found one's region, that region takes part of the missed object with the found
one's motion, and the blend cannot hand it to the one-image result: on the fourth fresh
set at x1 this cost up to 3.46 dB (coffee/211; ``hdr_layered_segments.py``). The frames say
so: most of them disagree with the layer the reference shows there
(:func:`inversa.burst.layered_hdr.misfit`, the share of the other frames' samples whose
windowed chi-square is 3 or more, spread back onto the layers by the model's adjoint).
The guard (:func:`~inversa.burst.layered_hdr.trusted`) lowers the layered result's share
linearly from full to none where the misfit, smoothed by a Gaussian of ``s`` pixels, goes
from ``lo`` to ``hi``.

This script scores ``a w t x_layers + (1 - a w t) x_1`` (``w`` the region, ``t`` the guard,
``a`` the share inside) for a grid of ``(lo, hi, s)`` and ``a`` in 0.8 and 1, per burst, in
the moving regions (mu-law PSNR, learned), and prints each setting's mean and worst gain
over the one-image result, best first, and the per-burst gains of ``--show`` settings.

Each burst's one-image and layered results, region and misfit are cached in ``--cache``
(``photo_seed_xS.pt``, by ``hdr_layered_blend.results``), so that the table can be printed
again without the minute per burst; several ``--scales`` are pooled.

Run: cd benchmarks && python hdr_layered_trust.py --scales 1,2 --seeds 8 --base 200
     [--cache ../.cache/hdr_layered_trust] [--show "0.1-0.4 s2 a0.8"]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch
from bench_hdr import chosen, scores
from common import markdown_table
from hdr_layered_blend import results

from inversa.burst.layered_hdr import trusted

LOWS = (0.05, 0.1, 0.15, 0.2, 0.3)
WIDTHS = (0.2, 0.3, 0.4)
SMOOTH = (0, 1, 2, 3)
SHARES = (0.8, 1.0)


def settings() -> dict[str, tuple[tuple[float, float, float] | None, float]]:
    """The variants by name: ``(lo, hi, s)`` (None: no guard) and the share inside."""
    out: dict[str, tuple[tuple[float, float, float] | None, float]] = {
        f"no guard a{a:g}": (None, a) for a in SHARES}
    for lo, wd, s, a in itertools.product(LOWS, WIDTHS, SMOOTH, SHARES):
        out[f"{lo:g}-{lo + wd:g} s{s} a{a:g}"] = ((lo, lo + wd, s), a)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,2")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--from-seed", type=int, default=0)
    ap.add_argument("--base", type=int, default=200, help="first seed (bench_hdr.held_out)")
    ap.add_argument("--only", default="", help="comma-separated bursts (photo/seed)")
    ap.add_argument("--cache", default="../.cache/hdr_layered_trust")
    ap.add_argument("--top", type=int, default=20, help="settings printed, best mean first")
    ap.add_argument("--show", action="append", default=[],
                    help="a setting whose per-burst gains are printed (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    variants = settings()
    gains: dict[str, dict[str, float]] = {}  # burst -> setting -> gain
    for scale in (int(v) for v in args.scales.split(",")):
        for name, seed, frames in chosen(args.seeds, args.from_seed, args.only, args.base):
            t0 = time.time()
            r = results(name, seed, frames, scale, Path(args.cache))
            burst = f"{name}/{seed} x{scale}"
            if "lay" not in r:
                print(f"{burst}: no object found ({time.time() - t0:.0f} s)", flush=True)
                continue
            p_one = scores(r["one"][0], r["gt"], r["moving"])[1]
            g = {}
            for key, (t, a) in variants.items():
                w = a * r["region"].to(r["lay"])
                if t is not None:
                    w = w * trusted(r["misfit"], t[:2], t[2]).to(w)
                g[key] = scores((w * r["lay"] + (1 - w) * r["one"])[0], r["gt"], r["moving"])[1] \
                    - p_one
            gains[burst] = g
            print(f"{burst}: one image {p_one:.2f}, no guard {g['no guard a0.8']:+.2f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
    scales = sorted({b.split(" x")[1] for b in gains})

    def stats(key: str) -> list[str]:
        cells = []
        for s in scales:
            v = [g[key] for b, g in gains.items() if b.endswith(f" x{s}")]
            cells += [f"{np.mean(v):+.3f}", f"{np.min(v):+.2f}"]
        v = [g[key] for g in gains.values()]
        return [*cells, f"{np.mean(v):+.3f}", f"{np.min(v):+.2f}"]

    order = sorted(variants, key=lambda k: -np.mean([g[k] for g in gains.values()]))
    unguarded = [k for k in variants if k.startswith("no guard")]  # always shown, once
    keep = [k for k in order if k not in unguarded][:args.top] + unguarded
    heads = [c for s in scales for c in (f"x{s} mean", f"x{s} worst")] + ["all mean", "all worst"]
    print(f"\nlearned, moving regions, gain over the one-image result (mu-law dB) on the "
          f"{len(gains)} bursts where objects were found; best {args.top} by the mean over all")
    print(markdown_table(["setting (lo-hi s, a)", *heads], [[k, *stats(k)] for k in keep]))
    if args.show:
        show = ["no guard a0.8", *args.show]
        print(markdown_table(["burst", *show],
                             [[b, *(f"{g[k]:+.2f}" for k in show)] for b, g in gains.items()]))


if __name__ == "__main__":
    main()
