"""How HDRConfig.align_candidates was chosen: camera alignment of bracketed bursts whose
objects move on their own, on training images only (the held-out photos only with
``--held-out``, to report, not to choose).

Bursts as in ``bench_hdr.py`` (192x192 crops, exposures 1, 4, 1/4 repeated, highlights
at 4, one light; dynamic: two textured discs moving on their own, and their static
twins), aligned as ``inversa hdr`` does (``alignment_frames``, similarity model) with
1 (a single start, the previous behaviour) or more hypotheses per frame
(``AlignConfig.candidates``), and with more than one, ``--borrow`` rounds of the
second starts (``AlignConfig.borrow``: a coarse search and the other frames' motions; 0
is the aligner before them). Reported per scale and scene kind: the frames whose mean
endpoint error against the true camera motion exceeds 1 output pixel, the median error,
and the seconds per burst.

Run: python benchmarks/tune_hdr_alignment.py [--held-out] [--candidates 1,4] [--borrow 0,2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from bench_hdr import hdr_burst, held_out

from inversa.burst.align import AlignConfig, align_burst, endpoint_error
from inversa.burst.hdr import alignment_frames, relative_exposures

TRAIN = (("motorcycle_left", 5, 9), ("retina", 6, 14), ("immunohistochemistry", 7, 9),
         ("colorwheel", 8, 14), ("hubble_deep_field", 9, 9), ("motorcycle_right", 10, 14))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--held-out", action="store_true")
    ap.add_argument("--candidates", default="1,4")
    ap.add_argument("--borrow", default="0",
                    help="rounds of AlignConfig.borrow tried with more than one candidate")
    args = ap.parse_args()
    torch.set_num_threads(2)
    bursts = held_out(2) if args.held_out else TRAIN
    counts = [(int(v), b) for v in args.candidates.split(",")
              for b in ([int(b) for b in args.borrow.split(",")] if int(v) > 1 else [0])]
    print(("held-out" if args.held_out else "training") + " bursts: "
          + ", ".join(f"{n}/{s}/{f}f" for n, s, f in bursts))
    print("| scale | scene | candidates | borrow | frames | misaligned > 1 px "
          "| median error (px) | s / burst |")
    print("|---|---|---|---|---|---|---|---|")
    for scale in (2, 1):
        for moving in (2, 0):
            errs: dict = {n: [] for n in counts}
            secs: dict = {n: [] for n in counts}
            for name, seed, frames in bursts:
                sb = hdr_burst(name, seed, scale, frames, moving)
                raw = alignment_frames(sb.burst.raw.float(), relative_exposures(sb.burst))
                for n in counts:
                    t0 = time.perf_counter()
                    al = align_burst(raw, AlignConfig(candidates=n[0], borrow=n[1]))
                    secs[n].append(time.perf_counter() - t0)
                    errs[n].append(endpoint_error(al.to_hr(scale), sb.motions,
                                                  *sb.gt.shape[-2:])[1:])
            for n in counts:
                e = torch.cat(errs[n])
                per = ", ".join(f"{b[0]} {int((v > 1).sum())}" for b, v in zip(bursts, errs[n]))
                print(f"| x{scale} | {'dynamic' if moving else 'static'} | {n[0]} | {n[1]} "
                      f"| {len(e)} "
                      f"| {int((e > 1).sum())} ({per}) | {float(e.median()):.3f} "
                      f"| {np.mean(secs[n]):.2f} |", flush=True)


if __name__ == "__main__":
    main()
