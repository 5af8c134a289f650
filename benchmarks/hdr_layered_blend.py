"""How much of the layered result to keep where the layers are used (HDR issue, the
moving-regions figure; ``LayersConfig.blend``, ``inside``).

``inversa hdr --layers`` keeps the layered result where the objects it found cover the
reference in some frame and the one-image result elsewhere
(:func:`inversa.burst.layered_hdr.layers_region`, weight ``w``). Inside, the two results
are two estimates of the same pixels from different models, whose errors need not
coincide: a layer that is wrong (objects with nearly equal velocities merged into one)
costs the layered result where the one image, with its confidence ``g``, is right, and
the other way round on the rims. This script scores ``a w x_layers + (1 - a w) x_1`` for
``a`` from 1 (the layered result alone inside) down to 0.5, per burst, in the moving
regions (mu-law PSNR, learned), and the layered result everywhere (no region).

Each burst's two results and weight are cached in ``--cache`` (``photo_seed_xS.pt``), so
that the table can be printed again without the minute per burst.

Run: cd benchmarks && python hdr_layered_blend.py --scale 2 --seeds 10 [--base 100]
     [--cache ../.cache/hdr_layered_blend]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from bench_hdr import chosen, hdr_burst, scores
from common import markdown_table
from hdr_layered_estimate import find_objects

from inversa.burst.hdr import HDRConfig, reconstruct_hdr
from inversa.burst.layered_hdr import layered_hdr
from inversa.burst.objects import LayersConfig

SHARES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def results(name: str, seed: int, frames: int, scale: int, cache: Path) -> dict:
    """The burst's one-image and layered learned results, the layers' region (full share
    inside, no guard) and misfit (``hdr_layered_trust.py``; not in caches filled before
    it came in), and the truth (cached)."""
    path = cache / f"{name}_{seed}_x{scale}.pt"
    if path.exists():
        return torch.load(path)
    cfg = HDRConfig(method="learned", scale=scale)
    sb = hdr_burst(name, seed, scale, frames, 2)
    out = {"one": reconstruct_hdr(sb.burst, cfg).x, "gt": sb.gt, "moving": sb.moving}
    got = find_objects(sb, cfg)
    if got is not None:  # the region's full weight: the shares are applied below
        lay = layered_hdr(*got, cfg, LayersConfig(inside=1.0))
        out.update(lay=lay.x, region=lay.region, misfit=lay.misfit)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--from-seed", type=int, default=0)
    ap.add_argument("--base", type=int, default=100, help="first seed (bench_hdr.held_out)")
    ap.add_argument("--only", default="", help="comma-separated bursts (photo/seed)")
    ap.add_argument("--cache", default="../.cache/hdr_layered_blend")
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows, gains = [], []
    for name, seed, frames in chosen(args.seeds, args.from_seed, args.only, args.base):
        t0 = time.time()
        r = results(name, seed, frames, args.scale, Path(args.cache))
        if "lay" not in r:
            print(f"{name}/{seed}/{frames}f: no object found ({time.time() - t0:.0f} s)",
                  flush=True)
            continue
        p_one = scores(r["one"][0], r["gt"], r["moving"])[1]
        g = [scores(r["lay"][0], r["gt"], r["moving"])[1] - p_one]
        for a in SHARES:
            w = a * r["region"].to(r["lay"])
            x = w * r["lay"] + (1 - w) * r["one"]
            g.append(scores(x[0], r["gt"], r["moving"])[1] - p_one)
        gains.append(g)
        rows.append([f"{name}/{seed}/{frames}f", f"{p_one:.2f}", *(f"{v:+.2f}" for v in g)])
        print(" | ".join(rows[-1]) + f" ({time.time() - t0:.0f} s)", flush=True)
    m = np.mean(gains, 0)
    rows.append(["mean", "", *(f"{v:+.2f}" for v in m)])
    rows.append(["worst", "", *(f"{v:+.2f}" for v in np.min(gains, 0))])
    print(f"\nx{args.scale}, learned, moving regions: mu-law PSNR of the one-image result "
          "(dB) and each variant's gain over it, on the bursts where objects were found")
    print(markdown_table(["burst", "one image", "layered everywhere",
                          *(f"a = {a:g}" for a in SHARES)], rows))


if __name__ == "__main__":
    main()
