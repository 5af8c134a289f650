"""Shared pieces of the solvers: the problem, stopping rules, results, the iteration loop.

All solvers address

.. math::  \\min_x F(x) = \\tfrac12 \\|y - A x\\|^2 + \\lambda \\phi(x)

(note the 1/2: the issue's ``||y - Ax||^2 + lam phi`` is ours with ``lam/2``). A solver is a
class whose ``step`` performs one iteration of the paper's algorithm; ``run`` loops until
the relative change ``||x_{k+1} - x_k|| / ||x_k||`` falls below ``tol`` or ``max_iter``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from inversa.operators.base import LinearOperator
from inversa.priors.base import Prior


@dataclass(frozen=True)
class Stop:
    """Stopping rule: at most ``max_iter`` iterations, or relative change below ``tol``."""

    max_iter: int = 100
    tol: float = 1e-5


@dataclass
class Result:
    """Estimate ``x``, iterations done, whether ``tol`` was reached, objective history."""

    x: torch.Tensor
    iterations: int
    converged: bool
    history: list[float] = field(default_factory=list)


def objective(a: LinearOperator, y: torch.Tensor, prior: Prior, lam: float,
              x: torch.Tensor) -> float:
    """``F(x) = 1/2 ||y - A x||^2 + lam phi(x)`` (NaN when phi has no value)."""
    r = a.forward(x) - y
    return 0.5 * float(torch.sum(r * r)) + lam * float(prior.value(x))


class IterativeSolver:
    """Base class: subclasses set ``self.x`` in ``__init__``-time ``start`` and define ``step``."""

    def __init__(self, a: LinearOperator, y: torch.Tensor, prior: Prior, lam: float,
                 stop: Stop = Stop(), history: bool = False,
                 callback: Callable[[int, torch.Tensor], None] | None = None):
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        self.a, self.y, self.prior, self.lam = a, y, prior, lam
        self.stop, self.track, self.callback = stop, history, callback

    def start(self, x0: torch.Tensor) -> None:
        self.x = x0

    def step(self, k: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, x0: torch.Tensor | None = None) -> Result:
        x0 = self.a.adjoint(self.y) if x0 is None else x0
        self.start(x0.clone())
        hist: list[float] = []
        if self.track:
            hist.append(objective(self.a, self.y, self.prior, self.lam, self.x))
        converged, k = False, 0
        for k in range(1, self.stop.max_iter + 1):
            prev = self.x
            self.step(k)
            if self.track:
                hist.append(objective(self.a, self.y, self.prior, self.lam, self.x))
            if self.callback is not None:
                self.callback(k, self.x)
            change = float((self.x - prev).detach().norm()) / max(float(prev.detach().norm()), 1e-12)
            if change < self.stop.tol or math.isnan(change):
                converged = not math.isnan(change)
                break
        return Result(self.x, k, converged, hist)
