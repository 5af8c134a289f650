"""Injection campaigns: ROC curves, contrast curves and the S/N distribution without sources.

The cube is processed with *pseudo angles* (the frame order of the angles reversed, or
shuffled with a seed), so that real sources no longer add up coherently; synthetic
companions are injected along the pseudo-angle trajectories, where the detector looks
for them. Each injected cube holds one companion per separation, at position angles
spread over the circle.

* True positive at threshold ``tau``: the maximum S/N within one FWHM of an injected
  companion is ``>= tau``.
* False alarm: a local maximum of the S/N map ``>= tau`` farther than 2 FWHM from every
  injected companion (candidate sites one FWHM apart).
* ROC: true-positive rate against the false-positive rate (fraction of the source-free
  candidate sites above ``tau``; its area is the AUC), against the false discovery rate
  ``FA / (FA + TP)`` and against the number of false alarms per map.
* Contrast curve: per separation, the contrast at which half of the companions are
  detected at ``S/N >= threshold`` (log-linear interpolation); for PACO also the
  analytic curve ``threshold x flux_err`` (azimuthal median of the source-free map).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from inversa.exo.candidates import local_maxima, peak_near
from inversa.exo.detect import DetectConfig, Detection, detect
from inversa.exo.geometry import polar_grid, to_xy
from inversa.exo.inject import Companion, inject
from inversa.exo.io import Observation


@dataclass(frozen=True)
class CampaignConfig:
    """An injection campaign."""

    contrasts: tuple[float, ...] = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4)
    separations: tuple[float, ...] | None = None  # pixels; default: 5 from 3 FWHM outwards
    repeats: int = 2            # injected cubes per contrast (different position angles)
    pseudo: str = "reverse"     # reverse | shuffle
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pseudo not in ("reverse", "shuffle"):
            from inversa.errors import InputError

            raise InputError(f"unknown pseudo-angle kind {self.pseudo!r} (reverse | shuffle)",
                             field="--pseudo")


@dataclass
class CampaignResult:
    """Per injection: separation, contrast, S/N found; background S/N samples and
    candidate-site maxima; the analytic PACO curve when available."""

    separations: list[float]
    contrasts: list[float]
    injected: list[tuple[float, float, float]]  # (separation, contrast, S/N)
    null_snr: np.ndarray            # S/N values of the source-free map (beyond 2 FWHM)
    background_peaks: np.ndarray    # local maxima away from the injections (all maps)
    maps: int
    fwhm: float
    analytic: list[tuple[float, float]] | None  # (separation, threshold x flux_err)
    threshold: float

    def roc(self, thresholds: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """TPR, FPR, FDR and false alarms per map at each threshold."""
        thr = np.linspace(0, 20, 201) if thresholds is None else thresholds
        snr = np.array([s for _, _, s in self.injected])
        bg = self.background_peaks
        tp = np.array([(snr >= t).sum() for t in thr], dtype=float)
        fa = np.array([(bg >= t).sum() for t in thr], dtype=float)
        tpr = tp / max(len(snr), 1)
        fpr = fa / max(len(bg), 1)
        fdr = np.where(tp + fa > 0, fa / np.maximum(tp + fa, 1), 0.0)
        return {"threshold": thr, "tpr": tpr, "fpr": fpr, "fdr": fdr,
                "false_alarms_per_map": fa / max(self.maps, 1)}

    def auc(self) -> float:
        """Area under TPR(FPR), from the exact ranks (Mann-Whitney statistic)."""
        pos = np.array([s for _, _, s in self.injected])
        neg = self.background_peaks[np.isfinite(self.background_peaks)]
        if len(pos) == 0 or len(neg) == 0:
            return math.nan
        from scipy.stats import mannwhitneyu

        return float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))

    def contrast_curve(self) -> list[tuple[float, float]]:
        """(separation, contrast at 50 % detection) pairs (NaN where never reached)."""
        out = []
        for sep in self.separations:
            rates = []
            for c in self.contrasts:
                v = [s for r, cc, s in self.injected if r == sep and cc == c]
                rates.append(np.mean(np.array(v) >= self.threshold) if v else np.nan)
            out.append((sep, _half_point(self.contrasts, rates)))
        return out


def _half_point(contrasts: list[float], rates: list[float]) -> float:
    lc = np.log10(np.asarray(contrasts))
    r = np.asarray(rates)
    for i in range(len(r)):
        if r[i] >= 0.5:
            if i == 0:
                return float(contrasts[0])
            f = (0.5 - r[i - 1]) / max(r[i] - r[i - 1], 1e-12)
            return float(10 ** (lc[i - 1] + f * (lc[i] - lc[i - 1])))
    return math.nan


def pseudo_angles(angles: torch.Tensor, kind: str, seed: int) -> torch.Tensor:
    """Angles in reversed frame order, or randomly permuted."""
    if kind == "reverse":
        return angles.flip(0)
    if kind == "shuffle":
        g = torch.Generator().manual_seed(seed)
        return angles[torch.randperm(len(angles), generator=g)]
    from inversa.errors import InputError

    raise InputError(f"unknown pseudo-angle kind {kind!r} (reverse | shuffle)",
                     field="--pseudo")


def _peak_near(snr: torch.Tensor, x: float, y: float, radius: float) -> float:
    pk = peak_near(snr, x, y, radius)
    return float(snr[pk]) if pk is not None else math.nan


def _background_peaks(det: Detection, exclude: list[tuple[float, float]]) -> list[float]:
    snr = det.snr
    sep, _ = polar_grid(snr.shape)
    out = []
    for y, x in local_maxima(snr, -math.inf, det.fwhm):
        if sep[y, x] < 2 * det.fwhm:
            continue
        if all((x - ex) ** 2 + (y - ey) ** 2 > (2 * det.fwhm) ** 2 for ex, ey in exclude):
            out.append(float(snr[y, x]))
    return out


def campaign(obs: Observation, det_config: DetectConfig = DetectConfig(),
             config: CampaignConfig = CampaignConfig(),
             progress: Callable[[int, int], None] | None = None) -> CampaignResult:
    """Run the campaign (``1 + len(contrasts) * repeats`` detections)."""
    from inversa.exo.psf import fwhm as psf_fwhm

    det_config = replace(det_config, unbiased=False)
    ang = pseudo_angles(obs.angles, config.pseudo, config.seed)
    shape = tuple(obs.cube.shape[-2:])
    f = psf_fwhm(obs.psf if obs.psf.dim() == 2 else obs.psf.mean(0))
    seps = list(config.separations) if config.separations else \
        [float(v) for v in np.linspace(3 * f, min(shape) / 2 - 3 * f, 5)]
    base = replace(obs, angles=ang)
    total = 1 + len(config.contrasts) * config.repeats
    null = detect(base, det_config)
    sep, _ = polar_grid(shape)
    fin = torch.isfinite(null.snr) & (sep >= 2 * f)
    null_vals = null.snr[fin].numpy()
    bg = _background_peaks(null, [])
    analytic = None
    if null.flux_err is not None:
        ring = torch.round(sep)
        analytic = []
        for s_ in seps:
            sel = torch.isfinite(null.flux_err) & ((ring - s_).abs() <= 0.5)
            analytic.append((s_, float(det_config.threshold * null.flux_err[sel].median())
                             if bool(sel.any()) else math.nan))
    if progress:
        progress(1, total)
    rng = np.random.default_rng(config.seed)
    injected: list[tuple[float, float, float]] = []
    done = 1
    for c in config.contrasts:
        for _ in range(config.repeats):
            offset = rng.uniform(0, 360)
            comps = [Companion(s_, (offset + 360 * i / len(seps)) % 360, c)
                     for i, s_ in enumerate(seps)]
            cube = inject(obs.cube, ang, obs.psf, comps)
            det = detect(replace(base, cube=cube), det_config)
            pos = []
            for comp in comps:
                x, y = to_xy(comp.sep, comp.pa, shape)
                pos.append((float(x), float(y)))
                injected.append((comp.sep, c, _peak_near(det.snr, float(x), float(y), f)))
            bg.extend(_background_peaks(det, pos))
            done += 1
            if progress:
                progress(done, total)
    injected = [(s_, c, v if math.isfinite(v) else -math.inf) for s_, c, v in injected]
    return CampaignResult(separations=seps, contrasts=list(config.contrasts),
                          injected=injected, null_snr=null_vals,
                          background_peaks=np.array(bg), maps=total, fwhm=f,
                          analytic=analytic, threshold=det_config.threshold)


def plot_campaign(res: CampaignResult, folder, label: str = "") -> list[str]:
    """roc.png, contrast.png and snr_hist.png in ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt

    folder = Path(folder)
    roc = res.roc()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=100)
    axes[0].plot(roc["fpr"], roc["tpr"], label=f"{label} AUC {res.auc():.3f}")
    axes[0].set_xlabel("false-positive rate (candidate sites)")
    axes[0].set_ylabel("true-positive rate")
    axes[1].plot(roc["fdr"], roc["tpr"])
    axes[1].set_xlabel("false discovery rate")
    axes[2].plot(roc["false_alarms_per_map"], roc["tpr"])
    axes[2].set_xscale("symlog", linthresh=0.1)
    axes[2].set_xlabel("false alarms per map")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(folder / "roc.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    cc = res.contrast_curve()
    ax.plot([s for s, _ in cc], [c for _, c in cc], "o-",
            label=f"50 % detection at S/N >= {res.threshold:g} (injections)")
    if res.analytic:
        ax.plot([s for s, _ in res.analytic], [c for _, c in res.analytic], "s--",
                label=f"{res.threshold:g} x flux error (PACO)")
    ax.set_yscale("log")
    ax.set_xlabel("separation (pixels)")
    ax.set_ylabel("contrast (PSF units)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "contrast.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    v = res.null_snr
    ax.hist(v, bins=80, density=True, alpha=0.6,
            label=f"S/N without sources (mean {v.mean():.2f}, std {v.std():.2f})")
    xs = np.linspace(-5, 5, 200)
    ax.plot(xs, np.exp(-xs ** 2 / 2) / math.sqrt(2 * math.pi), "k-", label="N(0, 1)")
    ax.set_yscale("log")
    ax.set_ylim(1e-5, 1)
    ax.set_xlabel("S/N")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "snr_hist.png")
    plt.close(fig)
    return ["roc.png", "contrast.png", "snr_hist.png"]


def campaign_tables(res: CampaignResult) -> dict[str, object]:
    """Astropy tables: injections, ROC, contrast curve."""
    from astropy.table import Table

    inj = Table(rows=res.injected, names=["separation", "contrast", "snr"])
    roc = Table(res.roc())
    cc = res.contrast_curve()
    cont = Table(rows=cc, names=["separation", "contrast_50pc"]) if cc else Table()
    if res.analytic:
        cont["contrast_analytic"] = [c for _, c in res.analytic]
    return {"injections": inj, "roc": roc, "contrast": cont}


def summary(res: CampaignResult) -> dict:
    v = res.null_snr
    snr = np.array([s for _, _, s in res.injected])
    return {"auc": res.auc(), "null_snr_mean": float(v.mean()), "null_snr_std": float(v.std()),
            "true_positives_at_threshold": int((snr >= res.threshold).sum()),
            "injected": len(snr),
            "false_alarms_at_threshold": int((res.background_peaks >= res.threshold).sum()),
            "maps": res.maps, "threshold": res.threshold, "fwhm_pixels": res.fwhm}
