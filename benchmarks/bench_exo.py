"""Exoplanet detection side by side: inversa PACO / PCA / cADI against vip-hci's PCA
(+ snrmap) and FastPACO on simulated ADI cubes never used for tuning.

    python benchmarks/bench_exo.py --cubes 6 --seed0 100 | tee benchmarks/bench_exo.out.txt

Each cube: 48 frames x 128 x 128 (inversa exo simulate's defaults), 4 companions at
contrasts log-uniform in [1e-5, 2e-4]. Scores, pooled over the cubes:

* positives: the maximum S/N within one FWHM of each true companion;
* negatives (candidate sites): local maxima of the S/N map (one FWHM apart), beyond 2 FWHM
  from the star and from every companion, inside the region where every method gives a
  value (the PACO maps stop where a trajectory would leave the frame; the PCA maps reach
  the corners, whose many low maxima would otherwise inflate their AUC);
* AUC: the probability that a positive outranks a negative (Mann-Whitney);
* TP / FA at S/N >= 5; flux: median relative error of the flux of companions detected at
  S/N >= 7 (inversa PACO: unbiased flux at the refined peak; FastPACO: its flux map at the
  peak pixel, converted from its aperture-normalised PSF units to ours);
* calibration: mean and standard deviation of the S/N beyond 2 FWHM on companion-free
  simulations of the same seeds (inversa PACO), and beyond 3 FWHM of the companions on the
  cubes themselves (all methods).

vip-hci runs with 2 processes (``cpu=2`` / ``nproc=2``); inversa with 2 torch threads.
``--full-paco-crop N`` also runs vip-hci's FullPACO (and inversa PACO) on the central
N x N pixels of the first cube (FullPACO is far too slow for whole frames here).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from inversa.exo import candidates
from inversa.exo.baselines import cadi, pca_adi
from inversa.exo.candidates import local_maxima, refine
from inversa.exo.geometry import polar_grid
from inversa.exo.paco import paco_map, unbiased_flux
from inversa.exo.psf import fwhm as psf_fwhm
from inversa.exo.simulate import SimConfig, random_companions, simulate
from inversa.exo.snrmap import snr_map

ROOT = Path(__file__).resolve().parents[1]


def score(snr: np.ndarray, truths: list[tuple[float, float]], f: float,
          support: np.ndarray | None = None):
    snr_t = torch.from_numpy(np.asarray(snr, dtype=np.float32))
    h, w = snr.shape
    yy, xx = np.mgrid[0:h, 0:w]
    pos = []
    for x, y in truths:
        near = ((xx - x) ** 2 + (yy - y) ** 2 <= f ** 2) & np.isfinite(snr)
        pos.append(float(np.nanmax(snr[near])) if near.any() else -math.inf)
    sep, _ = polar_grid((h, w))
    neg = []
    for y, x in local_maxima(snr_t, -math.inf, f):
        if sep[y, x] < 2 * f:
            continue
        if support is not None and not support[y, x]:
            continue
        if all((x - tx) ** 2 + (y - ty) ** 2 > (2 * f) ** 2 for tx, ty in truths):
            neg.append(float(snr[y, x]))
    return pos, neg


def background(snr: np.ndarray, truths, f: float) -> np.ndarray:
    h, w = snr.shape
    yy, xx = np.mgrid[0:h, 0:w]
    sep = np.hypot(xx - w // 2, yy - h // 2)
    keep = np.isfinite(snr) & (sep >= 2 * f)
    for x, y in truths:
        keep &= (xx - x) ** 2 + (yy - y) ** 2 > (3 * f) ** 2
    return snr[keep]


def score_maps(maps: dict, truths, f: float, res: dict) -> None:
    """Score every method's S/N map of one cube on the candidate sites where all of them
    are defined; add to ``res[method]``'s ``pos``, ``neg`` and ``bg`` (off-source S/N)."""
    support = np.logical_and.reduce([np.isfinite(v) for v in maps.values()])
    for m, snr in maps.items():
        p, n = score(snr, truths, f, support)
        res[m]["pos"] += p
        res[m]["neg"] += n
        res[m]["bg"].append(background(snr, truths, f))


def auc(pos, neg) -> float:
    from scipy.stats import mannwhitneyu

    pos = np.asarray(pos)
    neg = np.asarray(neg)
    neg = neg[np.isfinite(neg)]
    pos = np.where(np.isfinite(pos), pos, -1e9)
    return float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))


