"""Blur kernel makers (normalised to sum 1, odd sizes, centred)."""

from __future__ import annotations

import math

import torch


def gaussian_kernel(sigma: float, size: int | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Isotropic Gaussian ``k(u, v) ∝ exp(-(u^2 + v^2) / (2 sigma^2))``, size ``2 ceil(3 sigma) + 1``.

    Examples
    --------
    >>> k = gaussian_kernel(1.6)
    >>> k.shape, round(float(k.sum()), 6)
    (torch.Size([11, 11]), 1.0)
    """
    if sigma <= 0:
        raise ValueError(f"Gaussian sigma must be > 0, got {sigma}")
    size = size or 2 * math.ceil(3 * sigma) + 1
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    k = g[:, None] * g[None, :]
    return (k / k.sum()).to(dtype)


def motion_kernel(length: float, angle: float, size: int | None = None,
                  supersample: int = 16, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Linear motion blur: a segment of ``length`` pixels at ``angle`` degrees
    (counter-clockwise from +x, with y = row pointing down the array), rasterised with
    ``supersample`` x ``supersample`` anti-aliasing.

    Examples
    --------
    >>> motion_kernel(9, 30).shape
    torch.Size([11, 11])
    """
    if length <= 0:
        raise ValueError(f"motion length must be > 0, got {length}")
    size = size or 2 * math.ceil(length / 2) + 1
    n = max(int(length * supersample), 2)
    t = torch.linspace(-length / 2, length / 2, n, dtype=torch.float64)
    a = math.radians(angle)
    xs, ys = t * math.cos(a), -t * math.sin(a)
    c = (size - 1) / 2
    k = torch.zeros(size, size, dtype=torch.float64)
    # bilinear splatting of the points of the segment
    px, py = xs + c, ys + c
    x0, y0 = px.floor(), py.floor()
    fx, fy = px - x0, py - y0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yi, xi = (y0 + dy).long(), (x0 + dx).long()
            ok = (yi >= 0) & (yi < size) & (xi >= 0) & (xi < size)
            k.index_put_((yi[ok], xi[ok]), (wy * wx)[ok], accumulate=True)
    return (k / k.sum()).to(dtype)
