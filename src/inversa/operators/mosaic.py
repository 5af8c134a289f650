"""Bayer colour filter array mosaic.

``(A x)[0, i, j] = x[c(i mod 2, j mod 2), i, j]``: each pixel keeps one of the three colour
channels according to the 2x2 pattern (``RGGB``: R at (0, 0), G at (0, 1) and (1, 0), B at
(1, 1)). Input ``(B, 3, H, W)``, output ``(B, 1, H, W)``; the adjoint puts each value back in
its channel, zeros elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from inversa.operators.base import LinearOperator

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")


def cfa_masks(pattern: str, h: int, w: int, dtype: torch.dtype = torch.float32,
              device=None) -> torch.Tensor:
    """Binary masks ``(3, H, W)``: ``masks[c, i, j] = 1`` where the sensor sees channel c."""
    pattern = pattern.upper()
    if pattern not in PATTERNS:
        raise ValueError(f"unknown CFA pattern {pattern!r}; expected one of {PATTERNS}")
    m = torch.zeros(3, h, w, dtype=dtype, device=device)
    for k, ch in enumerate(pattern):
        dy, dx = divmod(k, 2)
        m["RGB".index(ch), dy::2, dx::2] = 1
    return m


class BayerMosaic(LinearOperator):
    """Bayer mosaic of an RGB image (patterns RGGB, BGGR, GRBG, GBRG)."""

    def __init__(self, pattern: str, shape: Sequence[int]):
        self.in_shape = tuple(shape)
        if self.in_shape[0] != 3:
            raise ValueError(f"Bayer mosaic needs 3 channels, got shape {self.in_shape}")
        self.pattern = pattern.upper()
        self.masks = cfa_masks(self.pattern, *self.in_shape[-2:])
        self.out_shape = (1, *self.in_shape[-2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.masks.to(x)).sum(dim=-3, keepdim=True)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.masks.to(y)
