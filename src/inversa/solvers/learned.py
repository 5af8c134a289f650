"""Learned optimisation: unrolled iterations and deep equilibrium.

``Unrolled`` runs exactly ``T`` iterations of HQS, ADMM or proximal gradient (PGD) with
per-iteration learnable parameters, trained end to end by backpropagation:

.. math::
    \\text{HQS: } x_k = (A^T A + \\mu_k I)^{-1}(A^T y + \\mu_k z_{k-1}), \\quad
    z_k = \\mathrm{prox}_{\\sigma_k^2 \\phi}(x_k)

    \\text{PGD: } z_k = \\mathrm{prox}_{\\sigma_k^2 \\phi}(z_{k-1} - \\eta_k A^T(A z_{k-1} - y))

(``mu_k, sigma_k, eta_k`` stored as logarithms so they stay positive).

``DeepEquilibrium`` finds the fixed point ``z* = T(z*)`` of one PnP-PGD step
``T(z) = prox_{sigma^2 phi}(z - eta A^T(Az - y))`` without tracking gradients, then
differentiates either by one tracked step at the fixed point (``backward="jfb"``,
Jacobian-free, Fung et al. 2022) or implicitly (``backward="implicit"``: the incoming
gradient ``g`` is replaced by the solution of ``u = g + J_T(z*)^T u`` found by fixed-point
iteration, Bai et al. 2019).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from inversa.operators.base import LinearOperator
from inversa.priors.base import Prior
from inversa.solvers.linear import normal_solver


def _prox(prior: Prior, v: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return prior.prox(v, sigma ** 2)


class Unrolled(nn.Module):
    """``T`` unrolled iterations with learnable ``mu_k``/``eta_k`` and ``sigma_k``.

    ``prior`` may hold a network (e.g. :class:`~inversa.priors.LearnedPrior`); register it
    via ``modules`` so its weights train too.

    Examples
    --------
    >>> from inversa.operators import Identity
    >>> from inversa.priors import Smoothness
    >>> net = Unrolled(Smoothness(), iterations=3)
    >>> net(Identity(), torch.rand(1, 1, 8, 8)).shape
    torch.Size([1, 1, 8, 8])
    """

    def __init__(self, prior: Prior, iterations: int = 5, algorithm: str = "hqs",
                 mu: float = 1.0, sigma: float = 0.05, eta: float = 1.0,
                 modules: nn.Module | None = None):
        super().__init__()
        if algorithm not in ("hqs", "pgd", "admm"):
            raise ValueError(f"algorithm must be 'hqs', 'pgd' or 'admm', got {algorithm!r}")
        self.prior, self.algorithm, self.iterations = prior, algorithm, iterations
        self.log_mu = nn.Parameter(torch.full((iterations,), math.log(mu)))
        self.log_eta = nn.Parameter(torch.full((iterations,), math.log(eta)))
        self.log_sigma = nn.Parameter(torch.full((iterations,), math.log(sigma)))
        self.extra = modules

    def forward(self, a: LinearOperator, y: torch.Tensor,
                x0: torch.Tensor | None = None) -> torch.Tensor:
        aty = a.adjoint(y)
        z = aty if x0 is None else x0
        solve = normal_solver(a) if self.algorithm in ("hqs", "admm") else None
        x = z
        u = torch.zeros_like(z)
        for k in range(self.iterations):
            sigma = self.log_sigma[k].exp()
            if self.algorithm == "pgd":
                x = z - self.log_eta[k].exp() * a.adjoint(a.forward(z) - y)
                z = _prox(self.prior, x, sigma)
                continue
            mu = self.log_mu[k].exp()
            x = solve(aty + mu * (z - u), mu, x)
            z = _prox(self.prior, x + u, sigma)
            if self.algorithm == "admm":
                u = u + x - z
        return z


class DeepEquilibrium(nn.Module):
    """Fixed point of a PnP proximal-gradient step, with JFB or implicit backward."""

    def __init__(self, prior: Prior, eta: float = 1.0, sigma: float = 0.05,
                 max_iter: int = 100, tol: float = 1e-5, backward: str = "jfb",
                 backward_iter: int = 50, modules: nn.Module | None = None):
        super().__init__()
        if backward not in ("jfb", "implicit"):
            raise ValueError(f"backward must be 'jfb' or 'implicit', got {backward!r}")
        self.prior = prior
        self.log_eta = nn.Parameter(torch.tensor(math.log(eta)))
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma)))
        self.max_iter, self.tol = max_iter, tol
        self.backward_mode, self.backward_iter = backward, backward_iter
        self.extra = modules
        self.iterations = 0

    def step(self, a: LinearOperator, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        v = z - self.log_eta.exp() * a.adjoint(a.forward(z) - y)
        return _prox(self.prior, v, self.log_sigma.exp())

    def forward(self, a: LinearOperator, y: torch.Tensor,
                x0: torch.Tensor | None = None) -> torch.Tensor:
        z = a.adjoint(y) if x0 is None else x0
        self.iterations = 0
        with torch.no_grad():
            while self.iterations < self.max_iter:
                z_new = self.step(a, y, z)
                self.iterations += 1
                change = float((z_new - z).norm()) / max(float(z_new.norm()), 1e-12)
                z = z_new
                if change < self.tol:
                    break
        z = z.detach()
        out = self.step(a, y, z)
        if self.backward_mode == "jfb" or not torch.is_grad_enabled() or not out.requires_grad:
            return out
        z0 = z.clone().requires_grad_(True)
        f0 = self.step(a, y, z0)

        def hook(grad: torch.Tensor) -> torch.Tensor:
            u = grad
            for _ in range(self.backward_iter):
                (ju,) = torch.autograd.grad(f0, z0, u, retain_graph=True)
                u_new = grad + ju
                if float((u_new - u).norm()) <= 1e-7 * max(float(u_new.norm()), 1e-12):
                    u = u_new
                    break
                u = u_new
            return u

        out.register_hook(hook)
        return out
