"""What the speckles allow: PACO against a detector that knows their true statistics.

    cd benchmarks && python exo_oracle.py --cubes 6 --seed0 100 --realisations 16 \
        | tee exo_oracle.out.txt

Writes ``docs/figures/exo_oracle_contrast.png`` (``--figure ''``: none).

Issue 7 asks the deep detector for +0.05 AUC, +10 true positives per 100 at PACO's false
alarms and +0.3 mag of contrast over PACO on the simulated held-out cubes. This script
measures how much room the simulator leaves above PACO, for any detector.

The oracle. Each held-out cube (bench_exo.held_out_cube, seeds 100-105) is drawn from a
known process: fixed aberrations (``phi_static``, ``phi_drift``) and, per frame, random AO
residuals and photon/read noise. ``--realisations`` companion-free cubes of the same seed
(``simulate(..., realisation=r)``: same aberrations, new AO residuals and noise) sample
that process. From them:

* the true mean ``mu_t`` of every pixel in every frame: the mean over realisations, fitted
  by a cubic in time (the drift is smooth);
* the true covariance ``Sigma`` of every patch (PACO's patch, 49 pixels): the second
  moment of the realisations around ``mu_t``, pooled over frames and realisations.

The oracle's S/N is PACO's statistic with these in place of PACO's estimates (mean and
shrinkage covariance of the cube's own 48 patches at that place):
``S = sum_t h_t^T Sigma^-1 (r_t - mu_t) / sqrt(sum_t h_t^T Sigma^-1 h_t)``. It is the
likelihood-ratio detector if the frames are Gaussian given the aberrations; it knows the
drift (which PACO takes for a constant), is not contaminated by the source (PACO's
statistics absorb part of it near the star) and has no estimation noise. No method run on
the cube alone can know as much.

A second oracle, "PACO's model, true statistics", keeps PACO's model, a mean constant in
time at each place, but knows it: the time average of ``mu_t``, with the covariance of the
realisations around it (the drift then counts as noise, as it does for PACO). The gap from
PACO to it is what estimating the statistics from the cube itself costs (the source's
share absorbed by them, the estimation noise); the gap from it to the first oracle is what
the drift costs when it is taken for noise. A third, "PACO, true covariance", takes that
covariance but the mean from the cube itself, as PACO does (each pixel's mean over the
frames): it splits the cost between the covariance and the mean.

Both oracles' S/N are calibrated as PACO's is: divided, per annulus, by the robust spread
of their S/N on the same cube with the frame order of the angles reversed (for the
injections: on the companion-free twin, once).

Scores, on the same cubes and candidate sites as bench_exo_deep.py: AUC, true positives at
PACO's false alarms (5 sigma) and the off-source tail; ``--deep exo_deep`` adds a deep
model's row, scored on the same candidate sites. Depth (``--angle-sets 0``: none): on each cube's
companion-free twin (same seed, true angles, as bench_exo_deep's ``--campaign-angles
true``), companions are injected at the 7 separations of its campaign (2-8 lambda/D),
``--angle-sets`` position-angle sets per cube, at the contrasts ``LEVELS``. PACO: the
contrast at which half reach its 5 sigma threshold (before its null-tail map, the
calibrated S/N that the map sends to 5), interpolated in log contrast. The oracles' S/N is
linear in the flux (their covariance does not depend on the data, and a mean taken from
the cube is linear in it), so their 50 % contrast is where the mean S/N reaches 5:
``5 / mean(S/N / contrast)`` over all levels.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_exo import auc, held_out_cube, peak_near, score_maps
from bench_exo_deep import SEPS, auc_fdr, contrast_at_half, tp_at_fa

from inversa.exo.deep.detect import DeepConfig, fit_observation
from inversa.exo.geometry import polar_grid
from inversa.exo.inject import Companion, inject
from inversa.exo.null_tail import load_tail
from inversa.exo.paco import PacoConfig, _ab_terms, _Frames, _geometry, annulus_scale, paco_map
from inversa.exo.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (1.2e-5, 2e-5, 3.3e-5, 5.5e-5, 9e-5)  # injected contrasts, depth sweep


def true_mean(reals: torch.Tensor, degree: int = 3) -> torch.Tensor:
    """``mu_t`` (T, H, W): the mean of the realisations (N, T, H, W) over N, fitted per
    pixel by a polynomial of ``degree`` in time (least squares)."""
    _, t_count, h, w = reals.shape
    m = reals.mean(0).reshape(t_count, -1).double()
    tt = torch.linspace(-1, 1, t_count, dtype=torch.float64)
    v = torch.stack([tt ** k for k in range(degree + 1)], 1)  # (T, d+1)
    coef = torch.linalg.lstsq(v, m).solution
    return (v @ coef).reshape(t_count, h, w).float()


class Oracle:
    """PACO's statistic with the true mean ``mu`` (T, H, W) and the true patch covariance
    (from the realisations (N, T, H, W)) in place of their estimates."""

    def __init__(self, reals: torch.Tensor, mu: torch.Tensor, psf: torch.Tensor,
                 radius: float, steps: int, jitter: float = 1e-6, block: int = 256,
                 own_mean: bool = False):
        n, t_count, h, w = reals.shape
        self.mu, self.psf, self.radius, self.steps = mu, psf, radius, steps
        self.own_mean = own_mean
        null = _Frames((reals - mu).reshape(n * t_count, h, w), psf, radius, steps)
        self.h, self.w = h, w
        p = len(null.dy)
        self.cinv = torch.zeros(h * w, p, p)
        r = null.r
        yy, xx = torch.meshgrid(torch.arange(r, h - r), torch.arange(r, w - r), indexing="ij")
        iy, ix = yy.reshape(-1), xx.reshape(-1)
        eye = torch.eye(p, dtype=torch.float64)
        for s in range(0, len(iy), block):
            pt, _ = null.patches(iy[s:s + block], ix[s:s + block])  # (U, N T, P)
            c = (pt.transpose(1, 2) @ pt).double() / pt.shape[1]
            scale = torch.diagonal(c, dim1=-2, dim2=-1).mean(-1).clamp_min(1e-30)
            c = c + jitter * scale[:, None, None] * eye
            self.cinv[iy[s:s + block] * w + ix[s:s + block]] = torch.linalg.inv(c).float()

    def with_own_mean(self) -> Oracle:
        """The same covariance, the mean taken from each cube itself (as PACO does)."""
        out = copy.copy(self)
        out.own_mean = True
        return out

    def scale(self, cube: torch.Tensor, angles: torch.Tensor, inner: float, fwhm: float
              ) -> torch.Tensor:
        """The calibration (H, W), as PACO's: the robust spread, per annulus, of the S/N of
        the cube with the frame order of the angles reversed. Divide :meth:`snr` by it."""
        return annulus_scale(self.snr(cube, angles.flip(0), inner), fwhm)

    def snr(self, cube: torch.Tensor, angles: torch.Tensor, inner: float,
            chunk: int = 512) -> torch.Tensor:
        """The oracle's S/N map (H, W) of a cube (T, H, W); NaN where not defined. With
        ``own_mean`` the mean is the cube's own (each pixel's mean over the frames)."""
        h, w = self.h, self.w
        mu = cube.mean(0, keepdim=True) if self.own_mean else self.mu
        fr = _Frames(cube - mu, self.psf, self.radius, self.steps)

        def known(uniq, pt, wt):  # the data are centred already; the covariance is known
            return torch.zeros(pt.shape[0], pt.shape[2]), self.cinv[uniq]

        sep, _ = polar_grid((h, w))
        order = torch.nonzero(sep.reshape(-1) >= inner)[:, 0]
        out = torch.full((h * w,), math.nan)
        for s in range(0, len(order), chunk):
            idx = order[s:s + chunk]
            xs, ys = (idx % w).to(torch.float64), (idx // w).to(torch.float64)
            sel, a, b, _ = _ab_terms(fr, angles, xs, ys, PacoConfig(), statistics=known)
            out[idx[sel]] = b.sum(1) / a.sum(1).clamp_min(1e-30).sqrt()
        return out.reshape(h, w)


def raw_threshold(level: float = 5.0) -> float:
    """The calibrated PACO S/N (before the shipped null-tail map) that the map sends to
    ``level``."""
    tail = load_tail("paco")
    if tail is None:
        return level
    lo, hi = level / 4, level * 4
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(tail(torch.tensor([mid]))[0]) < level:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubes", type=int, default=6)
    ap.add_argument("--seed0", type=int, default=100)
    ap.add_argument("--realisations", type=int, default=16)
    ap.add_argument("--angle-sets", type=int, default=2,
                    help="position-angle sets per cube for the depth sweep (0: no sweep)")
    ap.add_argument("--deep", default="", help="also score this deep model (shipped name or "
                    ".pt, with its null tail when shipped) on the same candidate sites")
    ap.add_argument("--figure", default=str(ROOT / "docs/figures"), help="'' writes none")
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    methods = ("inversa PACO", "PACO, true covariance", "PACO's model, true statistics",
               "oracle (true mu_t, Sigma)")
    deep = f"deep ({args.deep})" if args.deep else None
    res = {m: {"pos": [], "neg": [], "bg": []} for m in (*methods, *([deep] if deep else []))}
    depth = {m: {} for m in methods}
    ratios = []
    paco_raw = PacoConfig(null_tail=False)
    for k in range(args.cubes):
        seed = args.seed0 + k
        t0 = time.perf_counter()
        cfg, comps, sim, truths, f = held_out_cube(seed, k, args.cubes)
        reals = torch.stack([simulate(cfg, [], seed=seed, realisation=r).cube
                             for r in range(args.realisations)])
        _, radius, inner = _geometry(sim.psf[None], PacoConfig())
        oracles = {m: Oracle(reals, true_mean(reals, degree), sim.psf, radius,
                             PacoConfig().bank_steps)
                   for m, degree in ((methods[2], 0), (methods[3], 3))}
        oracles[methods[1]] = oracles[methods[2]].with_own_mean()
        del reals
        t_stats = time.perf_counter() - t0
        maps = {"inversa PACO": paco_map(sim.cube, sim.angles, sim.psf).snr.numpy()}
        maps.update({m: (o.snr(sim.cube, sim.angles, inner)
                          / o.scale(sim.cube, sim.angles, inner, f)).numpy()
                     for m, o in oracles.items()})
        if deep:
            fit = fit_observation(sim.cube, sim.angles, sim.psf,
                                  DeepConfig(model=args.deep, seed=seed))
            maps[deep] = fit.apply(sim.cube, sim.angles, sim.psf).snr.numpy()
        score_maps(maps, truths, f, res)
        for i, c in enumerate(comps):
            print(f"   companion {c.sep:.0f} px, {c.flux:.1e}: S/N "
                  + ", ".join(f"{m} {res[m]['pos'][-4 + i]:.1f}" for m in maps), flush=True)
        pp = res["inversa PACO"]["pos"][-4:]
        ratios += [[res[m]["pos"][-4 + i] / a for m in methods[1:]]
                   for i, a in enumerate(pp) if a >= 5]
        if args.angle_sets <= 0:
            print(f"   statistics from {args.realisations} realisations {t_stats:.0f} s, cube "
                  f"total {time.perf_counter() - t0:.0f} s", flush=True)
            continue
        twin = simulate(cfg, [], seed=seed)
        scales = {m: o.scale(twin.cube, twin.angles, inner, f) for m, o in oracles.items()}
        rng = np.random.default_rng(seed)
        offsets = [rng.uniform(0, 360) for _ in range(args.angle_sets)]
        for c in LEVELS:
            for off in offsets:
                inj = [Companion(s, (off + 360 * i * 3 / len(SEPS)) % 360, c)
                       for i, s in enumerate(SEPS)]
                cube = inject(twin.cube, twin.angles, twin.psf, inj)
                snrs = {"inversa PACO": paco_map(cube, twin.angles, twin.psf,
                                                 paco_raw).snr.numpy()}
                snrs.update({m: (o.snr(cube, twin.angles, inner) / scales[m]).numpy()
                             for m, o in oracles.items()})
                for m, snr in snrs.items():
                    for comp in inj:
                        pk = peak_near(snr, *comp.xy((cfg.size, cfg.size)), f)
                        depth[m].setdefault((comp.sep, c), []).append(
                            float(snr[pk]) if pk else math.nan)
        print(f"   statistics from {args.realisations} realisations {t_stats:.0f} s, cube "
              f"total {time.perf_counter() - t0:.0f} s", flush=True)

    n_pos = len(res["inversa PACO"]["pos"])
    pa = res["inversa PACO"]
    fa_paco = int((np.asarray(pa["neg"]) >= 5).sum())
    print(f"\n{args.cubes} cubes x 4 companions = {n_pos} companions; "
          f"{args.realisations} realisations per cube for the oracle")
    print(f"| method | AUC | AUC-FDR | TP @5 | FA @5 | TP @ PACO's FA ({fa_paco}) | "
          "off-source std | >=3 / >=4 off-source |")
    print("|---|---|---|---|---|---|---|---|")
    for m in res:
        pos, neg = np.asarray(res[m]["pos"]), np.asarray(res[m]["neg"])
        bg = np.concatenate(res[m]["bg"])
        tp = tp_at_fa(pos, neg, fa_paco)
        print(f"| {m} | {auc(pos, neg):.3f} | {auc_fdr(pos, neg):.3f} | {int((pos >= 5).sum())} | "
              f"{int((neg[np.isfinite(neg)] >= 5).sum())} | {tp} ({100 * tp / n_pos:.0f} / 100) | "
              f"{bg.std():.2f} | {np.mean(bg >= 3):.1e} / {np.mean(bg >= 4):.1e} |")
    print("Gaussian tail: >= 3: 1.3e-03, >= 4: 3.2e-05")
    if ratios:
        ratios = np.array(ratios)
        for i, m in enumerate(methods[1:]):
            print(f"{m} / PACO S/N on the {len(ratios)} companions PACO finds at 5: median "
                  f"{np.median(ratios[:, i]):.2f}, range {ratios[:, i].min():.2f}-"
                  f"{ratios[:, i].max():.2f}")
    if args.angle_sets <= 0:
        return
    thr = raw_threshold(5.0)
    print(f"\ncontrast at 50 % detection, {args.cubes} cubes x {args.angle_sets} position-angle "
          f"sets, true angles, injected at {', '.join(f'{c:.1e}' for c in LEVELS)}; PACO "
          f"before its null-tail map, threshold {thr:.2f}; oracles: 5 / mean(S/N per unit "
          "contrast)")
    rates = {(s, c): [v >= thr for v in depth["inversa PACO"][(s, c)]]
             for s in SEPS for c in LEVELS}
    curves = {"inversa PACO": contrast_at_half(rates, SEPS, LEVELS)}
    for m in methods[1:]:
        curves[m] = [5.0 / np.nanmean([v / c for c in LEVELS for v in depth[m][(s, c)]])
                     for s in SEPS]
    print("| separation (px) | lambda/D | " + " | ".join(methods) + " | "
          + " | ".join(f"gain of {m} (mag)" for m in methods[1:]) + " |")
    print("|---|---|" + "---|" * (2 * len(methods) - 1))
    gains = {m: [] for m in methods[1:]}
    for i, s in enumerate(SEPS):
        cp = curves["inversa PACO"][i]
        for m in methods[1:]:
            gains[m].append(2.5 * math.log10(cp / curves[m][i]) if cp > 0 else math.nan)
        print(f"| {s:.0f} | {s / 4:.0f} | " + " | ".join(f"{curves[m][i]:.2e}" for m in methods)
              + " | " + " | ".join(f"{gains[m][-1]:+.2f}" for m in methods[1:]) + " |")
    for m in methods[1:]:
        print(f"mean gain of {m} where PACO reaches 50 %: {np.nanmean(gains[m]):+.2f} mag")
    if args.figure:
        plot(curves, Path(args.figure) / "exo_oracle_contrast.png")


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=100)
    for m, c in curves.items():
        ax.plot(np.array(SEPS) / 4, c, "o-", label=m)
    ax.set_yscale("log")
    ax.set_xlabel("separation (lambda/D)")
    ax.set_ylabel("contrast at 50 % detection (5 sigma)")
    ax.set_title("PACO against detectors given the true speckle statistics", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
