"""PACO's mean without the candidate's own frames (``PacoConfig.exclude``): how far to
leave them out? Tuning cubes only (seeds 900+).

    cd benchmarks && for s in 900 901 902 903; do python tune_exo_exclude.py $s; done \
        | tee tune_exo_exclude.out.txt

The protocol of ``tune_exo_trend.py``: companions of contrast 3e-5 at 7 separations (2-8
lambda/D), 4 position angles, twice (8 per separation), injected into the companion-free
cube with its true angles; per separation and method, the null S/N's mean and spread over
the pixels of the ring (true angles, no companion, uncalibrated), and the companions'
"eff": their mean S/N gain over the null spread, with its ratio to PACO's in magnitudes.
PACO's mean at a location takes in part of a source that crosses it; ``exclude = e``
takes the mean without the frames whose trajectory point lies within ``e`` FWHM of the
location (``min_frames`` kept). The linear trend of tune_exo_trend is run beside them.
"""

from __future__ import annotations

import sys

import torch
from tune_exo_trend import run, trend_terms

from inversa.exo.paco import PacoConfig, _ab_terms, _Frames

EXCLUDES = (0.5, 1.0, 1.5)


def snr(fr: _Frames, angles, xs, ys, method: str) -> torch.Tensor:
    if method == "linear trend":
        a, b = trend_terms(fr, angles, xs, ys, 1)
    else:
        e = 0.0 if method == "PACO" else float(method.split()[-1])
        deg = 1 if method.startswith("line") else 0
        _, a, b, _ = _ab_terms(fr, angles, xs, ys, PacoConfig(exclude=e, exclude_degree=deg))
    return b.sum(1) / a.sum(1).sqrt()


def main() -> None:
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 900
    methods = ("PACO", *(f"exclude {e}" for e in EXCLUDES), "linear trend",
               *(f"line, exclude {e}" for e in EXCLUDES))
    run(seed, methods, snr, null_mean=False)


if __name__ == "__main__":
    main()
