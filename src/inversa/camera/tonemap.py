"""Tone mapping: HDR radiance (linear camera RGB, any range) -> display sRGB in [0, 1].

A local operator followed by a global one, in the manner of Durand and Dorsey (2002):

1. colour: camera RGB -> linear sRGB with the white balance and colour matrix;
   luminance ``L = 0.2126 R + 0.7152 G + 0.0722 B``;
2. **local**: ``log L = B + D`` with the base ``B`` an edge-preserving smoothing of
   ``log L`` (a guided filter, He et al. 2010, guided by ``log L`` itself, radius 2 % of
   the image diagonal) and ``D`` the detail. The base is compressed so that it spans at
   most ``contrast`` (default 100:1), with its ``anchor_percentile`` (99 %) mapped to 1;
   the detail is kept: ``L' = exp(c (B - B_99) + D)``, ``c = min(1, log(contrast) /
   (B_99 - B_1))``;
3. **global**: a Reinhard curve ``L'' = L' (1 + L' / w^2) / (1 + L')`` with white point
   ``w`` (the largest ``L'``, at most 4), which rolls off what is left above 1;
4. colour is carried by the ratios ``(rgb + f) / (L + f)`` (raised to ``saturation``),
   with ``f`` a thousandth of the 99th-percentile luminance: near black, where the
   ratios are noise, pixels fade to grey instead of taking saturated random colours;
   then the sRGB gamma.

Every step is a fixed, documented function of the image: the same radiance gives the
same picture. Values are clipped only at the very end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from inversa.camera.isp import ISPParams, apply_ccm, apply_gains, srgb_gamma

LUMA = (0.2126, 0.7152, 0.0722)


@dataclass(frozen=True)
class ToneMapConfig:
    """Settings of :func:`tonemap` (see the module docstring)."""

    contrast: float = 100.0
    anchor_percentile: float = 0.99
    radius: float = 0.02  # of the image diagonal
    eps: float = 1e-3  # guided-filter regularisation (log units squared)
    saturation: float = 0.8


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    k = 2 * r + 1
    return F.avg_pool2d(F.pad(x, (r, r, r, r), mode="replicate"), k, stride=1)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter on (N, 1, H, W): the locally linear ``a I + b`` that best
    fits ``src`` in every ``(2r+1)^2`` window, averaged (edge-preserving smoothing)."""
    mi, ms = _box(guide, radius), _box(src, radius)
    cov = _box(guide * src, radius) - mi * ms
    var = _box(guide * guide, radius) - mi * mi
    a = cov / (var + eps)
    b = ms - a * mi
    return _box(a, radius) * guide + _box(b, radius)


def tonemap(x: torch.Tensor, isp: ISPParams = ISPParams(),
            config: ToneMapConfig = ToneMapConfig()) -> torch.Tensor:
    """Radiance ``(1, 3, H, W)`` or ``(3, H, W)`` in camera RGB -> display sRGB in [0, 1].

    Examples
    --------
    >>> y = tonemap(torch.rand(3, 32, 32) * 100)
    >>> y.shape, bool(y.min() >= 0), bool(y.max() <= 1)
    (torch.Size([3, 32, 32]), True, True)
    """
    squeeze = x.dim() == 3
    v = (x[None] if squeeze else x).float().clamp(min=0)
    rgb = apply_ccm(apply_gains(v, isp.wb), isp.ccm).clamp(min=0)
    lum = sum(c * rgb[:, i:i + 1] for i, c in enumerate(LUMA)).clamp(min=1e-6)
    ll = torch.log(lum)
    h, w = ll.shape[-2:]
    r = max(1, int(round(config.radius * math.hypot(h, w))))
    r = min(r, max(1, min(h, w) // 2 - 1))
    base = guided_filter(ll, ll, r, config.eps)
    detail = ll - base
    flat = base.flatten()
    hi = float(torch.quantile(flat, config.anchor_percentile))
    lo = float(torch.quantile(flat, 1 - config.anchor_percentile))
    c = min(1.0, math.log(config.contrast) / max(hi - lo, 1e-6))
    lp = torch.exp(c * (base - hi) + detail)
    white = min(float(lp.max()), 4.0)
    white = max(white, 1.0)
    ld = lp * (1 + lp / white ** 2) / (1 + lp)
    floor = 1e-3 * float(torch.quantile(lum.flatten(), 0.99))
    out = ((rgb + floor) / (lum + floor)).clamp(min=0) ** config.saturation * ld
    out = srgb_gamma(out.clamp(0, 1))
    return out[0] if squeeze else out


__all__ = ["ToneMapConfig", "guided_filter", "tonemap"]
