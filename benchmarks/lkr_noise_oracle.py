"""Does blind noise estimation cost the learned burst model anything? Validation only.

    cd benchmarks && python lkr_noise_oracle.py | tee lkr_noise_oracle.out.txt

The validation bursts of select_lkr.py (``rocket``, 4 per scale, 14 frames, random Brooks
noise) reconstructed by ``learned`` twice: blind (levels estimated from the reference
frame, as everywhere in the benchmarks) and given the true levels the synthesis used.
PSNR in linear camera RGB, 16-pixel border excluded (bench_lkr.score).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from bench_lkr import make_burst, score
from common import bundled

from inversa.burst.reconstruct import ReconConfig, reconstruct
from inversa.camera.noise import random_noise_levels
from inversa.camera.noise_estimate import estimate_noise_levels
from inversa.data.images import VALIDATION


def main() -> None:
    torch.set_num_threads(2)
    warnings.simplefilter("ignore")
    src = bundled(VALIDATION)
    print("| scale | true shot / read | estimated shot / read | blind (dB) | true levels (dB) |")
    print("|---|---|---|---|---|")
    for scale in (2, 4):
        res: dict[str, list[float]] = {"blind": [], "true": []}
        for b in range(4):
            g = torch.Generator().manual_seed(5000 + 10 * scale + b)
            sb = make_burst(src, g, seed=5000 + b, noise=random_noise_levels(g), scale=scale)
            est = estimate_noise_levels(sb.burst.raw[0])
            for label, lv in (("blind", None), ("true", sb.burst.noise)):
                x = reconstruct(sb.burst, ReconConfig(method="learned", scale=scale), noise=lv).x
                res[label].append(score(x, sb.gt)[0])
            n = sb.burst.noise
            print(f"| x{scale} | {n.shot:.2e} / {n.read:.2e} | {est.shot:.2e} / {est.read:.2e} | "
                  f"{res['blind'][-1]:.2f} | {res['true'][-1]:.2f} |", flush=True)
        print(f"| x{scale} mean | | | {np.mean(res['blind']):.2f} | {np.mean(res['true']):.2f} |")


if __name__ == "__main__":
    main()
