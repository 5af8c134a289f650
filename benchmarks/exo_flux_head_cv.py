"""How big and how regularised the flux network should be: 4-fold cross-validation by
cube on its training cubes (seeds 20000-20099, the rows ``inversa exo train-flux`` keeps
in its work folder).

    cd benchmarks && python exo_flux_head_cv.py ../.cache/exo_flux/work | tee exo_flux_head_cv.out.txt

Each fold fits on three quarters of the cubes (cube index mod 4) and scores the rest,
before any conformal scaling: median relative flux error, share of ``|z| <= 1`` (nominal
68 %), spread of ``z``, and the Gaussian negative log-likelihood of the truth in units of
PACO's error (``z^2 / 2 + log(sigma / sigma_u)``; lower is better).
"""

from __future__ import annotations

import argparse
import glob
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from inversa.train.exo_flux import FluxTrainSpec, as_measures, fit_head, read_cube_rows, scores

VARIANTS = {
    "PACO unbiased (no network)": None,
    "hidden 32, weight decay 1e-4, 3000 steps": dict(hidden=32, weight_decay=1e-4, steps=3000),
    "hidden 16, weight decay 1e-2, 300 steps": dict(hidden=16, weight_decay=1e-2, steps=300),
    "hidden 8, weight decay 1e-2, 1000 steps (shipped)": dict(hidden=8, weight_decay=1e-2,
                                                              steps=1000),
    "hidden 8, weight decay 1e-1, 1000 steps": dict(hidden=8, weight_decay=1e-1, steps=1000),
    "hidden 4, weight decay 1e-2, 500 steps": dict(hidden=4, weight_decay=1e-2, steps=500),
}


def evaluate(head, part: list[dict]) -> tuple[float, ...]:
    ms = as_measures(part)
    truth = np.array([r["true"] for r in part])
    est = head.estimate(ms) if head is not None else [(m.flux, m.flux_err) for m in ms]
    s = scores(est, truth, np.array([m.flux_err for m in ms]))
    return s["median_rel_error"], s["coverage_68"], s["z_std"], s["nll"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = []
    for p in sorted(glob.glob(str(args.workdir / "cube_*.pt"))):
        rows += read_cube_rows(Path(p))[1]
    print(f"{len(rows)} measured companions of {len({r['cube'] for r in rows})} cubes\n")
    print("| variant | median relative error | 68 % coverage | z std | NLL |")
    print("|---|---|---|---|---|")
    for name, v in VARIANTS.items():
        folds = []
        for fold in range(4):
            test = [r for r in rows if r["cube"] % 4 == fold]
            fit = [r for r in rows if r["cube"] % 4 != fold]
            head = None if v is None else fit_head(fit, replace(FluxTrainSpec(out=None), **v))
            folds.append(evaluate(head, test))
        m = np.array(folds).mean(0)
        print(f"| {name} | {100 * m[0]:.2f} % | {100 * m[1]:.1f} % | {m[2]:.2f} | {m[3]:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
