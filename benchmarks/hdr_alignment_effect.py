"""What the aligner's second starts (``AlignConfig.borrow``) change in the HDR
reconstruction of dynamic bursts (HDR issue, diagnosis).

``bench_hdr.py`` barely moves with them although they align every frame of its held-out
dynamic bursts (5 frames at x2 were off before). This script runs ``inversa hdr`` (the
given ``--method``) on those bursts with ``borrow`` 0 (the aligner before) and 2 (now)
and splits the squared mu-law error in the moving regions into the reference objects'
rims (within a pixel of their anti-aliased edge), their interiors and the background,
beside the frames whose camera motion changed (more than 1 output pixel) and their mean
confidence ``g`` before and after.

Run: cd benchmarks && python hdr_alignment_effect.py [--scales 2] [--method learned]
"""

from __future__ import annotations

import argparse

import torch
from bench_hdr import B, hdr_burst, held_out, scores

from inversa.burst.align import AlignConfig, align_burst, endpoint_error
from inversa.burst.hdr import HDRConfig, alignment_frames, mu_law, reconstruct_hdr
from inversa.burst.truth import coverages, reference_rims


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="2")
    ap.add_argument("--method", default="learned")
    args = ap.parse_args()
    torch.set_num_threads(2)
    print("| burst | borrow | frames moved (> 1 px) | their mean g | moving regions (dB) "
          "| rims MSE | interiors MSE | background MSE |")
    print("|---|---|---|---|---|---|---|---|")
    for scale in (int(v) for v in args.scales.split(",")):
        cfg = HDRConfig(method=args.method, scale=scale)
        for name, seed, frames in held_out(2):
            dyn = hdr_burst(name, seed, scale, frames, 2)
            raw = alignment_frames(dyn.burst.raw.float(), dyn.burst.relative_exposure().float())
            res = {}
            for b in (0, 2):  # the alignment inversa hdr computes, with borrow b
                al = align_burst(raw, AlignConfig(model=cfg.motion,
                                                  candidates=cfg.align_candidates, borrow=b))
                res[b] = reconstruct_hdr(dyn.burst, cfg, aligned=al)
            hh, ww = dyn.gt.shape[-2:]
            moved = endpoint_error(res[0].alignment.to_hr(scale), res[2].alignment.to_hr(scale),
                                   hh, ww) > 1
            pk = float(dyn.gt.max())
            m = torch.zeros_like(dyn.moving)
            m[B:-B, B:-B] = dyn.moving[B:-B, B:-B]
            inside = torch.stack(coverages(dyn, 0)).amax(0) > 0
            rim = reference_rims(dyn, 1).any(0)
            parts = (rim, inside & ~rim, ~inside & ~rim)
            for b, r in res.items():
                e = ((mu_law(r.x[0], pk) - mu_law(dyn.gt, pk)) ** 2).mean(0)
                g = r.confidence[moved].float().mean() if moved.any() else torch.tensor(float("nan"))
                print(f"| x{scale} {name}/{seed}/{frames}f | {b} | {moved.nonzero().flatten().tolist()} "
                      f"| {float(g):.2f} | {scores(r.x[0], dyn.gt, dyn.moving)[1]:.2f} | "
                      + " | ".join(f"{float(e[m & p].mean()):.2e}" for p in parts) + " |",
                      flush=True)


if __name__ == "__main__":
    main()
