"""The burst forward model ``y_k = M D B W_k x`` as one linear operator.

``x`` is the high-resolution linear RGB image ``(1, 3, H, W)`` on the reference grid;
frame ``k`` is

.. math::  y_k = M \\, D_s \\, B \\, W_{P_k} \\, x

with ``W_{P_k}`` the warp ``(W x)(q) = x(P_k q)`` (frame -> reference matrices in
high-resolution pixels, bilinear; optionally plus a dense displacement ``u_k`` per
frame, :class:`~inversa.operators.warp.Warp`'s ``flow``, for objects that move on their
own), ``B`` an optional Gaussian optical blur, ``D_s`` the
mean over ``s x s`` blocks (pixel integration + decimation, the DESIGN.md convention) and
``M`` the Bayer mosaic. The ``K`` frames are stacked as channels: the output is
``(1, K, H/s, W/s)``. The adjoint is exact (each factor's adjoint, summed over frames),
checked by the dot-product test in ``tests/burst``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from inversa.camera.cfa import cfa_masks, check_pattern
from inversa.operators.base import LinearOperator
from inversa.operators.conv import Conv2d
from inversa.operators.kernels import gaussian_kernel
from inversa.operators.sampling import BoxDecimate
from inversa.operators.warp import Warp


class BurstOperator(LinearOperator):
    """``x (1, 3, H, W) -> y (1, K, H/s, W/s)``; see the module docstring.

    Examples
    --------
    >>> m = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1)
    >>> A = BurstOperator(m, (3, 16, 16), scale=2, cfa="RGGB")
    >>> A(torch.rand(1, 3, 16, 16)).shape
    torch.Size([1, 2, 8, 8])
    """

    def __init__(self, matrices: torch.Tensor, shape: Sequence[int], scale: int, cfa: str,
                 blur: float = 0.0, interpolation: str = "bilinear",
                 flow: torch.Tensor | None = None):
        self.in_shape = tuple(shape)
        c, h, w = self.in_shape
        m = torch.as_tensor(matrices)
        self.k = m.shape[0]
        self.scale = int(scale)
        self.warp = Warp(m, (c, h, w), interpolation=interpolation, flow=flow)
        self.blur = Conv2d(gaussian_kernel(blur), (c, h, w), boundary="reflect") if blur > 0 \
            else None
        self.dec = BoxDecimate(self.scale, (c, h, w))
        self.masks = cfa_masks(check_pattern(cfa), h // self.scale, w // self.scale)
        self.out_shape = (self.k, h // self.scale, w // self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for xb in x:
            v = self.warp.forward(xb[None].expand(self.k, *xb.shape))  # (K, 3, H, W)
            if self.blur is not None:
                v = self.blur.forward(v)
            v = self.dec.forward(v)
            outs.append((v * self.masks.to(v)).sum(1))  # (K, h, w)
        return torch.stack(outs)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        outs = []
        for yb in y:
            v = yb[:, None] * self.masks.to(yb)  # (K, 3, h, w)
            v = self.dec.adjoint(v)
            if self.blur is not None:
                v = self.blur.adjoint(v)
            outs.append(self.warp.adjoint(v).sum(0))
        return torch.stack(outs)


def data_weights(pred: torch.Tensor, y: torch.Tensor, noise, robust: bool = True,
                 width: float | torch.Tensor = 3.0, cap: float | None = None,
                 gain: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """Per-sample weights of the data term and the median noise variance ``v_bar``:

    .. math::  w = \\min(\\bar v / v(\\hat y), \\text{cap}) \\,/\\, (1 + (r / c)^2)
               \\cdot [y < 0.999],  \\qquad r = (y - \\hat y) / v(\\hat y)^{1/2}

    with ``v`` the noise model's variance at the prediction ``y_hat`` (``noise`` a
    :class:`~inversa.camera.noise.NoiseLevels`), the Cauchy factor only when ``robust``
    (width ``c``), and zero on saturated samples (no information on the scene).

    ``gain`` (K,): frame ``k`` was recorded with exposure ``e_k`` and ``y_k``, ``y_hat_k``
    are divided by it (radiance units, HDR); then ``v = v_raw(e_k y_hat) / e_k^2`` and a
    sample is saturated when ``e_k y >= 0.999``. For shot-limited samples the weight is
    proportional to ``e_k``: longer exposures count more, as in exposure-weighted merging.
    """
    if gain is None:
        var = noise.variance(pred.clamp(min=0)) + 1e-10
        raw = y
    else:
        e = gain.to(pred).reshape(*([1] * (pred.dim() - 3)), -1, 1, 1)
        var = noise.variance(e * pred.clamp(min=0)) / e ** 2 + 1e-10
        raw = y * e
    ref_var = float(var.median())
    w = ref_var / var
    if cap is not None:
        w = w.clamp(max=cap)
    if robust:
        r = (y - pred) / var.sqrt()
        w = w / (1 + (r / width) ** 2)
    return w * (raw < 0.999), ref_var
