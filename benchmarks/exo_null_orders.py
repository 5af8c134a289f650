"""Which angle orders make a faithful null for the deep detector? Tuning cubes (3000+).

    cd benchmarks && python exo_null_orders.py --cubes 10 | tee exo_null_orders.out.txt

The deep detector's scores are calibrated on copies of the cube processed with pseudo
parallactic angles under which no sky source adds up. On companion-free cubes (seeds
3000+, used by no held-out benchmark) the *true* angles are a null too, so the score
distribution under the true angles is the one the calibration must reproduce. For the
shipped generic model and each angle order (true; reversed; two random permutations;
mirrored ``theta_0 + theta_{T-1} - theta_t``), pooled over the cubes beyond 2 FWHM: the
number of pixels and the logits' 99 %, 99.9 % and 99.99 % quantiles and maximum. Then the
share of true-angle pixels whose calibrated S/N-equivalent is >= 3 and >= 4 when the
calibrator is fitted on the reversed + shuffled copies (the shipped default) or on
the reversed copy alone.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from scipy.stats import norm

from inversa.exo.deep.calibration import ScoreCalibrator
from inversa.exo.deep.detect import _logits
from inversa.exo.deep.features import features, frame_terms
from inversa.exo.deep.model import load_detector
from inversa.exo.geometry import polar_grid
from inversa.exo.paco import PacoConfig, annulus_scale
from inversa.exo.psf import fwhm as psf_fwhm
from inversa.exo.simulate import SimConfig, simulate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubes", type=int, default=10)
    ap.add_argument("--seed0", type=int, default=3000)
    ap.add_argument("--save", default="", help="write the logits and masks (.npz)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    model = load_detector("exo_deep")
    orders = ["true", "reversed", "shuffled 1", "shuffled 2", "mirrored"]
    pooled = {o: [] for o in orders}
    paco = {o: [] for o in orders}
    saved: dict[str, list[np.ndarray]] = {}
    cal_rates = {"deep, reversed + shuffled": [], "deep, reversed": [],
                 "PACO, robust std of reversed (shipped)": [], "PACO, reversed, tail model": []}
    for k in range(args.cubes):
        seed = args.seed0 + k
        sim = simulate(SimConfig(), [], seed=seed)
        a = sim.angles
        g = torch.Generator().manual_seed(seed)
        seqs = {"true": a, "reversed": a.flip(0),
                "shuffled 1": a[torch.randperm(len(a), generator=g)],
                "shuffled 2": a[torch.randperm(len(a), generator=g)],
                "mirrored": a[0] + a[-1] - a}
        f = psf_fwhm(sim.psf)
        sep, _ = polar_grid(sim.cube.shape[-2:])
        logits, snrs, valid = {}, {}, None
        for o, ang in seqs.items():
            terms = frame_terms(sim.cube, ang, sim.psf, PacoConfig(calibrate=False))
            snrs[o] = terms.snr()
            x = features(terms)
            logits[o] = _logits(model, x)
            valid = x[-1] > 0 if valid is None else valid & (x[-1] > 0)
        keep = valid & (sep >= 2 * f)
        for o in orders:
            saved.setdefault(f"logit {o}", []).append(logits[o].numpy())
        saved.setdefault("valid", []).append(valid.numpy())
        saved.setdefault("keep", []).append(keep.numpy())
        for o in orders:
            pooled[o].append(logits[o][keep].numpy())
            paco[o].append((snrs[o] / annulus_scale(snrs["reversed"], f))[keep].numpy())
        for name, nulls in (("deep, reversed + shuffled", ["reversed", "shuffled 1", "shuffled 2"]),
                            ("deep, reversed", ["reversed"])):
            cal = ScoreCalibrator.fit([logits[o] for o in nulls], valid)
            cal_rates[name].append(cal.snr(logits["true"])[keep].numpy())
        cal_rates["PACO, robust std of reversed (shipped)"].append(paco["true"][-1])
        cal = ScoreCalibrator.fit([snrs["reversed"]], valid)
        cal_rates["PACO, reversed, tail model"].append(cal.snr(snrs["true"])[keep].numpy())
        print(f"cube {k + 1}/{args.cubes} (seed {seed}): max logit "
              + ", ".join(f"{o} {float(logits[o][keep].max()):+.2f}" for o in orders), flush=True)

    if args.save:
        np.savez_compressed(args.save, **{k: np.stack(v) for k, v in saved.items()})
    print(f"\n{args.cubes} companion-free tuning cubes, logits of the generic model beyond 2 FWHM")
    print("| angles | pixels | q99 | q99.9 | q99.99 | max |")
    print("|---|---|---|---|---|---|")
    for o in orders:
        v = np.concatenate(pooled[o])
        q = np.quantile(v, [0.99, 0.999, 0.9999])
        print(f"| {o} | {len(v)} | {q[0]:+.2f} | {q[1]:+.2f} | {q[2]:+.2f} | {v.max():+.2f} |")
    print("\nPACO S/N (each order divided by the robust std of the reversed order's, per annulus)")
    print("| angles | std | q99.9 | q99.99 | share >= 4 | max |")
    print("|---|---|---|---|---|---|")
    for o in orders:
        v = np.concatenate(paco[o])
        q = np.quantile(v, [0.999, 0.9999])
        print(f"| {o} | {v.std():.3f} | {q[0]:.2f} | {q[1]:.2f} | {np.mean(v >= 4):.1e} | {v.max():.2f} |")
    print("\ntrue-angle pixels at or above a calibrated S/N-equivalent (Gaussian tail in brackets)")
    print(f"| calibrated on | >= 3 ({norm.sf(3):.1e}) | >= 4 ({norm.sf(4):.1e}) | >= 5 | max |")
    print("|---|---|---|---|---|")
    for name, r in cal_rates.items():
        v = np.concatenate(r)
        print(f"| {name} | {np.mean(v >= 3):.1e} | {np.mean(v >= 4):.1e} | {int((v >= 5).sum())} px "
              f"| {v.max():.2f} |")


if __name__ == "__main__":
    main()
