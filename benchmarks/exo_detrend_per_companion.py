"""S/N of each real companion of the tuning cubes with PACO plain and detrended.

    cd benchmarks && python exo_detrend_per_companion.py --arc 0 900 901 902 \
        | tee exo_detrend_per_companion.out.txt

The cubes of bench_exo.py's kind (4 companions each) with tuning seeds (900+); S/N is the
calibrated map's maximum within one FWHM of the true position (bench_exo.peak_near), with
the shipped null tail; ``--arc 0`` detrends every candidate (before the 3-FWHM rule).
Also printed: the five highest candidate sites away from the companions (bench_exo.score).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_exo import held_out_cube, peak_near, score

from inversa.exo.paco import PacoConfig, paco_map


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("seeds", type=int, nargs="+")
    ap.add_argument("--arc", type=float, default=PacoConfig.detrend_arc)
    args = ap.parse_args()
    torch.set_num_threads(2)
    for seed in args.seeds:
        _, comps, sim, truths, f = held_out_cube(seed, 0, 1)
        maps = {d: paco_map(sim.cube, sim.angles, sim.psf,
                            PacoConfig(detrend=d, detrend_arc=args.arc)).snr.numpy()
                for d in (0, 1)}
        for c, (x, y) in zip(comps, truths, strict=True):
            vals = []
            for d in (0, 1):
                pk = peak_near(maps[d], x, y, f)
                vals.append(maps[d][pk] if pk is not None else float("nan"))
            print(f"  sep {c.sep:5.1f} flux {c.flux:.1e}: S/N {vals[0]:6.2f} -> {vals[1]:6.2f}")
        support = np.isfinite(maps[0]) & np.isfinite(maps[1])
        for d in (0, 1):
            _, neg = score(maps[d], truths, f, support)
            print(f"  detrend {d}: top candidate sites {np.round(np.sort(neg)[::-1][:5], 2)}")


if __name__ == "__main__":
    main()
