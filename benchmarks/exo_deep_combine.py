"""Does the deep detector add to PACO? Their S/N maps combined, on tuning cubes.

    cd benchmarks && python exo_deep_combine.py --cubes 24 --seed0 900 | tee exo_deep_combine.out.txt

On cubes made like the benchmark's (bench_exo.held_out_cube: 4 companions each, contrasts
1e-5 to 2e-4), but with tuning seeds (900 and up, never the held-out 100-105 or 4000-4023),
inversa PACO and the shipped generic deep model give their calibrated S/N before the
far-tail maps (``PacoConfig(null_tail=False)``, ``DeepConfig(null_tail=False)``). The
tail maps are monotone, so they change neither the AUC nor the true positives at a given
number of false alarms; PACO's false-alarm count at 5 sigma is taken with its map.

Combinations of the two maps ``p`` (PACO) and ``d`` (deep), pixel by pixel:
``(w p + (1 - w) d) / sqrt(w^2 + (1 - w)^2)`` (a weighted sum that keeps unit variance
for independent maps), ``min(p, d)`` (both must agree) and ``max(p, d)``. If the network
had learned something PACO misses, one of them would rank the companions above more
candidate sites than either map alone. Scores as bench_exo_deep.py: AUC over the
candidate sites, true positives at PACO's false-alarm count and at 2 and 5 more.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_exo import auc, held_out_cube, score_maps
from bench_exo_deep import tp_at_fa

from inversa.exo.deep.detect import DeepConfig, fit_observation
from inversa.exo.null_tail import load_tail
from inversa.exo.paco import PacoConfig, paco_map

WEIGHTS = (0.3, 0.5, 0.7)


def combinations(p: np.ndarray, d: np.ndarray) -> dict[str, np.ndarray]:
    out = {"inversa PACO": p, "deep (generic model)": d}
    for w in WEIGHTS:
        out[f"{w:.1f} PACO + {1 - w:.1f} deep"] = (w * p + (1 - w) * d) / np.hypot(w, 1 - w)
    out["min(PACO, deep)"] = np.minimum(p, d)
    out["max(PACO, deep)"] = np.maximum(p, d)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubes", type=int, default=24)
    ap.add_argument("--seed0", type=int, default=900)
    ap.add_argument("--model", default="exo_deep")
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    tail = load_tail("paco")
    res, fa_paco = None, 0
    for k in range(args.cubes):
        seed = args.seed0 + k
        _, _, sim, truths, f = held_out_cube(seed, k, args.cubes)
        p = paco_map(sim.cube, sim.angles, sim.psf, PacoConfig(null_tail=False)).snr
        fit = fit_observation(sim.cube, sim.angles, sim.psf,
                              DeepConfig(model=args.model, seed=seed, null_tail=False))
        d = fit.apply(sim.cube, sim.angles, sim.psf).snr
        maps = combinations(p.numpy(), d.numpy())
        maps["inversa PACO, with its tail map"] = tail(p).numpy()
        if res is None:
            res = {m: {"pos": [], "neg": [], "bg": []} for m in maps}
        score_maps(maps, truths, f, res)
    fa_paco = int((np.asarray(res["inversa PACO, with its tail map"]["neg"]) >= 5).sum())
    n_pos = len(res["inversa PACO"]["pos"])
    print(f"\n{args.cubes} cubes, {n_pos} companions; PACO's false alarms at 5 sigma: {fa_paco}")
    print(f"| map | AUC | TP at {fa_paco} FA | at {fa_paco + 2} | at {fa_paco + 5} | "
          "three highest candidate sites |")
    print("|---|---|---|---|---|---|")
    for m, r in res.items():
        if m == "inversa PACO, with its tail map":
            continue
        pos, neg = np.asarray(r["pos"]), np.asarray(r["neg"])
        top = np.sort(neg[np.isfinite(neg)])[-3:][::-1]
        print(f"| {m} | {auc(pos, neg):.3f} | {tp_at_fa(pos, neg, fa_paco)} | "
              f"{tp_at_fa(pos, neg, fa_paco + 2)} | {tp_at_fa(pos, neg, fa_paco + 5)} | "
              + ", ".join(f"{v:.2f}" for v in top) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
