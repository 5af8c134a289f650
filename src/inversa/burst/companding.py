"""The learned prior of an HDR reconstruction, applied in a companded domain.

A denoiser network works to about the same absolute precision everywhere. On HDR
radiance (highlights at ``peak``, shadows at ``1e-3 peak`` and below) that precision is
wasted on the highlights and too coarse for the shadows: next to a bright edge the
network's residual errors (about 1 % of the edge) swamp the dark side, and the mu-law
scores of HDR (and the eye) see them. The prior step therefore runs on the companded
radiance

.. math::  T(x) = \\operatorname{sign}(x) \\frac{\\log(1 + \\mu |x| / P)}{\\log(1 + \\mu)},

(``P`` the largest radiance the burst can record, ``1 / min_k e_k`` in units of the
reference exposure; odd, so that noise around zero stays centred), with the noise level
carried through the slope of ``T`` as a per-pixel map (FFDNet's noise-map input):

.. math::  D_T(z, \\sigma) = T^{-1}\\big(D(T(z), \\sigma \\, T'(|z|))\\big), \\qquad
           T'(u) = \\frac{\\mu / P}{(1 + \\mu u / P) \\log(1 + \\mu)}.

``mu`` sets how strongly the shadows are favoured (``mu -> 0`` is the linear prior up to
the scale ``1 / P``; the benchmark's tone map uses 5000). The shipped HDR model uses 200,
chosen on training images (``benchmarks/tune_hdr_prior_domain.py``) and validation.
"""

from __future__ import annotations

import math

import torch


def compand(x: torch.Tensor, mu: float, peak: float) -> torch.Tensor:
    """``T(x)`` of the module docstring."""
    return torch.sign(x) * torch.log1p(mu * x.abs() / peak) / math.log1p(mu)


def expand(t: torch.Tensor, mu: float, peak: float) -> torch.Tensor:
    """``T^{-1}(t)``: the inverse of :func:`compand`."""
    return torch.sign(t) * torch.expm1(t.abs() * math.log1p(mu)) * (peak / mu)


def slope(x: torch.Tensor, mu: float, peak: float) -> torch.Tensor:
    """``T'(|x|)``, the factor noise is scaled by in the companded domain."""
    return (mu / peak) / ((1 + mu * x.abs() / peak) * math.log1p(mu))


def companded_prior(prior, z: torch.Tensor, sigma: torch.Tensor, mu: float,
                    peak: float) -> torch.Tensor:
    """``D_T(z, sigma)`` for a denoiser ``prior(v, sigma_map)`` taking a per-pixel noise map
    (:class:`~inversa.nets.UNetDenoiser`); ``z`` (B, C, H, W), ``sigma`` a scalar tensor
    or a map (B or 1, 1, H, W). The map is the channel mean of the slope, so all channels
    share one level."""
    sig = sigma if sigma.dim() == 4 else sigma.reshape(-1, 1, 1, 1)
    smap = sig * slope(z, mu, peak).mean(dim=1, keepdim=True)
    return expand(prior(compand(z, mu, peak), smap), mu, peak)


__all__ = ["compand", "companded_prior", "expand", "slope"]
