"""Where the burst aligner fails: large raw shifts on low-texture, noisy crops (x2).

    cd benchmarks && python align_large_shifts.py | tee align_large_shifts.out.txt

Bursts as in bench_lkr.py (96x96 raw frames, 14 frames, DBSR motion up to 24 HR pixels,
Brooks noise) from the training photographs and the validation one (``rocket``), 3 per
photograph and scale; never the test photographs. At x2 the same HR motion is twice as
many raw pixels as at x4 (up to 12), beyond the Gauss-Newton basin, so the
phase-correlation start decides. Error: mean end-point error over the frame in raw pixels
(:func:`inversa.burst.align.endpoint_error` convention), frames 1..13; a frame counts as
misaligned beyond 1 raw pixel. Variants: the phase correlation with a Gaussian low-pass on
the whitened cross-power (``phase_correlation(..., lowpass=sigma)``, cycles per pixel),
and a lower pyramid floor (``AlignConfig.min_size``; at the default 64 a 96-pixel frame has a single level).
Diagnostic only: the shipped aligner is unchanged.
"""

from __future__ import annotations

import functools
import time
import warnings

import numpy as np
import torch
from bench_lkr import make_burst
from common import bundled

import inversa.burst.align as A
from inversa.burst.align import AlignConfig, align_burst
from inversa.camera.noise import random_noise_levels
from inversa.data.images import TRAIN_COLOR, VALIDATION

SHIPPED_PC = A.phase_correlation


def epe(a: torch.Tensor, b: torch.Tensor, s: int, h: int, w: int) -> float:
    """Mean end-point error (raw pixels) of two HR frame -> reference matrices."""
    ys, xs = torch.meshgrid(torch.arange(0, h * s, 4.0, dtype=torch.float64),
                            torch.arange(0, w * s, 4.0, dtype=torch.float64), indexing="ij")
    p = torch.stack([xs.flatten(), ys.flatten(), torch.ones(xs.numel(), dtype=torch.float64)])
    qa, qb = a @ p, b @ p
    return float((qa[:2] / qa[2] - qb[:2] / qb[2]).norm(dim=0).mean()) / s


def lowpass_pc(sigma: float):
    """The shipped phase correlation with its low-pass weighting on."""
    return functools.partial(SHIPPED_PC, lowpass=sigma)


def main() -> None:
    torch.set_num_threads(2)
    warnings.simplefilter("ignore")
    shipped_pc = SHIPPED_PC
    variants = {
        "shipped": (shipped_pc, AlignConfig()),
        "low-pass PC 0.15": (lowpass_pc(0.15), AlignConfig()),
        "min_size 24": (shipped_pc, AlignConfig(min_size=24)),
        "min_size 24, no PC": (shipped_pc, AlignConfig(min_size=24, phase_init=False)),
        "min_size 24, 2 candidates": (shipped_pc, AlignConfig(min_size=24, candidates=2)),
        "low-pass PC 0.15 + min_size 24": (lowpass_pc(0.15), AlignConfig(min_size=24)),
    }
    names = (*TRAIN_COLOR, VALIDATION)
    print("| scale | variant | frames > 1 px | median EPE | mean EPE of the rest | s / burst | "
          + " | ".join(n[:10] for n in names) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(names))
    for scale in (2, 4):
        data = []
        for name in names:
            src = bundled(name)
            for b in range(3):
                g = torch.Generator().manual_seed(6000 + 10 * scale + b)
                data.append((name, make_burst(src, g, seed=6000 + b,
                                              noise=random_noise_levels(g), scale=scale)))
        for label, (pc, cfg) in variants.items():
            A.phase_correlation = pc
            per: dict[str, list[float]] = {}
            t0 = time.perf_counter()
            for name, sb in data:
                _, h, w = sb.burst.raw.shape
                m = align_burst(sb.burst.raw, cfg).to_hr(scale).to(torch.float64)
                per.setdefault(name, []).extend(
                    epe(m[i], sb.motions[i].to(torch.float64), scale, h, w)
                    for i in range(1, len(m)))
            dt = (time.perf_counter() - t0) / len(data)
            e = np.concatenate([np.array(v) for v in per.values()])
            print(f"| x{scale} | {label} | {(e > 1).sum()} of {len(e)} | {np.median(e):.3f} | "
                  f"{e[e <= 1].mean():.3f} | {dt:.2f} | "
                  + " | ".join(str(int((np.array(v) > 1).sum())) for v in per.values()) + " |",
                  flush=True)
        A.phase_correlation = shipped_pc


if __name__ == "__main__":
    main()
