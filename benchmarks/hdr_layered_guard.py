"""Where ``inversa hdr --layers`` loses to the one-image reconstruction, do the data say
so? (HDR issue, diagnosis for a test before the layers are used.)

For each burst: mu-law PSNR in the moving regions of the learned one-image reconstruction
and of the layered one (as ``hdr_layered_estimate.py``), and two shares of the other
frames' samples (frames 1..K-1):
- one image: not trusted by its confidence ``g`` (``1 - mean g`` over the unsaturated
  samples);
- layered: distrusted by the layered solve's chi-square test (samples the layers do not
  explain; :attr:`inversa.burst.layered_hdr.LayeredResult.unexplained`).

The layered model is meant to explain the moving objects' samples that ``g`` gives up on,
so where it is right its share should be lower.

The layered column is blended with the one-image result as ``inversa hdr --layers`` does
(``LayersConfig.blend``); the committed outputs ran before the blend came in, as
``--no-blend`` does.

Run: cd benchmarks && python hdr_layered_guard.py --scale 1 --seeds 8 --from-seed 2
     [--only coffee/117,...] [--no-blend] [--base 200]
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_hdr import chosen, hdr_burst, scores
from common import markdown_table
from hdr_layered_estimate import find_objects

from inversa.burst.hdr import HDRConfig, reconstruct_hdr
from inversa.burst.layered_hdr import blended, layered_hdr
from inversa.burst.objects import LayersConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--from-seed", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated bursts (photo/seed), default all")
    ap.add_argument("--blend", action=argparse.BooleanOptionalAction,
                    default=LayersConfig().blend,
                    help="blend with the one-image result (LayersConfig.blend, inside; "
                         "the outputs before it came in ran without)")
    ap.add_argument("--base", type=int, default=100, help="first seed (bench_hdr.held_out)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = HDRConfig(method="learned", scale=args.scale)
    rows = []
    lcfg = LayersConfig(blend=args.blend)
    for name, seed, frames in chosen(args.seeds, args.from_seed, args.only, args.base):
        t0 = time.time()
        sb = hdr_burst(name, seed, args.scale, frames, 2)
        one = reconstruct_hdr(sb.burst, cfg)
        usable = ~one.saturated[1:]
        g_share = float(((1 - one.confidence[1:]) * usable).sum() / usable.sum())
        p_one = scores(one.x[0], sb.gt, sb.moving)[1]
        found = find_objects(sb, cfg, lcfg=lcfg)
        if found is None:
            row = [f"{name}/{seed}/{frames}f", f"{p_one:.2f}", "(none)", "", f"{g_share:.3f}", ""]
        else:
            lay = layered_hdr(*found, cfg, lcfg)
            p_lay = scores(blended(lay, one.x)[0], sb.gt, sb.moving)[1]
            row = [f"{name}/{seed}/{frames}f", f"{p_one:.2f}", f"{p_lay:.2f}",
                   f"{p_lay - p_one:+.2f}", f"{g_share:.3f}", f"{lay.unexplained:.3f}"]
        rows.append(row)
        print(" | ".join(row) + f" ({time.time() - t0:.0f} s)", flush=True)
    print(f"\nx{args.scale}, learned, moving regions (mu-law dB) and shares of the other "
          "frames' samples")
    print(markdown_table(["burst", "one image", "layered", "gain", "not trusted by g",
                          "unexplained by the layers"], rows))


if __name__ == "__main__":
    main()
