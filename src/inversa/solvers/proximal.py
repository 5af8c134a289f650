"""First-order solvers: gradient descent and ISTA/FISTA.

Gradient descent (smooth ``phi``):  ``x <- x - t (A^T(Ax - y) + lam grad phi(x))``.

ISTA:  ``x <- prox_{t lam phi}(x - t A^T(Ax - y))``; FISTA adds Nesterov momentum
(Beck & Teboulle 2009): ``z <- x_k + ((t_k - 1)/t_{k+1}) (x_k - x_{k-1})`` with
``t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2``. The step ``t`` is ``1/L`` with
``L = ||A||^2`` from power iteration, or found by backtracking
(``f(p) <= f(z) + <grad f(z), p - z> + ||p - z||^2 / (2t)``, halving ``t``).
"""

from __future__ import annotations

import torch

from inversa.operators.base import LinearOperator, operator_norm
from inversa.priors.base import Prior
from inversa.solvers.base import IterativeSolver, Stop


def _lipschitz(a: LinearOperator, y: torch.Tensor) -> float:
    shape = a.in_shape if a.in_shape is not None else tuple(a.adjoint(y).shape[1:])
    return operator_norm(a, shape, dtype=y.dtype, device=y.device) ** 2


class GradientDescent(IterativeSolver):
    """Gradient descent on ``F`` for differentiable priors (e.g. :class:`Smoothness`)."""

    def __init__(self, a: LinearOperator, y: torch.Tensor, prior: Prior, lam: float,
                 step: float | None = None, stop: Stop = Stop(), **kw):
        super().__init__(a, y, prior, lam, stop, **kw)
        self.t = step

    def start(self, x0: torch.Tensor) -> None:
        self.x = x0
        if self.t is None:  # 1 / (||A||^2 + lam Lip(grad phi))
            lip = getattr(self.prior, "lipschitz", None)
            if lip is None:
                raise ValueError(f"{type(self.prior).__name__} has no gradient Lipschitz "
                                 "constant; pass step=")
            self.t = 1.0 / (_lipschitz(self.a, self.y) + self.lam * lip + 1e-12)

    def step(self, k: int) -> None:
        g = self.a.adjoint(self.a.forward(self.x) - self.y) + self.lam * self.prior.grad(self.x)
        self.x = self.x - self.t * g


class FISTA(IterativeSolver):
    """ISTA (``accelerate=False``) and FISTA, with a fixed ``1/||A||^2`` step or backtracking.

    Examples
    --------
    >>> from inversa.operators import Identity
    >>> from inversa.priors import L1
    >>> y = torch.tensor([[3.0, -0.2, 0.5]])
    >>> FISTA(Identity(), y, L1(), lam=1.0).run().x
    tensor([[2., -0., 0.]])
    """

    def __init__(self, a: LinearOperator, y: torch.Tensor, prior: Prior, lam: float,
                 step: float | None = None, backtracking: bool = False, accelerate: bool = True,
                 stop: Stop = Stop(), **kw):
        super().__init__(a, y, prior, lam, stop, **kw)
        self.t, self.backtracking, self.accelerate = step, backtracking, accelerate

    def start(self, x0: torch.Tensor) -> None:
        self.x = x0
        self.z = x0
        self.tk = 1.0
        if self.t is None:
            self.t = 1.0 if self.backtracking else 1.0 / max(_lipschitz(self.a, self.y), 1e-12)

    def _f(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.a.forward(x) - self.y
        return 0.5 * torch.sum(r * r), self.a.adjoint(r)

    def step(self, k: int) -> None:
        fz, g = self._f(self.z)
        while True:
            p = self.prior.prox(self.z - self.t * g, self.t * self.lam)
            if not self.backtracking:
                break
            d = p - self.z
            fp, _ = self._f(p)
            if fp <= fz + torch.sum(g * d) + torch.sum(d * d) / (2 * self.t) + 1e-12:
                break
            self.t /= 2
        if self.accelerate:
            t_new = (1 + (1 + 4 * self.tk ** 2) ** 0.5) / 2
            self.z = p + ((self.tk - 1) / t_new) * (p - self.x)
            self.tk = t_new
        else:
            self.z = p
        self.x = p


def ista(a: LinearOperator, y: torch.Tensor, prior: Prior, lam: float, **kw) -> FISTA:
    """ISTA: :class:`FISTA` without momentum."""
    return FISTA(a, y, prior, lam, accelerate=False, **kw)
