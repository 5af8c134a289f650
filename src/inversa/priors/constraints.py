"""Convex constraints as priors (indicator functions): the prox is the projection.

``phi(x) = 0`` if ``lo <= x <= hi`` else ``+inf``; ``prox(v) = clip(v, lo, hi)``.
``NonNegative`` is ``Box(0, inf)``.
"""

from __future__ import annotations

import math

import torch

from inversa.priors.base import Prior


class Box(Prior):
    def __init__(self, lo: float = -math.inf, hi: float = math.inf):
        if lo > hi:
            raise ValueError(f"empty box: lo={lo} > hi={hi}")
        self.lo, self.hi = lo, hi

    def value(self, x: torch.Tensor) -> torch.Tensor:
        inside = bool(((x >= self.lo) & (x <= self.hi)).all())
        return x.new_tensor(0.0 if inside else math.inf)

    def prox(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        return v.clamp(self.lo if self.lo > -math.inf else None,
                       self.hi if self.hi < math.inf else None)


class NonNegative(Box):
    def __init__(self):
        super().__init__(0.0, math.inf)
