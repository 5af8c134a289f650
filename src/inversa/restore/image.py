"""Image restoration: ``min_x 1/2 ||y - A x||^2 + lam phi(x)``, A = [decimation] o [blur].

The forward model: ``A = BoxDecimate(scale) @ Conv2d(kernel, reflect boundary)`` (either
factor may be absent; with neither, ``A = I`` and restoration is denoising). Solvers:

- ``tv``, ``wavelet``, ``smooth`` with ``A = I``: the exact prox ``prox_{lam phi}(y)``;
  otherwise FISTA (step ``1/||A||^2``; TV prox warm-started). Colour TV couples the
  channels; the wavelet prior is sym8, 4 levels, 2x2 cycle spinning, in an orthonormal
  opponent colour space, and for denoising without ``lam`` its thresholds are set per
  band by BayesShrink (Chang, Yu & Vetterli 2000).
- ``pnp``: plug-and-play HQS with the shipped denoiser (DPIR schedule, 8 iterations,
  ``sigma_k`` from 49/255 down to the noise level); for ``A = I`` it reduces to one pass of
  the denoiser at the noise level (the HQS fixed point), so ``pnp`` equals ``learned``.
- ``learned``: the denoiser alone (pure denoising only).

Automatic ``lam`` (when not given), ``lam = c * sigma ** p`` with ``(c, p)`` per prior,
task and image kind (colour or gray) fitted by ``benchmarks/calibrate_lambda.py`` on
random crops of *training* images (never the test images) by a grid search of the
PSNR-optimal ``lam`` at sigma 5..50 / 255 (denoising) and 0.005..0.04 (deblurring):
see :data:`AUTO_LAMBDA`. The noise level, when not given, comes from
:func:`~inversa.restore.noise.estimate_noise_sigma`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from inversa.errors import InputError
from inversa.operators import BoxDecimate, Conv2d, Identity, LinearOperator
from inversa.priors import Prior, Smoothness, TotalVariation, WaveletL1
from inversa.priors.wavelet import bayes_shrink_weights
from inversa.restore.noise import estimate_noise_sigma
from inversa.solvers import FISTA, Stop, pnp_hqs

PRIORS = ("tv", "wavelet", "smooth", "pnp", "learned")

# (task, prior, colour|gray) -> (c, p): lam = c * sigma**p.
# Fitted by `python benchmarks/calibrate_lambda.py` (output in benchmarks/calibrate_lambda.out.txt).
AUTO_LAMBDA: dict[tuple[str, str, str], tuple[float, float]] = {
    ("denoise", "tv", "color"): (2.491, 1.28),
    ("inverse", "tv", "color"): (3.103, 1.83),
    ("denoise", "tv", "gray"): (1.996, 1.35),
    ("inverse", "tv", "gray"): (5.886, 2.02),
    ("inverse", "wavelet", "color"): (3.208, 1.83),
    ("inverse", "wavelet", "gray"): (2.287, 1.7),
    ("denoise", "smooth", "color"): (28.68, 1.73),
    ("inverse", "smooth", "color"): (23.6, 1.88),
    ("denoise", "smooth", "gray"): (25.11, 1.69),
    ("inverse", "smooth", "gray"): (7.724, 1.54),
}


@dataclass(frozen=True)
class RestoreConfig:
    """What to solve and how (see module docstring)."""

    prior: str = "pnp"
    noise_sigma: float | None = None  # in units of the full range [0, 1]; None: estimate
    lam: float | None = None  # None: automatic from the noise level
    kernel: torch.Tensor | None = None  # blur kernel, normalised
    scale: int = 1  # super-resolution factor (box integration + decimation)
    iterations: int | None = None  # None: 200 (FISTA), 8 (PnP)


@dataclass
class RestoreResult:
    x: torch.Tensor
    noise_sigma: float
    lam: float | None
    iterations: int
    sigma_estimated: bool


def forward_model(shape: tuple[int, ...], kernel: torch.Tensor | None, scale: int,
                  ) -> LinearOperator:
    """``A`` for a high-resolution image of shape ``(C, H*scale, W*scale)``."""
    if kernel is None and scale == 1:
        return Identity(shape)
    a: LinearOperator | None = None
    if kernel is not None:
        method = "fft" if max(kernel.shape) > 15 else "direct"
        a = Conv2d(kernel, shape, boundary="reflect", method=method)
    if scale > 1:
        d = BoxDecimate(scale, shape)
        a = d if a is None else d @ a
    return a


def auto_lambda(prior: str, sigma: float, inverse: bool, channels: int) -> float:
    """``lam = c sigma^p`` for the task (denoising or inverse problem) and image kind."""
    kind = "color" if channels == 3 else "gray"
    c, p = AUTO_LAMBDA[("inverse" if inverse else "denoise", prior, kind)]
    return c * max(sigma, 1e-4) ** p


def make_prior(name: str, inverse: bool = False) -> Prior:
    """The classical priors as ``restore`` uses them. Colour TV couples the channels
    (vectorial TV); inside FISTA the TV prox is warm-started, so few inner steps suffice."""
    if name == "tv":
        if inverse:
            return TotalVariation(joint_channels=True, max_iter=10, tol=1e-4, warm_start=True)
        return TotalVariation(joint_channels=True, max_iter=25, tol=1e-3)
    if name == "wavelet":
        return WaveletL1("sym8", levels=4, shifts=2, color=True)
    if name == "smooth":
        return Smoothness("gradient")
    raise InputError(f"unknown prior {name!r}; expected one of {PRIORS}", field="prior")


def restore(y: torch.Tensor, config: RestoreConfig,
            progress: Callable[[int, int], None] | None = None) -> RestoreResult:
    """Restore ``y`` (``(1, C, H, W)`` in [0, 1]); returns the estimate (not clipped).

    Examples
    --------
    >>> y = torch.rand(1, 1, 32, 32)
    >>> restore(y, RestoreConfig(prior="tv", noise_sigma=0.1)).x.shape
    torch.Size([1, 1, 32, 32])
    """
    if config.prior not in PRIORS:
        raise InputError(f"unknown prior {config.prior!r}; expected one of {PRIORS}",
                         field="prior")
    if not torch.isfinite(y).all():
        raise InputError("image has NaN/Inf pixels", field="image")
    if config.noise_sigma is not None and config.noise_sigma < 0:
        raise InputError(f"noise level must be >= 0, got {config.noise_sigma}",
                         field="noise-sigma")
    if config.lam is not None and config.lam < 0:
        raise InputError(f"lambda must be >= 0, got {config.lam}", field="lam")
    if config.scale < 1:
        raise InputError(f"scale must be >= 1, got {config.scale}", field="scale")
    inverse = config.kernel is not None or config.scale > 1
    if config.prior == "learned" and inverse:
        raise InputError("'learned' applies the denoiser alone; use --prior pnp for blur or "
                         "scale", field="prior")
    estimated = config.noise_sigma is None
    sigma = estimate_noise_sigma(y) if estimated else float(config.noise_sigma)
    c, h, w = y.shape[1:]
    s = config.scale
    kernel = config.kernel.to(y.device) if config.kernel is not None else None
    a = forward_model((c, h * s, w * s), kernel, s)
    x0 = (torch.nn.functional.interpolate(y, scale_factor=s, mode="bicubic",
                                          align_corners=False) if s > 1 else y.clone())

    def one_pass(x: torch.Tensor, lam: float | None) -> RestoreResult:
        if progress:
            progress(1, 1)
        return RestoreResult(x, sigma, lam, 1, estimated)

    if config.prior in ("pnp", "learned"):
        from inversa.nets.weights import load_denoiser
        from inversa.priors.learned import LearnedPrior

        prior = LearnedPrior(load_denoiser(device=y.device))
        if not inverse:
            with torch.no_grad():
                return one_pass(prior.denoise(y, max(sigma, 1e-3)), None)
        iters = config.iterations or 8
        lam = config.lam if config.lam is not None else 0.23
        with torch.no_grad():
            res = pnp_hqs(a, y, prior, sigma, iters=iters, lam=lam, x0=x0,
                          callback=(lambda k, _x: progress(k, iters)) if progress else None)
        return RestoreResult(res.x, sigma, lam, res.iterations, estimated)

    prior = make_prior(config.prior, inverse)
    if config.prior == "wavelet" and not inverse and config.lam is None:
        # adaptive thresholds per band (BayesShrink) instead of one lambda
        prior.band_weights = bayes_shrink_weights(prior, y, max(sigma, 1e-4))
        return one_pass(prior.prox(y, 1.0), None)
    lam = config.lam if config.lam is not None else auto_lambda(config.prior, sigma, inverse, c)
    if not inverse:
        return one_pass(prior.prox(y, lam), lam)
    iters = config.iterations or 200
    solver = FISTA(a, y, prior, lam, stop=Stop(iters, 1e-5),
                   callback=(lambda k, _x: progress(k, iters)) if progress else None)
    res = solver.run(x0)
    return RestoreResult(res.x, sigma, lam, res.iterations, estimated)
