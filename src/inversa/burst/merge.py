"""Fast robust accumulation of aligned raw samples (kernel regression).

In the spirit of Wronski et al. 2019 ("Handheld multi-frame super-resolution"): every raw
sample ``y_k(i, j)`` of colour ``c`` lands at the high-resolution position
``P_k (s j + (s-1)/2, s i + (s-1)/2)`` of the reference grid; each output pixel ``X`` of
channel ``c`` is the normalised, Gaussian-weighted average of the samples around it,

.. math::  \\hat x_c(X) = \\frac{\\sum w_{kn} \\rho_{kn} g(X - X_{kn}) y_{kn}}
                              {\\sum w_{kn} \\rho_{kn} g(X - X_{kn})}

with ``g`` a Gaussian whose width follows the sample density of the channel
(``~ 2s / sqrt(K)``), ``w`` the noise weights and ``rho`` a robustness term that discounts
samples far (beyond the noise) from the reference frame's local colour (moving objects,
misalignment). Pixels no sample reaches fall back on the reference frame upsampled.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from inversa.burst.sampling import sample_at
from inversa.camera.cfa import cfa_masks
from inversa.camera.demosaic import demosaic_bilinear, demosaic_malvar
from inversa.camera.noise import NoiseLevels


def upsample(rgb: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling ``(1, 3, h, w) -> (1, 3, s h, s w)`` with the DESIGN.md pixel
    centres (``align_corners=False``)."""
    if scale == 1:
        return rgb
    return F.interpolate(rgb, scale_factor=scale, mode="bicubic", align_corners=False)


def anchor(raw0: torch.Tensor, cfa: str, scale: int) -> torch.Tensor:
    """The plain baseline: bilinear demosaic of the reference + bicubic upsampling,
    ``(1, 3, sH, sW)`` (pixel centres as in DESIGN.md: ``align_corners=False``)."""
    return upsample(demosaic_bilinear(raw0, cfa)[None], scale)


def merge(raw: torch.Tensor, cfa: str, matrices_hr: torch.Tensor, scale: int,
          noise: NoiseLevels | None = None, width: float = 0.6, robust: bool = True,
          radius: int | None = None, frame_weights: torch.Tensor | None = None,
          sample_weights: torch.Tensor | None = None,
          saturated: torch.Tensor | None = None,
          flow: torch.Tensor | None = None) -> torch.Tensor:
    """Kernel-regression merge of a raw burst ``(K, h, w)`` -> ``(1, 3, s h, s w)``.

    ``matrices_hr`` (K, 3, 3) frame -> reference in high-resolution pixels; ``saturated``
    (K, h, w) bool: samples to leave out as clipped (default: ``raw >= 0.999``; give it
    when the frames were divided by their exposures); ``flow`` (K, 2, s h, s w): a
    displacement added to each frame's motion (moving objects,
    :func:`inversa.burst.local_motion.object_flow`).
    """
    k, h, w = raw.shape
    s = scale
    hh, ww = h * s, w * s
    dt = raw.dtype
    masks = cfa_masks(cfa, h, w, dtype=dt)  # (3, h, w)
    chan = masks.argmax(0).reshape(-1)  # colour of every raw pixel
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    q = torch.stack([s * xs.reshape(-1) + (s - 1) / 2, s * ys.reshape(-1) + (s - 1) / 2,
                     torch.ones(h * w, dtype=torch.float64)])
    p = matrices_hr.double() @ q  # (K, 3, N)
    px, py = (p[:, 0] / p[:, 2]).to(dt), (p[:, 1] / p[:, 2]).to(dt)
    if flow is not None:
        u = sample_at(flow.to(dt), q[0].to(dt).expand(k, -1), q[1].to(dt).expand(k, -1))
        px, py = px + u[:, 0], py + u[:, 1]
    y = raw.reshape(k, -1)
    ref = upsample(demosaic_malvar(raw[0], cfa)[None], s)[0]  # for robustness and holes
    # per-sample weights: noise and robustness
    wts = torch.ones_like(y)
    if frame_weights is not None:
        wts = wts * frame_weights.to(dt).reshape(-1, 1)
    if sample_weights is not None:
        wts = wts * sample_weights.to(dt).reshape(k, -1)
    if noise is not None or robust:
        pred = sample_at(ref[None].expand(k, -1, -1, -1), px, py, padding="border")  # (K, 3, N)
        pred = pred.gather(1, chan.expand(k, 1, -1)).squeeze(1)
        lv = noise if noise is not None else NoiseLevels(1e-3, 1e-5)
        var = lv.variance(pred.clamp(min=0)) + 1e-8
        if robust:
            # reference interpolation error counts as noise too (texture, aliasing)
            d = (y - pred).abs() / (3 * var.sqrt())
            wts = wts * torch.exp(-0.5 * (d - 1).clamp(min=0) ** 2)
    sat = y >= 0.999 if saturated is None else saturated.reshape(k, -1)
    wts = wts * (~sat)
    density = torch.tensor([1 / 4, 1 / 2, 1 / 4], dtype=dt) * k / (s * s)  # samples per px
    sig = width / density.sqrt()  # per channel, in HR pixels
    r = radius if radius is not None else int(math.ceil(2 * float(sig.max())))
    r = max(1, min(r, 4 * s))
    num = torch.zeros(3, hh * ww, dtype=dt)
    den = torch.zeros(3, hh * ww, dtype=dt)
    cx, cy = px.round(), py.round()
    s_c = sig[chan].expand(k, -1)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            tx, ty = cx + dx, cy + dy
            ok = (tx >= 0) & (tx <= ww - 1) & (ty >= 0) & (ty <= hh - 1)
            d2 = (tx - px) ** 2 + (ty - py) ** 2
            g = torch.exp(-d2 / (2 * s_c ** 2)) * wts * ok
            idx = (ty.clamp(0, hh - 1) * ww + tx.clamp(0, ww - 1)).long()
            flat = (chan.expand(k, -1) * hh * ww + idx).reshape(-1)
            num.view(-1).scatter_add_(0, flat, (g * y).reshape(-1))
            den.view(-1).scatter_add_(0, flat, g.reshape(-1))
    num, den = num.reshape(3, hh, ww), den.reshape(3, hh, ww)
    eps = 1e-3
    out = (num + eps * ref) / (den + eps)
    return out[None]
