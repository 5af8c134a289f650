"""Burst reconstruction: one clean, demosaicked, higher-resolution image from a raw burst.

Methods (``ReconConfig.method``):

- ``map``: the maximum a posteriori estimate

  .. math::  \\min_x \\tfrac12 \\sum_k \\| W_k^{1/2} (y_k - M D B W_{P_k} x) \\|^2
             + \\lambda \\phi(x)

  with the motions ``P_k`` from :func:`inversa.burst.align.align_burst` (optionally
  refined against the current estimate), per-pixel weights ``W_k`` = inverse noise
  variance (shot + read model, estimated from the reference frame when not given) times a
  robust (Cauchy) weight recomputed from the residuals of a first solve, zero on saturated
  pixels; solved by half-quadratic splitting (conjugate gradients on the data term, the
  prox of ``phi``: TV, wavelet l1, or the shipped denoiser as plug-and-play prior),
  started from ``merge``.
- ``merge``: robust kernel regression of the aligned samples (:mod:`inversa.burst.merge`).
- ``single``: the same MAP problem with the reference frame only (demosaicking, denoising
  and upsampling in one), what a one-frame burst gives.

``anchor`` (bilinear demosaic + bicubic upsampling of the reference) is the baseline that
every method must beat (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Literal

import torch

from inversa.burst.align import AlignConfig, Alignment, MotionModel, align_burst
from inversa.burst.forward import BurstOperator
from inversa.burst.merge import anchor, merge
from inversa.camera.burstio import Burst
from inversa.camera.noise import NoiseLevels
from inversa.camera.noise_estimate import estimate_noise_levels
from inversa.errors import InputError
from inversa.operators.base import Mask
from inversa.solvers.base import Stop
from inversa.solvers.splitting import HQS, sigma_schedule

Method = Literal["single", "merge", "map", "anchor"]
PriorName = Literal["tv", "wavelet", "pnp"]
# lambda per unit of reference noise variance, by prior (calibrated on training images,
# benchmarks/calibrate_burst.py)
AUTO_LAMBDA = {"tv": 3.0, "wavelet": 3.0, "pnp": 0.06}
SINGLE_LAMBDA_FACTOR = 7.0  # single frame, TV: lam = factor * noise variance at REF_LEVEL
REF_LEVEL = 0.1


@dataclass(frozen=True)
class ReconConfig:
    """Settings of :func:`reconstruct`."""

    method: Method = "map"
    scale: int = 4
    prior: PriorName = "tv"
    lam: float | None = None  # None: AUTO_LAMBDA[prior] * sigma_ref^2
    iterations: int = 8
    cg_iter: int = 8
    robust: bool = True
    motion: MotionModel = "similarity"
    refine: int = 0  # rounds of motion refinement against the estimate
    mu0: float = 0.3  # first HQS penalty (TV / wavelet), data term normalised to unit noise
    mu_decades: float = 2.0
    sigma_max: float = 49 / 255  # first denoiser level (pnp)
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.scale not in (1, 2, 3, 4):
            raise InputError(f"scale must be 1, 2, 3 or 4, got {self.scale}", field="scale")
        if self.method not in ("single", "merge", "map", "anchor"):
            raise InputError(f"unknown method {self.method!r}", field="method")
        if self.prior not in AUTO_LAMBDA:
            raise InputError(f"prior must be tv, wavelet or pnp, got {self.prior!r}",
                             field="prior")


@dataclass
class ReconResult:
    """``x`` (1, 3, sH, sW) linear camera RGB on the reference grid, and how it was made."""

    x: torch.Tensor
    alignment: Alignment | None
    noise: NoiseLevels
    used: torch.Tensor  # (K,) bool: frames that went into the result
    warnings: list[str] = field(default_factory=list)


def make_prior(name: str):
    from inversa.priors import LearnedPrior, TotalVariation, WaveletL1

    if name == "tv":
        return TotalVariation(joint_channels=True, max_iter=10, warm_start=True)
    if name == "wavelet":
        return WaveletL1(wavelet="sym8", levels=3, shifts=1)
    return LearnedPrior()


def _frame_weights(a: BurstOperator, y: torch.Tensor, x: torch.Tensor, noise: NoiseLevels,
                   robust: bool) -> tuple[torch.Tensor, float]:
    """Per-pixel data weights (1, K, h, w) normalised to the median noise variance."""
    pred = a(x)
    var = noise.variance(pred.clamp(min=0)) + 1e-10
    ref_var = float(var.median())
    w = ref_var / var
    if robust:
        r = (y - pred) / var.sqrt()
        w = w / (1 + (r / 3) ** 2)
    w = w * (y < 0.999)  # saturated samples carry no information on the scene
    return w, ref_var


def map_solve(y: torch.Tensor, a: BurstOperator, x0: torch.Tensor, noise: NoiseLevels,
              config: ReconConfig) -> torch.Tensor:
    """HQS on the weighted MAP problem, two rounds of robust weights."""
    prior = make_prior(config.prior)
    x = x0
    rounds = 2 if config.robust else 1
    for r in range(rounds):
        w, ref_var = _frame_weights(a, y, x, noise, robust=config.robust and r > 0)
        sw = w.sqrt()
        aw = Mask(sw) @ a
        yw = sw * y
        sigma = math.sqrt(ref_var)
        iters = config.iterations if r == 0 else max(2, config.iterations // 2)
        if config.prior == "pnp":
            lam_dpir = config.lam if config.lam is not None else AUTO_LAMBDA["pnp"]
            s_max = config.sigma_max if r == 0 else 4 * sigma
            sig = sigma_schedule(max(s_max, sigma), max(sigma, 1e-3), iters)
            lam = lam_dpir * sigma ** 2
            mus = [lam / s ** 2 for s in sig]
        else:
            lam = config.lam if config.lam is not None else AUTO_LAMBDA[config.prior] * ref_var
            # penalty grows geometrically: loose coupling first, the MAP solution at the end
            mus = [config.mu0 * 10 ** (config.mu_decades * i / max(iters - 1, 1))
                   for i in range(iters)]
        solver = HQS(aw, yw, prior, lam, mus, cg_iter=config.cg_iter,
                     stop=Stop(max_iter=iters, tol=0.0))
        x = solver.run(x).x
    return x.clamp(min=0)


def single(raw0: torch.Tensor, cfa: str, scale: int, noise: NoiseLevels,
           config: ReconConfig) -> torch.Tensor:
    """Reference frame only: joint demosaicking + denoising (the MAP problem at the
    sensor resolution), then bicubic upsampling by ``scale``."""
    import torch.nn.functional as F

    from dataclasses import replace

    eye = torch.eye(3, dtype=torch.float64)[None]
    h, w = raw0.shape
    a = BurstOperator(eye, (3, h, w), 1, cfa)
    x0 = anchor(raw0, cfa, 1)
    # one linear frame: colour TV demosaics and denoises better than the sRGB-trained
    # denoiser (measured, docs/benchmarks.md); its weight is larger than with many frames
    cfg = replace(config, prior="tv") if config.prior == "pnp" else config
    if cfg.lam is None:
        ref_var = float(noise.variance(torch.tensor(REF_LEVEL)))
        cfg = replace(cfg, lam=SINGLE_LAMBDA_FACTOR * ref_var)
    x = map_solve(raw0[None, None], a, x0, noise, cfg)
    if scale > 1:
        x = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    return x.clamp(min=0)


def _noise_of(burst: Burst, noise: NoiseLevels | None) -> NoiseLevels:
    if noise is not None:
        return noise
    return estimate_noise_levels(burst.raw[0])


def reconstruct(burst: Burst, config: ReconConfig = ReconConfig(),
                noise: NoiseLevels | None = None, motions_hr: torch.Tensor | None = None,
                ) -> ReconResult:
    """Reconstruct a burst (frame 0 the reference). ``noise=None``: estimated (blind);
    ``motions_hr`` (K, 3, 3): known frame -> reference motions (skips alignment).

    Examples
    --------
    >>> from inversa.burst.synth import SynthConfig, synthesize_burst
    >>> img = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    >>> sb = synthesize_burst(img, SynthConfig(scale=2, frames=4), seed=0)
    >>> reconstruct(sb.burst, ReconConfig(method="merge", scale=2)).x.shape
    torch.Size([1, 3, 64, 64])
    """
    raw = burst.raw.float()
    if config.max_frames is not None:
        raw = raw[: config.max_frames]
        motions_hr = None if motions_hr is None else motions_hr[: config.max_frames]
    k = raw.shape[0]
    s = config.scale
    lv = _noise_of(burst, noise)
    msgs: list[str] = []
    if config.method == "anchor":
        return ReconResult(anchor(raw[0], burst.cfa, s).clamp(min=0), None, lv,
                           torch.arange(k) == 0)
    method = config.method
    if k == 1 and method != "single":
        method = "single"
    alignment = None
    used = torch.ones(k, dtype=torch.bool)
    if method == "single":
        return ReconResult(single(raw[0], burst.cfa, s, lv, config), None, lv,
                           torch.arange(k) == 0, msgs)
    if motions_hr is not None:
        m_hr = torch.as_tensor(motions_hr, dtype=torch.float64)
    else:
        rel = burst.relative_exposure()[:k] if burst.exposure is not None else None
        alignment = align_burst(raw, AlignConfig(model=config.motion), exposure=rel)
        used = alignment.ok.clone()
        bad = (~used).nonzero().flatten().tolist()
        if bad:
            msg = (f"frames {bad} do not overlap the reference or could not be aligned "
                   f"(ncc {[round(float(alignment.ncc[i]), 2) for i in bad]}); left out")
            msgs.append(msg)
            warnings.warn(msg, stacklevel=2)
        raw = raw[used]
        m_hr = alignment.to_hr(s)[used]
    x = merge(raw, burst.cfa, m_hr, s, lv)
    if method == "merge":
        return ReconResult(x.clamp(min=0), alignment, lv, used, msgs)
    h, w = raw.shape[-2:]
    a = BurstOperator(m_hr, (3, h * s, w * s), s, burst.cfa)
    y = raw[None]
    x = map_solve(y, a, x, lv, config)
    for _ in range(config.refine):
        from inversa.burst.refine import refine_motions

        m_hr = refine_motions(x, raw, burst.cfa, m_hr, s)
        a = BurstOperator(m_hr, (3, h * s, w * s), s, burst.cfa)
        x = map_solve(y, a, x, lv, config)
    return ReconResult(x, alignment, lv, used, msgs)
