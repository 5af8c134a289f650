"""Where the burst aligner fails: large raw shifts on low-texture, noisy crops (x2).

    cd benchmarks && python align_large_shifts.py | tee align_large_shifts.out.txt

Bursts as in bench_lkr.py (96x96 raw frames, 14 frames, DBSR motion up to 24 HR pixels,
Brooks noise) from the training photographs and the validation one (``rocket``), 3 per
photograph and scale; never the test photographs. At x2 the same HR motion is twice as
many raw pixels as at x4 (up to 12), beyond the Gauss-Newton basin, so the
phase-correlation start decides. Error: mean end-point error over the frame in raw pixels
(:func:`inversa.burst.align.endpoint_error`, as bench_align.py), frames 1..13; a frame counts as
misaligned beyond 1 raw pixel. Variants: the phase correlation with a Gaussian low-pass on
the whitened cross-power (``AlignConfig.phase_lowpass``, cycles per proxy pixel; 0.15 is
the default since this benchmark, 0 the behaviour before), and a lower pyramid floor
(``AlignConfig.min_size``; at the default 64 a 96-pixel frame has a single level).
Then the held-out bursts of bench_lkr.py, before and after, as a check only.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from bench_lkr import bursts, make_burst
from common import bundled

from inversa.burst.align import AlignConfig, align_burst, endpoint_error, hr_to_raw
from inversa.camera.noise import random_noise_levels
from inversa.data.images import TRAIN_COLOR, VALIDATION


def frame_errors(sb, config: AlignConfig) -> list[float]:
    """End-point errors (raw pixels) of frames 1.. of a synthetic burst, as bench_align.py."""
    _, h, w = sb.burst.raw.shape
    est = align_burst(sb.burst.raw, config).matrices
    return endpoint_error(est[1:], hr_to_raw(sb.motions, sb.scale)[1:], h, w).tolist()


def main() -> None:
    torch.set_num_threads(2)
    warnings.simplefilter("ignore")
    variants = {
        "no low-pass (before)": AlignConfig(phase_lowpass=0.0),
        "low-pass 0.15 (shipped)": AlignConfig(),
        "no low-pass, min_size 24": AlignConfig(phase_lowpass=0.0, min_size=24),
        "no low-pass, min_size 24, no PC": AlignConfig(phase_lowpass=0.0, min_size=24,
                                                       phase_init=False),
        "no low-pass, min_size 24, 2 candidates": AlignConfig(phase_lowpass=0.0, min_size=24,
                                                              candidates=2),
        "low-pass 0.15, min_size 24": AlignConfig(min_size=24),
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
        for label, cfg in variants.items():
            per: dict[str, list[float]] = {}
            t0 = time.perf_counter()
            for name, sb in data:
                per.setdefault(name, []).extend(frame_errors(sb, cfg))
            dt = (time.perf_counter() - t0) / len(data)
            e = np.concatenate([np.array(v) for v in per.values()])
            print(f"| x{scale} | {label} | {(e > 1).sum()} of {len(e)} | {np.median(e):.3f} | "
                  f"{e[e <= 1].mean():.3f} | {dt:.2f} | "
                  + " | ".join(str(int((np.array(v) > 1).sum())) for v in per.values()) + " |",
                  flush=True)


def held_out() -> None:
    """The shipped setting against the one before on bench_lkr.py's held-out bursts."""
    print("\nheld-out bursts of bench_lkr.py (astronaut, coffee, chelsea; 12 per scale)")
    print("| scale | variant | frames > 1 px | median EPE | mean EPE |")
    print("|---|---|---|---|---|")
    for scale, seed0 in ((2, 8000), (4, 7000)):
        for label, cfg in (("no low-pass (before)", AlignConfig(phase_lowpass=0.0)),
                           ("low-pass 0.15 (shipped)", AlignConfig())):
            e = np.array([v for _, sb in bursts(4, scale, seed0) for v in frame_errors(sb, cfg)])
            print(f"| x{scale} | {label} | {(e > 1).sum()} of {len(e)} | {np.median(e):.3f} | "
                  f"{e.mean():.3f} |", flush=True)


if __name__ == "__main__":
    main()
    held_out()
