"""Motion refinement against the current high-resolution estimate (block coordinate
descent: Gauss-Newton on the motions, then the image is re-solved).

With ``x`` fixed, each frame's motion minimises the weighted model misfit

.. math::  \\min_{p_k} \\sum_q w_q \\big(y_k(q) - (M D W_{P(p_k)} x)(q)\\big)^2

The model prediction is exact for aliased, mosaicked frames (unlike the frame-to-frame
comparison of :mod:`inversa.burst.align`), so the estimate is no longer limited by
aliasing. The Jacobian is analytic: the warped gradient of ``x`` times the derivative of
the projected point (shared with the aligner), pushed through the (linear) integration,
decimation and mosaic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inversa.burst.align import (
    MotionModel,
    _generators,
    _weights,
    gauss_newton_step,
    normaliser,
    project,
)
from inversa.burst.sampling import sample_at
from inversa.camera.cfa import cfa_masks


def refine_motions(x: torch.Tensor, raw: torch.Tensor, cfa: str, matrices_hr: torch.Tensor,
                   scale: int, model: MotionModel = "similarity", iterations: int = 3,
                   robust: str = "huber", differentiable: bool = False,
                   dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Refined frame -> reference matrices (K, 3, 3) in high-resolution pixels.

    ``x`` (1, 3, H, W) current estimate; ``raw`` (K, h, w) frames. Frame 0 stays fixed.
    ``differentiable``: keep the dependence of the motions on ``x`` and on the input
    matrices in the autograd graph (the trainable reconstruction learns through it).
    ``dtype``: precision of the computation (float32 halves its time; the matrices
    returned are float64).
    """
    k, h, w = raw.shape
    hh, ww = h * scale, w * scale
    dt = dtype
    xd = (x if differentiable else x.detach()).to(dt)
    gx = torch.zeros_like(xd)
    gy = torch.zeros_like(xd)
    gx[..., 1:-1] = (xd[..., 2:] - xd[..., :-2]) / 2
    gy[..., 1:-1, :] = (xd[..., 2:, :] - xd[..., :-2, :]) / 2
    stack = torch.cat([xd, gx, gy], dim=1)  # (1, 9, H, W)
    t, tinv, (cx, cy, L) = normaliser(hh, ww, dt)
    hn = tinv @ matrices_hr.to(dt)[1:] @ t
    gens = _generators(model, dt, x.device)
    ys, xs = torch.meshgrid(torch.arange(hh, dtype=dt), torch.arange(ww, dtype=dt), indexing="ij")
    nx, ny = ((xs - cx) / L)[None], ((ys - cy) / L)[None]  # (1, H, W)
    masks = cfa_masks(cfa, h, w, dtype=dt)
    y = raw[1:].to(dt).reshape(k - 1, -1)

    def to_raw(v: torch.Tensor) -> torch.Tensor:  # (K, 3, H, W) -> (K, h*w)
        return (F.avg_pool2d(v, scale) * masks).sum(1).reshape(v.shape[0], -1)

    for _ in range(iterations):
        ux, uy, dux, duy = project(hn, nx, ny, gens)  # (K-1, H, W), (K-1, H, W, P)
        px, py = ux * L + cx, uy * L + cy
        s = sample_at(stack.expand(k - 1, -1, -1, -1), px, py)  # (K-1, 9, H, W), 0 outside
        pred = to_raw(s[:, :3])
        valid = to_raw(((px >= 0) & (px <= ww - 1) & (py >= 0) & (py <= hh - 1)).to(dt)
                       [:, None].expand(-1, 3, -1, -1)) > 0.999
        dpos, dposy = dux * L, duy * L  # d(position)/dp in high-resolution pixels
        cols = []
        for i in range(gens.shape[0]):
            d = s[:, 3:6] * dpos[..., i][:, None] \
                + s[:, 6:9] * dposy[..., i][:, None]
            cols.append(to_raw(d))
        j = torch.stack(cols, dim=-1)  # (K-1, N, P)
        r = y - pred
        wts = _weights(r, valid, robust)
        dp = gauss_newton_step(j, r, wts)
        hn = hn + torch.einsum("kp,pij->kij", dp, gens)
        hn = hn / hn[:, 2:3, 2:3]
    out = matrices_hr.to(torch.float64).clone()
    out[1:] = (t @ hn @ tinv).to(torch.float64)
    return out
