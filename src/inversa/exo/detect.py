"""The detection pipeline: an observation in, S/N and flux maps and a catalogue out.

Methods: ``paco`` (:mod:`inversa.exo.paco`, calibrated S/N, flux and error maps, unbiased
flux of each candidate), ``pca`` (full-frame or annular PCA-ADI + Mawet S/N map) and
``cadi`` (classical ADI + Mawet S/N map), ``deep`` (:mod:`inversa.exo.deep`: a U-Net on PACO's
whitened per-frame evidence, trained on the cube itself or shipped, its scores calibrated
into an S/N-equivalent; PACO's flux and error maps). Candidates are the local maxima of the S/N map
at or above the threshold, one FWHM apart.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from inversa.errors import InputError
from inversa.exo.candidates import Candidate, find_candidates
from inversa.exo.deep.detect import DeepConfig
from inversa.exo.io import Observation, fits_writer, frame_quality
from inversa.exo.paco import PacoConfig, paco_map, unbiased_flux
from inversa.exo.psf import fwhm as psf_fwhm

METHODS = ("paco", "pca", "cadi", "deep")


@dataclass(frozen=True)
class DetectConfig:
    """What to run and how."""

    method: str = "paco"
    threshold: float = 5.0
    ncomp: int = 5                  # PCA components
    annular: bool = False           # annular PCA instead of full frame
    paco: PacoConfig = field(default_factory=PacoConfig)
    unbiased: bool = True           # PACO: re-estimate candidates' flux without the source
    drop_bad_frames: bool = False   # remove frames flagged by frame_quality
    deep: DeepConfig = field(default_factory=DeepConfig)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; choose one of "
                             f"{', '.join(METHODS)}", field="--method")
        if not self.threshold > 0:
            raise InputError("the threshold must be positive", field="--threshold")


@dataclass
class Detection:
    """Maps (H, W) (flux maps ``None`` where the method has none), candidates, timings."""

    snr: torch.Tensor
    flux: torch.Tensor | None
    flux_err: torch.Tensor | None
    candidates: list[Candidate]
    fwhm: float
    config: DetectConfig
    seconds: dict[str, float]
    frames_used: list[int]
    notes: list[str] = field(default_factory=list)
    extra_maps: dict[str, torch.Tensor] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def detect(obs: Observation, config: DetectConfig = DetectConfig(),
           progress: Callable[[int, int], None] | None = None) -> Detection:
    """Run the detector on ``obs``."""
    from inversa.exo.baselines import cadi, pca_adi, pca_annular
    from inversa.exo.snrmap import snr_map

    t0 = time.perf_counter()
    cube, angles = obs.cube, obs.angles
    frames = list(range(obs.frames))
    notes = list(obs.notes)
    _, bad = frame_quality(cube)
    if bool(bad.any()):
        flagged = bad.nonzero()[:, 0].tolist()
        if config.drop_bad_frames and len(flagged) < obs.frames - 2:
            keep = (~bad).nonzero()[:, 0]
            cube = cube[..., keep, :, :]
            angles = angles[keep]
            frames = keep.tolist()
            notes.append(f"dropped frames of poor quality: {flagged}")
        else:
            notes.append(f"frames of poor quality (kept): {flagged}")
    f = psf_fwhm(obs.psf if obs.psf.dim() == 2 else obs.psf.mean(0))
    seconds: dict[str, float] = {}
    flux = flux_err = None
    extra_maps: dict[str, torch.Tensor] = {}
    extra: dict = {}
    if config.method == "paco":
        maps = paco_map(cube, angles, obs.psf, config.paco, progress)
        snr, flux, flux_err = maps.snr, maps.flux, maps.flux_err
        seconds["maps"] = time.perf_counter() - t0
        cands = find_candidates(snr, config.threshold, f, flux, flux_err)
        if config.unbiased:
            t1 = time.perf_counter()
            for c in cands:
                fl, err, _, _ = unbiased_flux(cube, angles, obs.psf, c.x, c.y, config.paco)
                scale = float(maps.scale[round(c.y), round(c.x)]) if maps.scale is not None \
                    else 1.0
                c.flux, c.flux_err = fl, err * scale
            seconds["unbiased_flux"] = time.perf_counter() - t1
    elif config.method == "deep":
        from inversa.exo.deep.detect import deep_maps

        dm = deep_maps(cube, angles, obs.psf, config.deep, progress=progress)
        snr, flux, flux_err = dm.snr, dm.flux, dm.flux_err
        seconds.update(dm.seconds)
        # the network detects; PACO's S/N map locates: its peak is about twice closer to
        # the truth, and the flux network was trained at PACO's peaks
        # (benchmarks/exo_deep_position.py)
        cands = find_candidates(snr, config.threshold, f, flux, flux_err,
                                position_map=dm.paco_snr)
        head = None
        if config.unbiased:
            t1 = time.perf_counter()
            pc = replace(dm.paco, calibrate=False)  # the statistics the scale is for
            head = _flux_head(config.deep.flux_model)
            if head is not None and cands:
                from inversa.exo.deep.flux import measure

                # the network reads PACO's plain statistics, as in its training; the
                # model's features may come from others (trend removal, covariance)
                plain = PacoConfig(calibrate=False)
                scale = dm.scale if pc == plain else \
                    paco_map(cube, angles, obs.psf, PacoConfig(null_tail=False)).scale
                ms = [measure(cube, angles, obs.psf, c.x, c.y, plain,
                              float(scale[round(c.y), round(c.x)]), f) for c in cands]
                for c, (fl, err) in zip(cands, head.estimate(ms), strict=True):
                    c.flux, c.flux_err = fl, err
            else:
                for c in cands:
                    fl, err, _, _ = unbiased_flux(cube, angles, obs.psf, c.x, c.y, pc)
                    c.flux, c.flux_err = fl, err * float(dm.scale[round(c.y), round(c.x)])
            seconds["unbiased_flux"] = time.perf_counter() - t1
        extra_maps = {"pfa": dm.pfa}
        extra = {"model": config.deep.model or "per-observation", "training": dm.trained,
                 "snr_meaning": "S/N-equivalent: Phi^-1(1 - false-alarm probability), the "
                                "probability calibrated on angle-reversed/shuffled copies "
                                "of the cube, then its far tail mapped by the shipped "
                                "null tail when one exists for the model "
                                "(inversa.exo.null_tail)",
                 "null_tail": dm.null_tail,
                 "candidate_position": "peak of PACO's S/N (the features' statistics) "
                                       "within one FWHM of the network's peak",
                 "candidate_flux": ("flux network " + str(config.deep.flux_model)
                                    if head is not None else
                                    "PACO's unbiased estimate" if config.unbiased else
                                    "flux map at the peak")}
    else:
        inner = f
        if config.method == "cadi":
            img = cadi(cube, angles)
        elif config.annular:
            img = pca_annular(cube, angles, f, config.ncomp, mask_radius=inner)
        else:
            img = pca_adi(cube, angles, config.ncomp, mask_radius=inner)
        snr = snr_map(img, f, inner=inner)
        seconds["maps"] = time.perf_counter() - t0
        cands = find_candidates(snr, config.threshold, f)
    seconds["total"] = time.perf_counter() - t0
    return Detection(snr=snr, flux=flux, flux_err=flux_err, candidates=cands, fwhm=f,
                     config=config, seconds=seconds, frames_used=frames, notes=notes,
                     extra_maps=extra_maps, extra=extra)


def _flux_head(name: str | None):
    """The deep detector's flux network ``name``, or ``None`` when not asked for or when
    the shipped one is absent (a named file that is missing or corrupted is an error)."""
    from inversa.exo.deep.flux import DEFAULT_FLUX_MODEL, has_flux_head, load_flux_head

    if not name or (name == DEFAULT_FLUX_MODEL and not has_flux_head(name)):
        return None
    return load_flux_head(name)


def candidates_writer(cands: list[Candidate], meta: dict):
    """A ``write(path)`` callable: the catalogue as an astropy ECSV table."""
    from astropy.table import Table

    cols = ["id", "x", "y", "separation", "position_angle", "snr", "flux", "flux_err"]

    def write(path: Path) -> None:
        rows = [c.as_row() for c in cands]
        t = Table(rows=[[r[c] for c in cols] for r in rows] if rows else None, names=cols,
                  dtype=[int, float, float, float, float, float, float, float])
        units = {"x": "pix", "y": "pix", "separation": "pix", "position_angle": "deg"}
        for k, u in units.items():
            t[k].unit = u
        t["flux"].description = "amplitude in units of the PSF stamp (the contrast when " \
                                "the stamp is the unocculted star at the same exposure)"
        t["position_angle"].description = "counter-clockwise from +x, derotated frame"
        t.meta.update(meta)
        t.write(path, format="ascii.ecsv", overwrite=True)

    return write


def plot_detection(det: Detection, path: Path, title: str = "") -> None:
    """The S/N map with the candidates circled and numbered."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=110)
    snr = det.snr.numpy()
    im = ax.imshow(snr, origin="lower", cmap="inferno", vmin=-3,
                   vmax=max(det.config.threshold + 2, 5))
    fig.colorbar(im, ax=ax, label="S/N")
    for c in det.candidates:
        ax.add_patch(plt.Circle((c.x, c.y), 2 * det.fwhm, fill=False, color="cyan", lw=1.2))
        ax.annotate(f"{c.id}: {c.snr:.1f}", (c.x + 2 * det.fwhm, c.y + 2 * det.fwhm),
                    color="cyan", fontsize=8)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    ax.set_title(title or f"{det.config.method.upper()} S/N map, "
                          f"{len(det.candidates)} candidate(s) >= {det.config.threshold:g}")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def report(det: Detection, obs: Observation, extra: dict | None = None) -> dict:
    """Parameters, timings and versions (report.json)."""
    import numpy
    import torch as _torch

    import inversa

    cfg = asdict(det.config)
    return {
        "inversa": getattr(inversa, "__version__", "unknown"),
        "python": platform.python_version(), "torch": _torch.__version__,
        "numpy": numpy.__version__,
        "input": obs.source, "shape": list(obs.cube.shape), "frames_used": det.frames_used,
        "fwhm_pixels": det.fwhm, "config": cfg, "seconds": det.seconds,
        "candidates": len(det.candidates), "notes": det.notes, **det.extra,
        "flux_units": "amplitude of the PSF stamp: the contrast when the stamp is the "
                      "unocculted star at the same exposure",
        "conventions": "x column, y row, star at (ny//2, nx//2), position angle "
                       "counter-clockwise from +x in the derotated frame",
        **(extra or {}),
    }


