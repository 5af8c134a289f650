"""Where is a source the deep detector found? Its flux depends on the answer.

    cd benchmarks && python exo_deep_position.py --cubes 24 --seed0 900 | tee exo_deep_position.out.txt

On tuning cubes made like the benchmark's (bench_exo.held_out_cube: 4 companions each,
contrasts 1e-5 to 2e-4; seeds 900 and up, never the held-out 100-105 or 4000-4023), the
shipped generic model (``exo_deep``) detects companions; those above its threshold for
PACO's false-alarm count at 5 sigma (as in bench_exo_deep.py) are placed four ways:

* the network's peak: the largest pixel of its S/N map within one FWHM of the truth,
  parabola-refined (what ``inversa exo detect --method deep`` did before);
* PACO's peak: the largest pixel of PACO's S/N map within one FWHM of the network's
  peak, parabola-refined (what it does now; the flux network was trained at PACO's
  parabola-refined peaks, ``inversa.train.exo_flux``);
* PACO's maximum likelihood: the largest PACO S/N over sub-pixel positions
  (:func:`inversa.exo.paco.paco_at` on a 0.1 px grid +-0.6 px around PACO's peak pixel,
  then 0.025 px +-0.1 px);
* the truth (what no detector knows: the floor of the other three).

At each, the flux network (``exo_flux``, or ``--flux-model``) and PACO's unbiased estimate measure the flux:
median relative error, 68 % coverage (share with ``|f - f_true| <= sigma``), and the mean
and spread of ``z = (f - f_true) / sigma`` (0 and 1 if the bars are right).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_exo import held_out_cube, score_maps

from inversa.exo.candidates import located_peak
from inversa.exo.deep.detect import DeepConfig, fit_observation
from inversa.exo.deep.flux import load_flux_head, measure
from inversa.exo.paco import PacoConfig, paco_at, paco_map

PLACES = ("network's peak", "PACO's peak", "PACO's maximum likelihood", "truth")


def best_position(cube, angles, psf, x0: float, y0: float, half: float, step: float
                  ) -> tuple[float, float]:
    """The position of the largest PACO S/N on a grid ``x0 +- half``, ``y0 +- half``."""
    g = torch.arange(-half, half + 1e-9, step, dtype=torch.float64)
    gy, gx = torch.meshgrid(g, g, indexing="ij")
    xs, ys = (x0 + gx).reshape(-1), (y0 + gy).reshape(-1)
    s = torch.nan_to_num(paco_at(cube, angles, psf, xs, ys, PacoConfig(calibrate=False))[2],
                         nan=-1e9)
    i = int(torch.argmax(s))
    return float(xs[i]), float(ys[i])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubes", type=int, default=24)
    ap.add_argument("--seed0", type=int, default=900)
    ap.add_argument("--flux-model", default="exo_flux", help="shipped name or .pt")
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    head = load_flux_head(args.flux_model)
    plain = PacoConfig(calibrate=False)
    rows, neg = [], {"paco": [], "deep": []}
    t0 = time.perf_counter()
    for k in range(args.cubes):
        seed = args.seed0 + k
        _, comps, sim, truths, f = held_out_cube(seed, k, args.cubes)
        pm = paco_map(sim.cube, sim.angles, sim.psf)
        fit = fit_observation(sim.cube, sim.angles, sim.psf, DeepConfig(model="exo_deep",
                                                                        seed=seed))
        maps = {"paco": pm.snr.numpy(), "deep": fit.apply(sim.cube, sim.angles,
                                                          sim.psf).snr.numpy()}
        res = {m: {"pos": [], "neg": [], "bg": []} for m in maps}
        score_maps(maps, truths, f, res)
        for m in maps:
            neg[m] += res[m]["neg"]
        for (x, y), c, score in zip(truths, comps, res["deep"]["pos"], strict=True):
            at = located_peak(maps["deep"], x, y, f)
            if at is None:
                continue
            net = at[1]
            pa = located_peak(maps["paco"], *net, f)
            pac = pa[1] if pa is not None else net
            ml = best_position(sim.cube, sim.angles, sim.psf, float(pa[0][1]),
                               float(pa[0][0]), 0.6, 0.1) if pa is not None else net
            ml = best_position(sim.cube, sim.angles, sim.psf, *ml, 0.1, 0.025)
            row = {"true": c.flux, "score": float(score)}
            for name, (xs, ys) in zip(PLACES, (net, pac, ml, (x, y)), strict=True):
                ms = measure(sim.cube, sim.angles, sim.psf, xs, ys, plain,
                             float(pm.scale[round(ys), round(xs)]), f)
                row[name] = (float(np.hypot(xs - x, ys - y)), head.estimate([ms])[0],
                             (ms.flux, ms.flux_err))
            rows.append(row)
    negp = np.sort(np.asarray(neg["paco"])[np.isfinite(neg["paco"])])[::-1]
    negd = np.sort(np.asarray(neg["deep"])[np.isfinite(neg["deep"])])[::-1]
    fa = int((negp >= 5).sum())
    thr = negd[fa] if fa < len(negd) else -np.inf
    sel = [r for r in rows if r["score"] > thr]
    print(f"\n{args.cubes} cubes, {len(rows)} companions; {len(sel)} above the deep model's "
          f"threshold for PACO's false-alarm count ({fa}): S/N-equivalent > {thr:.2f} "
          f"({time.perf_counter() - t0:.0f} s)")
    print("| position | median / max error (px) | flux network: median error, 68 % "
          "coverage, z mean, z std | PACO's unbiased: the same |")
    print("|---|---|---|---|")
    truth = np.array([r["true"] for r in sel])
    for name in PLACES:
        err = np.array([r[name][0] for r in sel])
        cells = []
        for j in (1, 2):
            fl = np.array([r[name][j][0] for r in sel])
            sg = np.array([r[name][j][1] for r in sel])
            z = (fl - truth) / sg
            cells.append(f"{100 * np.median(np.abs(fl - truth) / truth):.1f} %, "
                         f"{100 * np.mean(np.abs(z) <= 1):.0f} %, {z.mean():+.2f}, "
                         f"{z.std():.2f}")
        print(f"| {name} | {np.median(err):.2f} / {err.max():.2f} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
