"""Random camera motion for synthetic bursts.

A motion is a 3x3 homogeneous matrix ``P_k`` in the high-resolution pixel coordinates of
the reference (ground-truth) grid, ``x`` the column and ``y`` the row: pixel ``q`` of
frame ``k`` sees the scene point that sits at ``P_k q`` in the reference frame, so frame
``k`` is ``x_k(q) = x_0(P_k q)`` (the output -> input matrix of
:class:`inversa.operators.warp.Warp`). Frame 0 is the identity.

Kinds:

- ``random`` (Bhat et al. 2021, "Deep Burst Super-Resolution"): independent translation
  ``t ~ U(-T, T)^2`` and rotation ``theta ~ U(-R, R)`` about the centre for each frame;
- ``handheld``: a smooth trajectory (a damped random walk of velocity, rescaled to reach at
  most ``T`` and ``R``), like a hand drifting during a burst;
- ``homography``: ``random`` plus independent displacements of the four image corners by up
  to ``perspective * T``, which adds perspective (a hand that tilts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from inversa.errors import InputError

MotionKind = Literal["random", "handheld", "homography"]


@dataclass(frozen=True)
class MotionConfig:
    """``max_translation`` in high-resolution pixels, ``max_rotation`` in degrees."""

    max_translation: float = 24.0
    max_rotation: float = 1.0
    kind: MotionKind = "random"
    perspective: float = 0.25

    def __post_init__(self) -> None:
        if self.max_translation < 0 or self.max_rotation < 0 or self.perspective < 0:
            raise InputError("motion amplitudes must be >= 0", field="motion")
        if self.kind not in ("random", "handheld", "homography"):
            raise InputError(f"motion kind must be random, handheld or homography, got "
                             f"{self.kind!r}", field="motion")

    def margin(self, h: int, w: int) -> int:
        """Pixels by which any frame can look outside an ``h x w`` reference grid."""
        half_diag = 0.5 * math.hypot(h, w)
        extra = self.perspective * self.max_translation if self.kind == "homography" else 0.0
        return math.ceil(self.max_translation + extra
                         + half_diag * math.radians(self.max_rotation)) + 2


def rigid(tx: torch.Tensor, ty: torch.Tensor, theta_deg: torch.Tensor,
          center: tuple[float, float]) -> torch.Tensor:
    """``P q = c + R(theta) (q - c) + t`` as (K, 3, 3) float64 matrices."""
    a = torch.deg2rad(theta_deg.double())
    ca, sa = torch.cos(a), torch.sin(a)
    cx, cy = center
    m = torch.zeros(a.numel(), 3, 3, dtype=torch.float64)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = ca, -sa, sa, ca
    m[:, 0, 2] = cx - ca * cx + sa * cy + tx
    m[:, 1, 2] = cy - sa * cx - ca * cy + ty
    m[:, 2, 2] = 1
    return m


def homography_from_points(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The 3x3 ``H`` with ``H [src; 1] ~ [dst; 1]`` from 4 point pairs (direct linear
    transform, ``h33 = 1``)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src.tolist(), dst.tolist()):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    h = torch.linalg.solve(torch.tensor(rows, dtype=torch.float64),
                           torch.tensor(rhs, dtype=torch.float64))
    return torch.cat([h, torch.ones(1, dtype=torch.float64)]).reshape(3, 3)


def _smooth_path(k: int, generator: torch.Generator | None) -> torch.Tensor:
    """A damped random walk of velocity, (k,), starting at 0, max |value| = 1."""
    v = torch.zeros(k, dtype=torch.float64)
    n = torch.randn(k, generator=generator, dtype=torch.float64)
    for i in range(1, k):
        v[i] = 0.8 * v[i - 1] + n[i]
    p = torch.cumsum(v, 0)
    p = p - p[0]
    return p / p.abs().max().clamp(min=1e-12)


def random_motions(frames: int, size: tuple[int, int], config: MotionConfig = MotionConfig(),
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """(K, 3, 3) frame -> reference matrices; ``size = (H, W)`` of the reference grid.

    Examples
    --------
    >>> m = random_motions(4, (64, 64), generator=torch.Generator().manual_seed(0))
    >>> m.shape, bool(torch.equal(m[0], torch.eye(3, dtype=torch.float64)))
    (torch.Size([4, 3, 3]), True)
    """
    if frames < 1:
        raise InputError(f"a burst needs at least one frame, got {frames}", field="frames")
    h, w = size
    center = ((w - 1) / 2, (h - 1) / 2)
    t_max, r_max = config.max_translation, config.max_rotation
    if config.kind == "handheld":
        tx = t_max * _smooth_path(frames, generator)
        ty = t_max * _smooth_path(frames, generator)
        th = r_max * _smooth_path(frames, generator)
    else:
        u = 2 * torch.rand(3, frames, generator=generator, dtype=torch.float64) - 1
        tx, ty, th = t_max * u[0], t_max * u[1], r_max * u[2]
    tx[0] = ty[0] = th[0] = 0
    m = rigid(tx, ty, th, center)
    if config.kind == "homography" and frames > 1:
        corners = torch.tensor([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]],
                               dtype=torch.float64)
        jit = config.perspective * t_max * (
            2 * torch.rand(frames, 4, 2, generator=generator, dtype=torch.float64) - 1)
        for k in range(1, frames):
            ones = torch.ones(4, 1, dtype=torch.float64)
            moved = (m[k] @ torch.cat([corners, ones], 1).T).T[:, :2] + jit[k]
            m[k] = homography_from_points(corners, moved)
    return m
