"""Splitting solvers: ADMM and half-quadratic splitting (HQS), and their plug-and-play forms.

ADMM on ``min_x 1/2||y - Ax||^2 + lam phi(z)`` s.t. ``x = z`` (scaled dual ``u``):

.. math::
    x &\\leftarrow (A^T A + \\rho I)^{-1}(A^T y + \\rho (z - u)) \\\\
    z &\\leftarrow \\mathrm{prox}_{(\\lambda/\\rho)\\phi}(x + u) \\\\
    u &\\leftarrow u + x - z

HQS on ``1/2||y - Ax||^2 + (mu_k/2)||x - z||^2 + lam phi(z)`` with increasing ``mu_k``:

.. math::
    x &\\leftarrow (A^T A + \\mu_k I)^{-1}(A^T y + \\mu_k z) \\\\
    z &\\leftarrow \\mathrm{prox}_{(\\lambda/\\mu_k)\\phi}(x)

Plug-and-play (Zhang et al., DPIR 2021): ``phi`` is a denoiser's implicit prior; with a
noise level schedule ``sigma_k`` decreasing geometrically from ``sigma_max`` to the noise
level, ``mu_k = lam / sigma_k^2`` so that the z-step denoises at exactly ``sigma_k``.
The returned estimate is ``z`` (the prior's side), which is what PnP methods report.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from inversa.operators.base import LinearOperator
from inversa.priors.base import Prior
from inversa.solvers.base import IterativeSolver, Stop
from inversa.solvers.linear import normal_solver


class ADMM(IterativeSolver):
    """ADMM with penalty ``rho`` (fixed).

    Examples
    --------
    >>> from inversa.operators import Identity
    >>> from inversa.priors import L1
    >>> y = torch.tensor([[3.0, -0.2, 0.5]])
    >>> ADMM(Identity(), y, L1(), lam=1.0, rho=1.0, stop=Stop(500, 1e-9)).run().x.round(decimals=4)
    tensor([[2., -0., 0.]])
    """

    def __init__(self, a: LinearOperator, y: torch.Tensor, prior: Prior, lam: float,
                 rho: float = 1.0, stop: Stop = Stop(), cg_iter: int = 30, **kw):
        super().__init__(a, y, prior, lam, stop, **kw)
        self.rho = rho
        self.solve = normal_solver(a, cg_iter)

    def start(self, x0: torch.Tensor) -> None:
        self.aty = self.a.adjoint(self.y)
        self.xs = x0
        self.x = x0  # reported estimate: z
        self.u = torch.zeros_like(x0)

    def step(self, k: int) -> None:
        self.xs = self.solve(self.aty + self.rho * (self.x - self.u), self.rho, self.xs)
        z = self.prior.prox(self.xs + self.u, self.lam / self.rho)
        self.u = self.u + self.xs - z
        self.x = z


class HQS(IterativeSolver):
    """Half-quadratic splitting with a penalty schedule ``mus`` (one value per iteration)."""

    def __init__(self, a: LinearOperator, y: torch.Tensor, prior: Prior, lam: float,
                 mus: Sequence[float], cg_iter: int = 30, **kw):
        kw.setdefault("stop", Stop(max_iter=len(mus), tol=0.0))
        super().__init__(a, y, prior, lam, **kw)
        if len(mus) == 0:
            raise ValueError("HQS needs at least one penalty value")
        self.mus = list(mus)
        self.solve = normal_solver(a, cg_iter)

    def start(self, x0: torch.Tensor) -> None:
        self.aty = self.a.adjoint(self.y)
        self.x = x0
        self.xs = x0

    def step(self, k: int) -> None:
        mu = self.mus[min(k - 1, len(self.mus) - 1)]
        self.xs = self.solve(self.aty + mu * self.x, mu, self.xs)
        self.x = self.prior.prox(self.xs, self.lam / mu)


def sigma_schedule(sigma_max: float, sigma_min: float, iters: int) -> list[float]:
    """Geometric schedule of ``iters`` denoiser levels from ``sigma_max`` to ``sigma_min``."""
    if iters == 1:
        return [sigma_min]
    r = (sigma_min / sigma_max) ** (1 / (iters - 1))
    return [sigma_max * r ** k for k in range(iters)]


def pnp_hqs(a: LinearOperator, y: torch.Tensor, prior: Prior, noise_sigma: float,
            iters: int = 8, sigma_max: float = 49 / 255, lam: float = 0.23,
            x0: torch.Tensor | None = None, **kw):
    """Plug-and-play HQS (DPIR schedule). ``lam`` is DPIR's lambda: the objective is
    ``1/2||y - Ax||^2 + lam noise_sigma^2 phi(x)`` and ``mu_k = lam noise_sigma^2 / sigma_k^2``.
    Returns a :class:`~inversa.solvers.base.Result`.
    """
    s_min = max(noise_sigma, 1e-3)
    sig = sigma_schedule(max(sigma_max, s_min), s_min, iters)
    lam_eff = lam * s_min ** 2
    mus = [lam_eff / s ** 2 for s in sig]
    return HQS(a, y, prior, lam_eff, mus, **kw).run(x0)


def pnp_admm(a: LinearOperator, y: torch.Tensor, prior: Prior, noise_sigma: float,
             iters: int = 20, denoiser_sigma: float | None = None, rho: float = 1.0,
             x0: torch.Tensor | None = None, **kw):
    """Plug-and-play ADMM with a fixed denoiser level ``denoiser_sigma`` (default
    ``2 noise_sigma``): ``lam = rho denoiser_sigma^2`` so that the z-step denoises at it."""
    ds = denoiser_sigma if denoiser_sigma is not None else 2 * max(noise_sigma, 1e-3)
    kw.setdefault("stop", Stop(max_iter=iters, tol=1e-4))
    return ADMM(a, y, prior, rho * ds ** 2, rho=rho, **kw).run(x0)
