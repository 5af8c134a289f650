"""The prior interface: ``value(x) = phi(x)`` and ``prox(v, tau)``.

.. math::  \\mathrm{prox}_{\\tau \\phi}(v) = \\arg\\min_x \\tfrac12 \\|x - v\\|^2 + \\tau \\phi(x)

A prior is any object with these two methods; ``phi`` is summed over the whole batch.
"""

from __future__ import annotations

import torch


class Prior:
    """Base class of priors (subclasses implement ``value`` and ``prox``)."""

    def value(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def prox(self, v: torch.Tensor, tau: float) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Gradient of ``phi`` by autograd (for smooth priors)."""
        with torch.enable_grad():
            z = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.value(z), z)
        return g


class Zero(Prior):
    """``phi = 0`` (plain least squares)."""

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(())

    def prox(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        return v
