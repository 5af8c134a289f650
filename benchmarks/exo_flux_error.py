"""Are PACO's unbiased-flux error bars honest? Tuning cubes only (seeds 900+).

    cd benchmarks && python exo_flux_error.py --cubes 6 | tee exo_flux_error.out.txt

For every companion detected at S/N >= 5 (PACO map, parabola-refined peak), the unbiased
flux and two error bars, both times the annulus calibration factor: the estimator's
``1 / sqrt(a)`` at the root, and that divided by ``kappa``, the share of a residual
source the re-estimated statistics keep (inversa.exo.paco.unbiased_estimate). Prints
``z = (flux - true) / error`` and the share with ``|z| <= 1`` (nominal 68 %).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from bench_exo import held_out_cube, peak_near

from inversa.exo.candidates import refine
from inversa.exo.paco import PacoConfig, paco_map, unbiased_estimate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubes", type=int, default=6)
    ap.add_argument("--seed0", type=int, default=900)
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    rows = []
    print("| sep (px) | contrast | kappa | z with 1/sqrt(a) | z with 1/(kappa sqrt(a)) |")
    print("|---|---|---|---|---|")
    for k in range(args.cubes):
        _, comps, sim, truths, f = held_out_cube(args.seed0 + k, k, args.cubes)
        pm = paco_map(sim.cube, sim.angles, sim.psf)
        snr = pm.snr.numpy()
        for (x, y), c in zip(truths, comps, strict=True):
            pk = peak_near(snr, x, y, f)
            if pk is None or snr[pk] < 5:
                continue
            xs, ys = refine(pm.snr, *pk)
            u = unbiased_estimate(sim.cube, sim.angles, sim.psf, xs, ys,
                                  PacoConfig(calibrate=False))
            err = u.flux_err * float(pm.scale[round(ys), round(xs)])
            z = (u.flux - c.flux) / err
            rows.append((c.sep, u.kappa, z / u.kappa, z))
            print(f"| {c.sep:.1f} | {c.flux:.1e} | {u.kappa:.2f} | {z / u.kappa:+.2f} | {z:+.2f} |",
                  flush=True)
    r = np.array(rows)
    print(f"\n{len(r)} detected companions of {args.cubes} cubes (seeds {args.seed0}+)")
    for name, col in (("1/sqrt(a)", 2), ("1/(kappa sqrt(a))", 3)):
        z = r[:, col]
        print(f"error bar {name}: |z| <= 1 for {np.mean(np.abs(z) <= 1):.0%}, "
              f"std(z) {z.std():.2f}, mean(z) {z.mean():+.2f}")
    for lo, hi in ((0, 20), (20, 40), (40, 99)):
        sel = (r[:, 0] >= lo) & (r[:, 0] < hi)
        if sel.any():
            print(f"separation {lo}-{hi} px: kappa {r[sel, 1].mean():.2f} (n = {sel.sum()})")


if __name__ == "__main__":
    main()
