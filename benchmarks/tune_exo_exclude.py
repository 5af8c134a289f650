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

import math
import sys
import time

import torch
from tune_exo_trend import SEPS, trend_terms

from inversa.exo.geometry import to_xy
from inversa.exo.inject import Companion, inject
from inversa.exo.paco import PacoConfig, _ab_terms, _Frames
from inversa.exo.simulate import SimConfig, simulate

CONTRAST = 3e-5
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
    torch.set_num_threads(2)
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 900
    t0 = time.time()
    sim = simulate(SimConfig(), seed=seed)
    cube, angles, psf = sim.cube, sim.angles, sim.psf
    shape = tuple(cube.shape[-2:])
    methods = ("PACO", *(f"exclude {e}" for e in EXCLUDES), "linear trend",
               *(f"line, exclude {e}" for e in EXCLUDES))
    plain = _Frames(cube, psf, 4.0, 11)
    sig = {m: {s: [] for s in SEPS} for m in methods}
    for pas in ((0, 90, 180, 270), (45, 135, 225, 315)):
        comps = [Companion(s, p + 7 * i, CONTRAST) for i, s in enumerate(SEPS) for p in pas]
        injected = _Frames(inject(cube, angles, psf, comps), psf, 4.0, 11)
        xs = torch.tensor([c.xy(shape)[0] for c in comps], dtype=torch.float64)
        ys = torch.tensor([c.xy(shape)[1] for c in comps], dtype=torch.float64)
        for m in methods:
            d = snr(injected, angles, xs, ys, m) - snr(plain, angles, xs, ys, m)
            for c, v in zip(comps, d.tolist(), strict=True):
                sig[m][c.sep].append(v)
    print(f"seed {seed} ({time.time() - t0:.0f} s), contrast {CONTRAST}")
    print("| sep (px) | " + " | ".join(f"{m}: null std, eff (mag)" for m in methods) + " |")
    print("|---|" + "---|" * len(methods))
    for sep in SEPS:
        th = torch.linspace(0, 360, int(2 * math.pi * sep), dtype=torch.float64)[:-1]
        nx, ny = to_xy(sep, th, shape)
        row, base = [], None
        for m in methods:
            null = snr(plain, angles, nx, ny, m)
            eff = sum(sig[m][sep]) / len(sig[m][sep]) / float(null.std())
            base = eff if base is None else base
            row.append(f"{float(null.std()):.2f}, {eff:5.2f} "
                       f"({2.5 * math.log10(max(eff, 1e-3) / base):+.2f})")
        print(f"| {sep} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