def peak_near(snr: np.ndarray, x: float, y: float, f: float):
    """:func:`inversa.exo.candidates.peak_near` of a NumPy map."""
    return candidates.peak_near(torch.from_numpy(np.ascontiguousarray(snr)), x, y, f)


def held_out_cube(seed: int, k: int, n: int):
    """The benchmarks' held-out cube of this seed (4 companions, contrasts 1e-5 to 2e-4,
    placed from ``seed + 1000``): ``(cfg, comps, sim, truths, fwhm)``; prints a line."""
    cfg = SimConfig()
    comps = random_companions(4, (1e-5, 2e-4), cfg.size, 4.1, seed=seed + 1000)
    sim = simulate(cfg, comps, seed=seed)
    truths = [c.xy((cfg.size, cfg.size)) for c in comps]
    print(f"cube {k + 1}/{n} (seed {seed}): companions "
          + ", ".join(f"{c.sep:.0f}px/{c.flux:.1e}" for c in comps), flush=True)
    return cfg, comps, sim, truths, psf_fwhm(sim.psf)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubes", type=int, default=6)
    ap.add_argument("--seed0", type=int, default=100)
    ap.add_argument("--no-vip", action="store_true")
    ap.add_argument("--full-paco-crop", type=int, default=0)
    ap.add_argument("--figure", default=str(ROOT / "docs/figures"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    vip = None
    if not args.no_vip:
        import vip_hci as vip
        from vip_hci.invprob.paco import FastPACO, FullPACO

    methods = ["inversa PACO", "inversa PCA (5)", "inversa cADI"]
    if vip is not None:
        methods += ["VIP PCA (5) + snrmap", "VIP FastPACO"]
    res = {m: {"pos": [], "neg": [], "time": [], "flux": [], "bg": []} for m in methods}
    calib = []
    example = {}
    for k in range(args.cubes):
        seed = args.seed0 + k
        cfg, comps, sim, truths, f = held_out_cube(seed, k, args.cubes)
        null = simulate(cfg, [], seed=seed + 500)
        shape = (cfg.size, cfg.size)
        maps: dict[str, np.ndarray] = {}

        t0 = time.perf_counter()
        pm = paco_map(sim.cube, sim.angles, sim.psf)
        fluxes = []
        for (x, y), c in zip(truths, comps, strict=True):
            pk = peak_near(pm.snr.numpy(), x, y, f)
            if pk is None or pm.snr[pk] < 7:
                continue
            xs, ys = refine(pm.snr, *pk)
            fl, _, _, _ = unbiased_flux(sim.cube, sim.angles, sim.psf, xs, ys)
            fluxes.append(abs(fl - c.flux) / c.flux)
        res["inversa PACO"]["time"].append(time.perf_counter() - t0)
        res["inversa PACO"]["flux"] += fluxes
        maps["inversa PACO"] = pm.snr.numpy()
        nm = paco_map(null.cube, null.angles, null.psf)
        sep, _ = polar_grid(shape)
        v = nm.snr[torch.isfinite(nm.snr) & (sep >= 2 * f)]
        calib.append(v.numpy())

        t0 = time.perf_counter()
        maps["inversa PCA (5)"] = snr_map(pca_adi(sim.cube, sim.angles, 5, mask_radius=f),
                                          f).numpy()
        res["inversa PCA (5)"]["time"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        maps["inversa cADI"] = snr_map(cadi(sim.cube, sim.angles), f).numpy()
        res["inversa cADI"]["time"].append(time.perf_counter() - t0)

        if vip is not None:
            cube = sim.cube.numpy().astype(np.float64)
            ang = sim.angles.numpy()
            psf = sim.psf.numpy().astype(np.float64)
            t0 = time.perf_counter()
            fr = vip.psfsub.pca(cube, ang, ncomp=5, mask_center_px=int(round(f)), verbose=False)
            fr = fr[0] if isinstance(fr, tuple) else fr
            maps["VIP PCA (5) + snrmap"] = vip.metrics.snrmap(fr, f, nproc=2, verbose=False)
            res["VIP PCA (5) + snrmap"]["time"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fp = FastPACO(cube=cube, angles=ang, psf=psf, fwhm=f, pixscale=1.0, verbose=False)
            s_fp, flux_fp = fp.run(cpu=2)
            res["VIP FastPACO"]["time"].append(time.perf_counter() - t0)
            maps["VIP FastPACO"] = s_fp
            _, ap_flux, _ = vip.fm.normalize_psf(psf, fwhm=f, full_output=True, verbose=False)
            ap_flux = float(np.ravel(ap_flux)[0])
            for (x, y), c in zip(truths, comps, strict=True):
                pk = peak_near(s_fp, x, y, f)
                if pk is None or s_fp[pk] < 7:
                    continue
                res["VIP FastPACO"]["flux"].append(abs(flux_fp[pk] / ap_flux - c.flux) / c.flux)
        score_maps(maps, truths, f, res)
        line = "   " + "  ".join(f"{m}: {res[m]['time'][-1]:.1f}s" for m in maps)
        print(line, flush=True)
        if k == 0:
            example = {"maps": maps, "truths": truths, "sim": sim}

    n_pos = len(res["inversa PACO"]["pos"])
    print()
    print(f"{args.cubes} cubes x 4 companions = {n_pos} companions, contrasts 1e-5..2e-4, "
          "48 x 128 x 128")
    hdr = (f"| {'Method':<22} | AUC   | TP @5 | FA @5 | flux err (S/N>=7, n) | "
           "S/N mean / std off-source | s / cube |")
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
    for m in methods:
        r = res[m]
        pos = np.asarray(r["pos"])
        neg = np.asarray(r["neg"])
        bg = np.concatenate(r["bg"])
        fl = (f"{100 * np.median(r['flux']):.1f} % ({len(r['flux'])})" if r["flux"]
              else "n/a")
        print(f"| {m:<22} | {auc(pos, neg):.3f} | {int((pos >= 5).sum()):>5} | "
              f"{int((neg[np.isfinite(neg)] >= 5).sum()):>5} | {fl:<20} | "
              f"{bg.mean():+.2f} / {bg.std():.2f}{'':<13} | {np.mean(r['time']):8.1f} |")
    c = np.concatenate(calib)
    print(f"\ninversa PACO on {args.cubes} companion-free cubes (beyond 2 FWHM): S/N mean "
          f"{c.mean():+.3f}, std {c.std():.3f}, max {c.max():.2f}")
    if vip is not None:
        ratio = np.mean(res["VIP FastPACO"]["time"]) / np.mean(res["inversa PACO"]["time"])
        print(f"speed: inversa PACO is {ratio:.0f}x faster than VIP FastPACO (cpu=2)")
    if args.full_paco_crop and vip is not None:
        n = args.full_paco_crop
        sim = example["sim"]
        o = (sim.cube.shape[-1] - n) // 2
        crop = sim.cube[:, o:o + n, o:o + n]
        t0 = time.perf_counter()
        paco_map(crop, sim.angles, sim.psf)
        t_inv = time.perf_counter() - t0
        t0 = time.perf_counter()
        full = FullPACO(cube=crop.numpy().astype(np.float64), angles=sim.angles.numpy(),
                        psf=sim.psf.numpy().astype(np.float64), fwhm=f, pixscale=1.0,
                        verbose=False)
        full.run(cpu=2)
        t_full = time.perf_counter() - t0
        print(f"central {n}x{n} crop of cube 1: VIP FullPACO {t_full:.1f} s, "
              f"inversa PACO {t_inv:.1f} s")
    if args.figure:
        plot(example, res, methods, Path(args.figure))
    sys.stdout.flush()


def plot(example, res, methods, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    maps = example["maps"]
    fig, axes = plt.subplots(1, len(maps), figsize=(3.6 * len(maps), 3.6), dpi=100)
    for ax, (m, snr) in zip(np.atleast_1d(axes), maps.items(), strict=True):
        ax.imshow(snr, origin="lower", cmap="inferno", vmin=-3, vmax=8)
        for x, y in example["truths"]:
            ax.add_patch(plt.Circle((x, y), 6, fill=False, color="cyan", lw=1))
        ax.set_title(m, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("S/N maps of the first benchmark cube (circles: true companions)", fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "exo_compare.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=100)
    thr = np.linspace(-2, 30, 400)
    for m in methods:
        pos = np.asarray(res[m]["pos"])
        neg = np.asarray(res[m]["neg"])
        neg = neg[np.isfinite(neg)]
        cubes = len(res[m]["time"])
        ax.plot([(neg >= t).sum() / cubes for t in thr], [(pos >= t).mean() for t in thr],
                label=f"{m} (AUC {auc(pos, neg):.3f})")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel("false alarms per cube")
    ax.set_ylabel("true-positive rate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "exo_roc.png")
    plt.close(fig)


if __name__ == "__main__":
    main()
