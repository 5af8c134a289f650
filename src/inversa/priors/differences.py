"""Finite differences on images ``(..., H, W)`` and their adjoint (minus divergence).

``D x = (x[i, j+1] - x[i, j], x[i+1, j] - x[i, j])`` with zero difference on the last
column/row (Neumann boundary), stacked on a new dimension -3: ``(..., 2, H, W)``.
``D^T`` is its exact adjoint; ``||D||^2 <= 8``.
"""

from __future__ import annotations

import torch


def grad2d(x: torch.Tensor) -> torch.Tensor:
    dx = torch.zeros_like(x)
    dy = torch.zeros_like(x)
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    return torch.stack([dx, dy], dim=-3)


def grad2d_adjoint(p: torch.Tensor) -> torch.Tensor:
    px, py = p[..., 0, :, :], p[..., 1, :, :]
    out = torch.zeros_like(px)
    out[..., :, :-1] -= px[..., :, :-1]
    out[..., :, 1:] += px[..., :, :-1]
    out[..., :-1, :] -= py[..., :-1, :]
    out[..., 1:, :] += py[..., :-1, :]
    return out
