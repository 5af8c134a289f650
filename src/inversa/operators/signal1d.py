"""1-D operators on signals ``(B, N)``: convolution with a wavelet, resampling.

``Conv1d``: ``(A x)[n] = sum_m w[m] x[n + c - m]`` (zero outside, same length; ``c`` the
wavelet's centre sample, ``len(w) // 2`` by default).

``Resample1d``: linear interpolation of ``x`` at positions ``n * step`` for
``n = 0 .. floor((N - 1) / step)``; ``step`` is an integer or a rational (``Fraction``). With an
integer ``step`` this keeps every ``step``-th sample (coarse sample n is fine sample
``n * step``), the seismic resampling of Taylor et al. (1979).
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch
import torch.nn.functional as F

from inversa.operators.base import LinearOperator


class Conv1d(LinearOperator):
    """Same-length 1-D convolution with zero boundary."""

    def __init__(self, wavelet: torch.Tensor, n: int, center: int | None = None):
        w = torch.as_tensor(wavelet).reshape(-1)
        self.wavelet = w
        k = w.numel()
        self.c = k // 2 if center is None else int(center)
        if not 0 <= self.c < k:
            raise ValueError(f"wavelet centre {self.c} outside 0..{k - 1}")
        self.in_shape = self.out_shape = (int(n),)
        self.pads = (k - 1 - self.c, self.c)

    def _w(self, x: torch.Tensor) -> torch.Tensor:
        return self.wavelet.to(x).flip(0).reshape(1, 1, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.pad(x.unsqueeze(1), self.pads)
        return F.conv1d(z, self._w(x)).squeeze(1)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        z = F.conv_transpose1d(y.unsqueeze(1), self._w(y)).squeeze(1)
        left = self.pads[0]
        return z[:, left:left + self.in_shape[0]]


class Resample1d(LinearOperator):
    """Sample a signal of length ``n`` at positions ``k * step`` (linear interpolation)."""

    def __init__(self, n: int, step: int | Fraction | str):
        self.step = Fraction(step)
        if self.step <= 0:
            raise ValueError(f"resampling step must be > 0, got {step}")
        m = math.floor((n - 1) / self.step) + 1
        self.in_shape, self.out_shape = (int(n),), (int(m),)
        pos = [Fraction(k) * self.step for k in range(m)]
        i0 = torch.tensor([math.floor(p) for p in pos])
        f = torch.tensor([float(p - math.floor(p)) for p in pos], dtype=torch.float64)
        i1 = (i0 + 1).clamp(max=n - 1)
        self.idx = torch.stack([i0, i1], dim=1)  # (m, 2)
        self.wts = torch.stack([1 - f, f], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x[:, self.idx.to(x.device)]  # (B, m, 2)
        return (g * self.wts.to(x)).sum(-1)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        out = y.new_zeros((y.shape[0], self.in_shape[0]))
        contrib = (y.unsqueeze(-1) * self.wts.to(y)).reshape(y.shape[0], -1)
        return out.index_add(1, self.idx.reshape(-1).to(y.device), contrib)
