"""Solving the regularised normal equations ``(A^T A + rho I) x = b``.

Exact by FFT when ``A`` is a circular :class:`~inversa.operators.Conv2d` (diagonal in the
Fourier domain: ``x = F^{-1}[ b^ / (|k^|^2 + rho) ]``), trivial for the identity, and by
conjugate gradients (warm-started) otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from inversa.operators.base import Identity, LinearOperator
from inversa.operators.conv import Conv2d

NormalSolver = Callable[[torch.Tensor, float, torch.Tensor | None], torch.Tensor]


def conjugate_gradient(apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       x0: torch.Tensor | None = None, max_iter: int = 50,
                       tol: float = 1e-6) -> torch.Tensor:
    """Solve ``M x = b`` for symmetric positive definite ``M`` (given as a function)."""
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - apply(x)
    p = r.clone()
    rs = torch.sum(r * r)
    bn = float(b.detach().norm()) or 1.0
    for _ in range(max_iter):
        if float(rs.detach().sqrt()) <= tol * bn:
            break
        mp = apply(p)
        alpha = rs / torch.sum(p * mp).clamp(min=1e-30)
        x = x + alpha * p
        r = r - alpha * mp
        rs_new = torch.sum(r * r)
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def normal_solver(a: LinearOperator, cg_iter: int = 50, cg_tol: float = 1e-6) -> NormalSolver:
    """Return ``solve(b, rho, x0) = (A^T A + rho I)^{-1} b`` specialised to ``A``."""
    if isinstance(a, Identity):
        return lambda b, rho, x0=None: b / (1.0 + rho)
    if isinstance(a, Conv2d) and a.boundary == "circular":
        cache: dict = {}

        def fft_solve(b: torch.Tensor, rho: float, x0: torch.Tensor | None = None):
            key = (tuple(b.shape[-2:]), b.device, b.dtype)
            if key not in cache:
                cache[key] = a.transfer(b.shape[-2:], b.device, b.dtype).abs() ** 2
            return torch.fft.irfft2(torch.fft.rfft2(b) / (cache[key] + rho), s=b.shape[-2:])

        return fft_solve

    def cg_solve(b: torch.Tensor, rho: float, x0: torch.Tensor | None = None):
        return conjugate_gradient(lambda v: a.normal(v) + rho * v, b, x0, cg_iter, cg_tol)

    return cg_solve
