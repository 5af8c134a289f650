"""Decimation and pixel integration.

``Decimate(s)``: ``(A x)[i, j] = x[s i, s j]`` (low-resolution pixel (i, j) sits on
high-resolution pixel (s i, s j)); adjoint: zero insertion.

``BoxDecimate(s)``: pixel integration then decimation,
``(A x)[i, j] = (1/s^2) sum_{a, b < s} x[s i + a, s j + b]`` (the burst convention of
DESIGN.md: a low-resolution pixel is the mean of an s x s block); adjoint: each value spread
evenly, ``/ s^2``, over its block.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from inversa.operators.base import LinearOperator


class Decimate(LinearOperator):
    """Keep every ``factor``-th pixel along the last two dimensions."""

    def __init__(self, factor: int, shape: Sequence[int]):
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        self.s = int(factor)
        self.in_shape = tuple(shape)
        h, w = self.in_shape[-2:]
        self.out_shape = (*self.in_shape[:-2], -(-h // self.s), -(-w // self.s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., ::self.s, ::self.s]

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        h, w = self.in_shape[-2:]
        out = y.new_zeros((*y.shape[:-2], h, w))
        out[..., ::self.s, ::self.s] = y
        return out


class BoxDecimate(LinearOperator):
    """Mean over ``factor x factor`` blocks (sensor pixel integration + decimation)."""

    def __init__(self, factor: int, shape: Sequence[int]):
        self.s = int(factor)
        self.in_shape = tuple(shape)
        h, w = self.in_shape[-2:]
        if h % self.s or w % self.s:
            raise ValueError(f"image size {h}x{w} is not a multiple of the factor {self.s}")
        self.out_shape = (*self.in_shape[:-2], h // self.s, w // self.s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-2]
        x4 = x.reshape(-1, 1, *x.shape[-2:])
        return F.avg_pool2d(x4, self.s).reshape(*lead, *self.out_shape[-2:])

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        s = self.s
        return y.repeat_interleave(s, dim=-2).repeat_interleave(s, dim=-1) / (s * s)
