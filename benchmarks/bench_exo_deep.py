"""The deep detector against PACO, PCA and vip-hci's FastPACO on held-out simulated cubes.

    python benchmarks/bench_exo_deep.py --cubes 6 --seed0 100 | tee benchmarks/bench_exo_deep.out.txt

Cubes: those of bench_exo.py (48 frames x 128 x 128, 4 companions each, contrasts
log-uniform in [1e-5, 2e-4], seeds 100-105, companions from seeds 1100-1105), never used
in training (generic model: seeds 10000+) or tuning (seeds 900+).

* deep (per observation): trained on the cube itself (shuffled angles, injections), started
  from the shipped generic model; deep (generic): the shipped model as is. Both calibrated
  on the cube's reversed/shuffled-angle copies.
* Scores pooled over the cubes (bench_exo.score): positives = max S/N within one FWHM of a
  true companion; negatives = local maxima one FWHM apart, beyond 2 FWHM of the star and
  of every companion, where every method has a value.
* AUC: Mann-Whitney (TPR against false-positive rate); AUC-FDR: area under TPR against
  the false discovery rate FA / (FA + TP), thresholds swept over all scores.
* TP at PACO's false alarms: the threshold of each method set to give as many false alarms
  as PACO at S/N 5, true positives there (per 100 companions).
* Flux: companions detected at S/N >= 5; unbiased flux (PACO's estimator, re-estimated
  without the source) and its error bar, scaled per annulus; the deep rows take the flux
  network's correction of them (``exo_flux``, ``--flux-model ''`` for PACO's), as
  ``inversa exo detect --method deep`` does; coverage = fraction with
  |flux - true| <= error (nominal 68 %).
* Calibration: fraction of pixels (beyond 2 FWHM of the star, 3 FWHM of the companions)
  at or above 3 and 4 against the Gaussian tail (1.35e-3, 3.2e-5).
* Contrast (``--campaign``): injection-recovery on every cube with shuffled angles (the
  real companions no longer add up); 7 separations 8..32 px (2..8 lambda/D at 4 px per
  lambda/D), 7 contrasts 2e-6..1e-4, ``--repeats`` position-angle sets; the contrast at
  which half of the injections reach S/N 5, per separation, and the gain in magnitudes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_exo import auc, held_out_cube, peak_near, score_maps

from inversa.exo.baselines import pca_adi
from inversa.exo.candidates import located_peak
from inversa.exo.deep.detect import DeepConfig, fit_observation
from inversa.exo.deep.flux import DEFAULT_FLUX_MODEL, has_flux_head, load_flux_head, measure
from inversa.exo.deep.model import has_detector
from inversa.exo.inject import Companion, inject
from inversa.exo.paco import COVARIANCES, PacoConfig, paco_map, unbiased_flux
from inversa.exo.simulate import simulate
from inversa.exo.snrmap import snr_map

ROOT = Path(__file__).resolve().parents[1]
SEPS = (8.0, 12.0, 16.0, 20.0, 24.0, 28.0, 32.0)
CONTRASTS = (2e-6, 4e-6, 8e-6, 1.5e-5, 3e-5, 6e-5, 1e-4)


def auc_fdr(pos, neg) -> float:
    """Area under TPR(FDR) over all thresholds (FDR from 0 to its maximum, then flat)."""
    pos = np.where(np.isfinite(pos), pos, -1e9)
    neg = np.asarray(neg)[np.isfinite(neg)]
    thr = np.unique(np.concatenate([pos, neg]))[::-1]
    tp = np.array([(pos >= t).sum() for t in thr], float)
    fa = np.array([(neg >= t).sum() for t in thr], float)
    fdr = fa / np.maximum(tp + fa, 1)
    tpr = tp / len(pos)
    # TPR reachable at FDR <= q, for q on a grid: the best operating point
    grid = np.linspace(0, 1, 201)
    best = np.array([tpr[fdr <= q].max() if (fdr <= q).any() else 0.0 for q in grid])
    return float(np.trapezoid(best, grid))


def tp_at_fa(pos, neg, fa_count: int) -> int:
    """True positives at the lowest threshold giving at most ``fa_count`` false alarms."""
    neg = np.sort(np.asarray(neg)[np.isfinite(neg)])[::-1]
    thr = neg[fa_count] if fa_count < len(neg) else -np.inf
    return int((np.asarray(pos) > thr).sum())


def fluxes(snr, cube, angles, psf, scale, truths, comps, f, paco_cfg, head=None,
           min_snr: float = 5.0, position_map=None):
    """(true, flux, error, peak S/N, position error) of the companions found at
    ``min_snr``: PACO's unbiased flux, or the flux network ``head``'s estimate from the
    same measure (deep rows, as ``inversa exo detect --method deep`` does: measured at
    the peak of ``position_map``, PACO's S/N, within one FWHM of the detection)."""
    out = []
    for (x, y), c in zip(truths, comps, strict=True):
        at = located_peak(snr, x, y, f)
        if at is None or not snr[at[0]] >= min_snr:
            continue
        pk, (xs, ys) = at
        where = located_peak(position_map, xs, ys, f) if position_map is not None else None
        if where is not None:
            xs, ys = where[1]
        sc = float(scale[round(ys), round(xs)])
        if head is not None:
            fl, err = head.estimate([measure(cube, angles, psf, xs, ys, paco_cfg, sc, f)])[0]
        else:
            fl, err, _, _ = unbiased_flux(cube, angles, psf, xs, ys, paco_cfg)
            err *= sc
        out.append((c.flux, fl, err, float(snr[pk]), math.hypot(xs - x, ys - y)))
    return out


def flux_summary(rows) -> tuple[float, float, int]:
    """Median relative error, share with ``|flux - true| <= error``, count, of
    ``(true, flux, error, ...)`` rows."""
    fl = np.array(rows)
    rel = np.abs(fl[:, 1] - fl[:, 0]) / fl[:, 0]
    return float(np.median(rel)), float(np.mean(np.abs(fl[:, 1] - fl[:, 0]) <= fl[:, 2])), \
        len(fl)


def contrast_at_half(rates: dict, seps, contrasts) -> list[float]:
    out = []
    lc = np.log10(contrasts)
    for s in seps:
        r = np.array([np.mean(rates[(s, c)]) for c in contrasts])
        val = math.nan
        for i in range(len(r)):
            if r[i] >= 0.5:
                if i == 0:
                    val = contrasts[0]
                else:
                    t = (0.5 - r[i - 1]) / max(r[i] - r[i - 1], 1e-12)
                    val = 10 ** (lc[i - 1] + t * (lc[i] - lc[i - 1]))
                break
        out.append(val)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubes", type=int, default=6)
    ap.add_argument("--seed0", type=int, default=100)
    ap.add_argument("--no-vip", action="store_true")
    ap.add_argument("--campaign", action="store_true")
    ap.add_argument("--skip-per-observation", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--campaign-angles", choices=("shuffled", "true"), default="shuffled",
                    help="shuffled: inject into the cube with its angles shuffled; true: "
                         "into its companion-free twin with the true angles")
    ap.add_argument("--figure", default=str(ROOT / "docs/figures"), help="'' writes none")
    ap.add_argument("--model", default="exo_deep", help="generic model: shipped name or .pt")
    ap.add_argument("--no-tail", action="store_true", help="without the shipped null tail")
    ap.add_argument("--deep-peak-position", action="store_true",
                    help="measure the deep rows' flux at the network's peak (before "
                         "candidates were placed at PACO's peak)")
    ap.add_argument("--flux-model", default=DEFAULT_FLUX_MODEL,
                    help="deep rows' flux network ('' for PACO's unbiased flux)")
    ap.add_argument("--paco-detrend", type=int, default=0,
                    help="also run PACO with each pixel's trend of this degree removed")
    ap.add_argument("--paco-detrend-arc", type=float, default=PacoConfig.detrend_arc,
                    help="... beyond the separation where trajectories span this many FWHM")
    ap.add_argument("--paco-covariance", choices=COVARIANCES, default="linear",
                    help="also run PACO with this covariance estimate (inversa.exo.covariance)")
    args = ap.parse_args()
    flux_head = load_flux_head(args.flux_model) \
        if args.flux_model and has_flux_head(args.flux_model) else None
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    vip = None
    if not args.no_vip:
        import vip_hci as vip
        from vip_hci.invprob.paco import FastPACO
    methods = ["inversa PACO", "inversa PCA (5)"]
    variants = {}  # PACO with other settings: name -> config
    if args.paco_detrend:
        variants[f"inversa PACO (detrend {args.paco_detrend})"] = PacoConfig(
            detrend=args.paco_detrend, detrend_arc=args.paco_detrend_arc)
    if args.paco_covariance != "linear":
        variants[f"inversa PACO ({args.paco_covariance} shrinkage)"] = PacoConfig(
            covariance=args.paco_covariance)
    methods += list(variants)
    if not args.skip_per_observation:
        methods.append("deep (per observation)")
    if has_detector(args.model):
        methods.append("deep (generic model)")
    if vip is not None:
        methods.append("VIP FastPACO")
    res = {m: {"pos": [], "neg": [], "time": [], "flux": [], "flux_all": [], "bg": []}
           for m in methods}
    deep_main = "deep (per observation)" if "deep (per observation)" in methods else \
        "deep (generic model)"
    rates = {m: {} for m in ("inversa PACO", deep_main, *variants) if m in methods}
    train_info = []
    example = {}
    for k in range(args.cubes):
        seed = args.seed0 + k
        _, comps, sim, truths, f = held_out_cube(seed, k, args.cubes)
        maps, fitted = {}, {}

        t0 = time.perf_counter()
        pm = plain = paco_map(sim.cube, sim.angles, sim.psf)
        res["inversa PACO"]["time"].append(time.perf_counter() - t0)
        maps["inversa PACO"] = pm.snr.numpy()
        res["inversa PACO"]["flux"] += fluxes(maps["inversa PACO"], sim.cube, sim.angles,
                                              sim.psf, pm.scale, truths, comps, f,
                                              PacoConfig(calibrate=False))
        for name, cfg in variants.items():
            t0 = time.perf_counter()
            pm = paco_map(sim.cube, sim.angles, sim.psf, cfg)
            res[name]["time"].append(time.perf_counter() - t0)
            maps[name] = pm.snr.numpy()
            res[name]["flux"] += fluxes(maps[name], sim.cube, sim.angles, sim.psf, pm.scale,
                                        truths, comps, f, replace(cfg, calibrate=False))
        t0 = time.perf_counter()
        maps["inversa PCA (5)"] = snr_map(pca_adi(sim.cube, sim.angles, 5, mask_radius=f),
                                          f).numpy()
        res["inversa PCA (5)"]["time"].append(time.perf_counter() - t0)
        for m, conf in (("deep (per observation)", DeepConfig(seed=seed)),
                        ("deep (generic model)", DeepConfig(model=args.model, seed=seed,
                                                            null_tail=not args.no_tail))):
            if m not in res:
                continue
            t0 = time.perf_counter()
            fit = fit_observation(sim.cube, sim.angles, sim.psf, conf)
            dm = fit.apply(sim.cube, sim.angles, sim.psf)
            res[m]["time"].append(time.perf_counter() - t0)
            maps[m] = dm.snr.numpy()
            fitted[m] = fit
            where = None if args.deep_peak_position else dm.paco_snr.numpy()
            if flux_head is not None:  # it reads PACO's plain statistics and scale
                found = fluxes(maps[m], sim.cube, sim.angles, sim.psf, plain.scale, truths,
                               comps, f, PacoConfig(calibrate=False), flux_head, -math.inf,
                               where)
            else:
                found = fluxes(maps[m], sim.cube, sim.angles, sim.psf, dm.scale, truths,
                               comps, f, replace(dm.paco, calibrate=False), None, -math.inf,
                               where)
            res[m]["flux_all"] += found  # every companion, for the equal-false-alarm line
            res[m]["flux"] += [r for r in found if r[3] >= 5]
            if fit.trained:
                train_info.append(fit.trained)
        if vip is not None:
            t0 = time.perf_counter()
            fp = FastPACO(cube=sim.cube.numpy().astype(np.float64), angles=sim.angles.numpy(),
                          psf=sim.psf.numpy().astype(np.float64), fwhm=f, pixscale=1.0,
                          verbose=False)
            s_fp, _ = fp.run(cpu=2)
            res["VIP FastPACO"]["time"].append(time.perf_counter() - t0)
            maps["VIP FastPACO"] = s_fp
        score_maps(maps, truths, f, res)
        print("   " + "  ".join(f"{m}: {res[m]['time'][-1]:.1f}s" for m in maps), flush=True)
        if k == 0:
            example = {"maps": maps, "truths": truths}
        if args.campaign:
            campaign(sim, f, fitted.get(deep_main), deep_main, rates, args.repeats, seed,
                     variants, args.campaign_angles)

    n_pos = len(res["inversa PACO"]["pos"])
    print(f"\n{args.cubes} cubes x 4 companions = {n_pos} companions, contrasts 1e-5..2e-4, "
          "48 x 128 x 128")
    pa = res["inversa PACO"]
    fa_paco = int((np.asarray(pa["neg"]) >= 5).sum())
    hdr = (f"| {'Method':<24} | AUC   | AUC-FDR | TP @5 | FA @5 | TP @ PACO's FA ({fa_paco}) "
           "| flux err (n) | 68 % coverage | >=3 / >=4 off-source | s / cube |")
    print(hdr)
    print("|" + "|".join("-" * len(c) for c in hdr.split("|")[1:-1]) + "|")
    for m in methods:
        r = res[m]
        pos, neg = np.asarray(r["pos"]), np.asarray(r["neg"])
        bg = np.concatenate(r["bg"])
        if r["flux"]:
            rel, cov, n = flux_summary(r["flux"])
            flux_s, cov_s = f"{100 * rel:.1f} % ({n})", f"{100 * cov:.0f} %"
        else:
            flux_s, cov_s = "n/a", "n/a"
        print(f"| {m:<24} | {auc(pos, neg):.3f} | {auc_fdr(pos, neg):.3f}   | "
              f"{int((pos >= 5).sum()):>5} | {int((neg[np.isfinite(neg)] >= 5).sum()):>5} | "
              f"{tp_at_fa(pos, neg, fa_paco):>3} ({100 * tp_at_fa(pos, neg, fa_paco) / n_pos:.0f} / 100)"
              f"{'':<9} | {flux_s:<12} | {cov_s:<13} | "
              f"{np.mean(bg >= 3):.1e} / {np.mean(bg >= 4):.1e}  | {np.mean(r['time']):8.1f} |")
    print("Gaussian tail: >= 3: 1.3e-03, >= 4: 3.2e-05")
    for m in methods:
        r = res[m]
        if r["flux"]:
            print(f"{m}: median position error of the companions at S/N >= 5: "
                  f"{np.median([row[4] for row in r['flux']]):.2f} px")
        if not r["flux_all"]:
            continue
        neg = np.sort(np.asarray(r["neg"])[np.isfinite(r["neg"])])[::-1]
        thr = neg[fa_paco] if fa_paco < len(neg) else -np.inf
        above = [row for row in r["flux_all"] if row[3] > thr]
        if above:
            rel, cov, n = flux_summary(above)
            print(f"{m}: flux of the companions above its threshold at PACO's false-alarm "
                  f"count (S/N > {thr:.2f}): median error {100 * rel:.1f} % "
                  f"({n}), 68 % coverage {100 * cov:.0f} %, median position error "
                  f"{np.median([row[4] for row in above]):.2f} px")
    if train_info:
        print("per-observation training: "
              f"{np.mean([t['samples_seconds'] for t in train_info]):.0f} s samples + "
              f"{np.mean([t['train_seconds'] for t in train_info]):.0f} s training on "
              f"average ({train_info[0]['samples']} samples, {train_info[0]['steps']} steps, "
              f"init {train_info[0]['init']})")
    if args.campaign:
        print(f"\ncontrast at 50 % detection (S/N >= 5), {args.cubes} cubes x {args.repeats} "
              f"position-angle sets per contrast, {args.campaign_angles} angles")
        curves = {m: contrast_at_half(rates[m], SEPS, CONTRASTS) for m in rates}
        others = [m for m in rates if m != "inversa PACO"]
        print("| separation (px) | lambda/D | " + " | ".join(rates) + " | "
              + " | ".join(f"gain of {m} (mag)" for m in others) + " |")
        print("|---|---|" + "---|" * (len(rates) + len(others)))
        gains = {m: [] for m in others}
        for i, s in enumerate(SEPS):
            cp = curves["inversa PACO"][i]
            for m in others:
                cd = curves[m][i]
                gains[m].append(2.5 * math.log10(cp / cd) if cp > 0 and cd > 0 else math.nan)
            print(f"| {s:.0f} | {s / 4:.0f} | " + " | ".join(f"{curves[m][i]:.2e}" for m in rates)
                  + " | " + " | ".join(f"{gains[m][-1]:+.2f}" for m in others) + " |")
        for m in others:
            print(f"mean gain of {m}, 2-8 lambda/D: {np.nanmean(gains[m]):+.2f} mag")
        example["curves"] = curves
    if args.figure:
        plot(example, Path(args.figure))
    sys.stdout.flush()


def campaign(sim, f, fitted, name: str, rates, repeats: int, seed: int,
             variants: dict | None = None, angles: str = "shuffled") -> None:
    """Injections, detection rate at S/N >= 5. ``shuffled``: into the cube with its angles
    shuffled (its companions no longer add up, nor does anything that varies smoothly in
    time); ``true``: into the same observation simulated without its companions (same
    seed), with the true angles, as real data would be."""
    if angles == "true":
        sim = simulate(sim.config, [], seed=seed)
        ang = sim.angles
    else:
        g = torch.Generator().manual_seed(seed + 99)
        ang = sim.angles[torch.randperm(len(sim.angles), generator=g)]
    shape = tuple(sim.cube.shape[-2:])
    rng = np.random.default_rng(seed)
    for c in CONTRASTS:
        for _ in range(repeats):
            off = rng.uniform(0, 360)
            comps = [Companion(s, (off + 360 * i / len(SEPS)) % 360, c)
                     for i, s in enumerate(SEPS)]
            cube = inject(sim.cube, ang, sim.psf, comps)
            snrs = {"inversa PACO": paco_map(cube, ang, sim.psf).snr.numpy()}
            for variant, cfg in (variants or {}).items():
                snrs[variant] = paco_map(cube, ang, sim.psf, cfg).snr.numpy()
            if fitted is not None:
                snrs[name] = fitted.apply(cube, ang, sim.psf).snr.numpy()
            for m, snr in snrs.items():
                for comp in comps:
                    x, y = comp.xy(shape)
                    pk = peak_near(snr, x, y, f)
                    hit = pk is not None and snr[pk] >= 5
                    rates[m].setdefault((comp.sep, c), []).append(float(hit))


def plot(example, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    maps = {m: v for m, v in example["maps"].items() if m != "VIP FastPACO"}
    fig, axes = plt.subplots(1, len(maps), figsize=(3.6 * len(maps), 3.8), dpi=100)
    for ax, (m, snr) in zip(np.atleast_1d(axes), maps.items(), strict=True):
        im = ax.imshow(snr, origin="lower", cmap="inferno", vmin=-3, vmax=8)
        for x, y in example["truths"]:
            ax.add_patch(plt.Circle((x, y), 6, fill=False, color="cyan", lw=1))
        ax.set_title(m, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(np.atleast_1d(axes)), shrink=0.8, label="S/N (deep: S/N-equivalent)")
    fig.suptitle("S/N maps of the first benchmark cube (circles: true companions)", fontsize=10)
    fig.savefig(folder / "exo_deep_compare.png", bbox_inches="tight")
    plt.close(fig)
    if "curves" in example:
        fig, ax = plt.subplots(figsize=(5.5, 4), dpi=100)
        for m, c in example["curves"].items():
            ax.plot(np.array(SEPS) / 4, c, "o-", label=m)
        ax.set_yscale("log")
        ax.set_xlabel("separation (lambda/D)")
        ax.set_ylabel("contrast at 50 % detection, S/N >= 5")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "exo_deep_contrast.png")
        plt.close(fig)


if __name__ == "__main__":
    main()
