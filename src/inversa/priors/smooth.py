"""Smoothness (Tikhonov) prior ``phi(x) = ||L x||^2`` with an exact FFT prox.

``L`` is the circular finite-difference gradient (``operator="gradient"``) or the circular
5-point Laplacian (``operator="laplacian"``). Both are diagonalised by the 2-D DFT with
symbol ``|l(w)|^2`` so

.. math:: \\mathrm{prox}_{\\tau\\phi}(v) = \\mathcal F^{-1}\\Big[\\frac{\\hat v}{1 + 2\\tau |l(w)|^2}\\Big].

Examples
--------
>>> p = Smoothness()
>>> x = p.prox(torch.rand(1, 1, 8, 8), 0.5)
"""

from __future__ import annotations

import math

import torch

from inversa.priors.base import Prior


class Smoothness(Prior):
    def __init__(self, operator: str = "gradient"):
        if operator not in ("gradient", "laplacian"):
            raise ValueError(f"operator must be 'gradient' or 'laplacian', got {operator!r}")
        self.operator = operator
        # Lipschitz constant of grad phi = 2 L^T L: 2 * 8 (gradient), 2 * 64 (Laplacian)
        self.lipschitz = 16.0 if operator == "gradient" else 128.0

    def apply_l(self, x: torch.Tensor) -> torch.Tensor:
        if self.operator == "gradient":
            return torch.stack([x.roll(-1, -1) - x, x.roll(-1, -2) - x], dim=-3)
        return x.roll(1, -1) + x.roll(-1, -1) + x.roll(1, -2) + x.roll(-1, -2) - 4 * x

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(self.apply_l(x) ** 2)

    def symbol(self, h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
        """``|l(w)|^2`` on the rfft2 grid ``(H, W // 2 + 1)``."""
        fy = torch.arange(h, device=device, dtype=dtype).reshape(-1, 1) * (2 * math.pi / h)
        fx = torch.arange(w // 2 + 1, device=device, dtype=dtype).reshape(1, -1) * (2 * math.pi / w)
        s = (2 - 2 * torch.cos(fx)) + (2 - 2 * torch.cos(fy))
        return s if self.operator == "gradient" else s ** 2

    def prox(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        h, w = v.shape[-2:]
        den = 1 + 2 * tau * self.symbol(h, w, v.device, v.dtype)
        return torch.fft.irfft2(torch.fft.rfft2(v) / den, s=(h, w))