def write_outputs(det: Detection, obs: Observation, out: Path, extra: dict | None = None,
                  more: Callable[[Path], None] | None = None) -> list[str]:
    """Write the outputs into ``out`` (created, or existing and empty) all or nothing;
    ``more(tmp_folder)`` may add files before the folder appears."""
    from inversa.atomic import Staged, check_new_folder

    check_new_folder(out)
    names: list[str] = []

    def fill(tmp: Path) -> None:
        hdr = obs.header
        meth = det.config.method.upper()
        fits_writer(det.snr, hdr, INVMETH=meth, BUNIT="S/N")(tmp / "snr.fits")
        names.append("snr.fits")
        if det.flux is not None:
            fits_writer(det.flux, hdr, INVMETH=meth, BUNIT="PSF units")(tmp / "flux.fits")
            names.append("flux.fits")
        if det.flux_err is not None:
            fits_writer(det.flux_err, hdr, INVMETH=meth,
                        BUNIT="PSF units")(tmp / "flux_err.fits")
            names.append("flux_err.fits")
        for name, img in det.extra_maps.items():
            fits_writer(img, hdr, INVMETH=meth, BUNIT="probability" if name == "pfa" else
                        "")(tmp / f"{name}.fits")
            names.append(f"{name}.fits")
        meta = {"method": det.config.method, "threshold": det.config.threshold,
                "fwhm_pixels": det.fwhm, "input": obs.source}
        candidates_writer(det.candidates, meta)(tmp / "candidates.ecsv")
        plot_detection(det, tmp / "detection.png")
        rep = report(det, obs, extra)
        (tmp / "report.json").write_text(json.dumps(rep, indent=2, default=_jsonable))
        names.extend(["candidates.ecsv", "detection.png", "report.json"])
        if more is not None:
            more(tmp)

    with Staged() as st:
        st.stage_folder(out, fill)
        st.commit()
    return names


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return str(v)
