"""Flux networks against PACO's unbiased estimate on saved measures of held-out companions.

    cd benchmarks && python exo_flux_saved.py ../tests/exo/data/exo_flux_fresh.json \
        exo_flux /tmp/flux3/exo_flux.pt

The measures are those ``exo_flux_head.py --save`` wrote (the shipped-weights test reads
the same file), so flux models can be compared in seconds without measuring again. Scores:
:func:`inversa.train.exo_flux.scores` (median relative error, share of the truth inside
the 68 % bars, z mean and spread, NLL in units of PACO's error).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from inversa.exo.deep.flux import load_flux_head
from inversa.train.exo_flux import as_measures, scores


def line(name: str, sc: dict) -> str:
    return (f"| {name} | {100 * sc['median_rel_error']:.2f} % | {100 * sc['coverage_68']:.1f} % "
            f"| {sc['z_mean']:+.2f} / {sc['z_std']:.2f} | {sc['nll']:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("measures", help="saved measures (.json)")
    ap.add_argument("models", nargs="+", help="flux networks: shipped names or .pt files")
    args = ap.parse_args()
    rows = json.loads(Path(args.measures).read_text())
    ms = as_measures(rows)
    truth = np.array([r["true"] for r in rows])
    ref = np.array([m.flux_err for m in ms])
    print(f"{len(ms)} companions from {args.measures}")
    print("| estimator | median relative error | 68 % coverage | z mean / std | NLL |")
    print("|---|---|---|---|---|")
    print(line("PACO unbiased", scores([(m.flux, m.flux_err) for m in ms], truth, ref)))
    for name in args.models:
        print(line(name, scores(load_flux_head(name).estimate(ms), truth, ref)))


if __name__ == "__main__":
    main()
