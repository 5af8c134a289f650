"""Sparsity ``phi(x) = ||x||_1`` (e.g. spike trains); prox: soft thresholding."""

from __future__ import annotations

import torch

from inversa.priors.base import Prior
from inversa.priors.wavelet import soft


class L1(Prior):
    """``phi(x) = sum |x_i|``; with ``nonneg=True`` also ``x >= 0`` (prox ``max(v - tau, 0)``)."""

    def __init__(self, nonneg: bool = False):
        self.nonneg = nonneg

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return x.abs().sum()

    def prox(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        return torch.clamp(v - tau, min=0) if self.nonneg else soft(v, tau)
