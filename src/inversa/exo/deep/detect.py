"""The deep detector on one observation: maps of calibrated S/N, flux and flux error.

1. PACO's per-frame terms of the cube with its true angles (:mod:`.features`), and of
   ``nulls`` versions with the angle order reversed or shuffled (no source adds up).
2. The model: a shipped or saved one (``model``), or per-observation training on the cube
   itself with the shuffled-angle trick (:mod:`.samples`), started from the shipped
   generic model when there is one (``init``).
3. Logits of the real and the null cubes; the null logits calibrate the real ones into a
   false-alarm probability and an S/N-equivalent (:mod:`.calibration`).
4. Flux and its error: PACO's estimator from the same terms, the error scaled per annulus
   by the robust dispersion of the null S/N (as :func:`inversa.exo.paco.paco_map` does).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from inversa.errors import InputError
from inversa.exo.deep.calibration import ScoreCalibrator, null_angles
from inversa.exo.deep.features import FrameTerms, features, frame_terms
from inversa.exo.deep.flux import DEFAULT_FLUX_MODEL
from inversa.exo.deep.model import DEFAULT_MODEL, DeepDetector, has_detector, load_detector
from inversa.exo.deep.training import (
    DeepTrainSpec,
    build_samples,
    cached_samples,
    features_key,
    train_detector,
)
from inversa.exo.null_tail import gaussian_pfa, load_tail
from inversa.exo.paco import PacoConfig, _channels, _geometry, annulus_stats

MIN_FRAMES = 8


@dataclass(frozen=True)
class DeepConfig:
    """``model``: a shipped name or a ``.pt`` path, or ``None`` for per-observation
    training (started from ``init`` when it exists)."""

    model: str | None = None
    init: str | None = DEFAULT_MODEL
    train: DeepTrainSpec = field(default_factory=DeepTrainSpec)
    nulls: int = 3
    seed: int = 0
    workdir: str | None = None   # keeps samples and checkpoint: an interrupted run resumes
    paco: PacoConfig = field(default_factory=lambda: PacoConfig(calibrate=False))
    null_tail: bool = True       # map the S/N-equivalent's far tail (exo.null_tail), when
                                 # one is shipped for ``model``
    flux_model: str | None = DEFAULT_FLUX_MODEL  # candidates' flux and error bar from this
                                 # flux network (exo.deep.flux), when it exists; None: PACO's
                                 # unbiased estimate


@dataclass
class DeepMaps:
    """S/N-equivalent, false-alarm probability, raw logits, flux and error (H, W)."""

    snr: torch.Tensor
    pfa: torch.Tensor
    logit: torch.Tensor
    flux: torch.Tensor
    flux_err: torch.Tensor
    scale: torch.Tensor
    fwhm: float
    seconds: dict[str, float]
    trained: dict | None = None
    null_tail: bool = False      # whether the shipped far-tail map was applied
    paco: PacoConfig = field(default_factory=PacoConfig)  # the features' PACO statistics
                                 # (the model's trend removal and covariance estimate)
    paco_snr: torch.Tensor | None = None  # PACO's S/N from those statistics, scaled per
                                 # annulus (no far tail): where a detected source is


def check_trainable(cube: torch.Tensor, fwhm: float, radius: float) -> None:
    """Refuse cubes the detector cannot learn from, with the reason."""
    t, h, w = cube.shape[-3:]
    if t < MIN_FRAMES:
        raise InputError(f"{t} frames: the deep detector needs at least {MIN_FRAMES} "
                         "(angle shuffling has nothing to mix); use --method paco",
                         field="cube")
    room = min(h, w) / 2 - radius - 1.5 * fwhm - 1
    if room < 4 * fwhm:
        raise InputError(f"frames of {h} x {w} pixels leave under 4 FWHM of separations to "
                         "train on; use --method paco", field="cube")


def _logits(model: DeepDetector, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x[None])[0]


def observation_model(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor,
                      config: DeepConfig, channels: int, show_progress: bool = False,
                      progress: Callable[[int, int], None] | None = None,
                      start: DeepDetector | None = None) -> tuple[DeepDetector, dict]:
    """Train a detector on this cube (shuffled angles, injected companions), from
    ``start`` (``config.init`` already loaded) or from ``config.init``."""
    if start is None and config.init and has_detector(config.init):
        start = load_detector(config.init)
    if start is not None:
        model = start
        model.channels = channels
        model.requires_grad_(True)
        init = config.init
    else:
        torch.manual_seed(config.seed)
        model = DeepDetector(channels=channels)
        init = None
    spec = config.train
    tmp = None
    if config.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="inversa-deep-")
        work = Path(tmp.name)
    else:
        work = Path(config.workdir)
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(config.seed + 1)
    model.detrend, model.covariance = config.paco.detrend, config.paco.covariance
    x, y = cached_samples(work, lambda: build_samples([(cube, angles, psf)], spec.samples, gen,
                                                      spec.sample, config.paco, progress),
                          key=features_key(config.paco))
    t1 = time.perf_counter()
    res = train_detector(model, x, y, spec, work, show_progress=show_progress,
                         on_step=progress)
    model.eval().requires_grad_(False)
    if tmp is not None:
        tmp.cleanup()
    info = {"init": init, "samples": len(x), "steps": res["step"],
            "loss": res["loss"], "samples_seconds": t1 - t0,
            "train_seconds": time.perf_counter() - t1}
    return model, info


@dataclass
class FittedDetector:
    """A detector ready for one observation: the model, its score calibration and the
    per-annulus flux-error scale (both from the observation's null cubes)."""

    model: DeepDetector
    calibrator: ScoreCalibrator
    scale: torch.Tensor
    config: DeepConfig
    trained: dict | None
    seconds: dict[str, float]

    def apply(self, cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor,
              terms: FrameTerms | None = None) -> DeepMaps:
        """Maps of ``cube`` (the observation, or a copy with injected companions)."""
        t0 = time.perf_counter()
        real = terms if terms is not None else frame_terms(cube, angles, psf, self.config.paco)
        x = features(real)
        valid = x[-1] > 0
        logit = _logits(self.model, x)
        logit = torch.where(valid, logit, torch.full_like(logit, math.nan))
        snr = self.calibrator.snr(logit)
        tail = load_tail(self.config.model) if self.config.null_tail and self.config.model \
            else None
        if tail is not None:
            snr = tail(snr)
            pfa = gaussian_pfa(snr)
        else:
            pfa = self.calibrator.pfa(torch.nan_to_num(logit, nan=-math.inf)).to(torch.float32)
        pfa = torch.where(valid, pfa, torch.full_like(pfa, math.nan))
        flux, err = real.flux()
        seconds = {**self.seconds, "apply": time.perf_counter() - t0}
        return DeepMaps(snr=snr, pfa=pfa, logit=logit, flux=flux, flux_err=err * self.scale,
                        scale=self.scale, fwhm=real.fwhm, seconds=seconds,
                        trained=self.trained, null_tail=tail is not None,
                        paco=self.config.paco, paco_snr=real.snr() / self.scale)


def fit_observation(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor,
                    config: DeepConfig = DeepConfig(), show_progress: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> FittedDetector:
    """Load or train the model for this observation and calibrate its scores.

    The features are computed as the model's were (its ``detrend`` and ``covariance``; for
    per-observation training, the initial model's, else ``config.paco``'s)."""
    t0 = time.perf_counter()
    channels = cube.shape[0] if cube.dim() == 4 else 1
    model = load_detector(config.model, channels) if config.model else None
    source = model if model is not None else \
        load_detector(config.init) if config.init and has_detector(config.init) else None
    if source is not None:
        config = replace(config, paco=replace(config.paco, detrend=source.detrend,
                                              covariance=source.covariance))
    _, psfs = _channels(cube, psf, angles)
    f, radius, _ = _geometry(psfs, config.paco)
    check_trainable(cube, f, radius)
    nulls = [frame_terms(cube, a, psf, config.paco)
             for a in null_angles(angles, config.nulls, config.seed + 7)]
    seconds = {"null_features": time.perf_counter() - t0}
    trained = None
    if model is None:
        model, trained = observation_model(cube, angles, psf, config, channels, show_progress,
                                           progress, start=source)
        seconds.update({k: v for k, v in trained.items() if k.endswith("seconds")})
    t1 = time.perf_counter()
    null_x = [features(n) for n in nulls]
    cal = ScoreCalibrator.fit([_logits(model, x) for x in null_x], null_x[0][-1] > 0)
    seconds["calibration"] = time.perf_counter() - t1
    _, scale = annulus_stats(nulls[0].snr(), nulls[0].fwhm)
    return FittedDetector(model=model, calibrator=cal, scale=scale, config=config,
                          trained=trained, seconds=seconds)


def deep_maps(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor,
              config: DeepConfig = DeepConfig(), show_progress: bool = False,
              progress: Callable[[int, int], None] | None = None) -> DeepMaps:
    """Run the deep detector on a cube (T, H, W) or (L, T, H, W)."""
    t0 = time.perf_counter()
    fitted = fit_observation(cube, angles, psf, config, show_progress, progress)
    maps = fitted.apply(cube, angles, psf)
    maps.seconds["total"] = time.perf_counter() - t0
    return maps
