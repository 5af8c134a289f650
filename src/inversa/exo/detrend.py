"""Slow temporal trends of the speckles, removed pixel by pixel before PACO's statistics.

PACO models the patches at a location as ``N(m, C)`` with a mean ``m`` constant in time.
Quasi-static speckles drift during a sequence (the aberrations evolve), so at a fixed
pixel the series ``r_t`` carries a slow trend that the constant mean leaves in the
residuals, where it inflates ``C`` and correlates the per-frame terms ``b_t``. With
``u_t`` the frame index scaled to ``[-1, 1]`` and ``Q`` (T, d) an orthonormal basis of the
polynomials ``u, u^2, .., u^d`` made orthogonal to the constant, each pixel's series
becomes

    r' = r - Q Q^T r,

its least-squares polynomial fit of degree ``d`` removed above the temporal mean (which
PACO's ``m`` keeps). A companion crosses a pixel in a few frames: its short bump loses
only its projection on the slow basis, a small share far from the star, where the
trajectories are long; the loss is part of what the calibration and the unbiased flux
measure (``kappa``), since both run on the same detrended data.
"""

from __future__ import annotations

import torch


def trend_basis(frames: int, degree: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The orthonormal basis ``Q`` (frames, degree) of the polynomial trends of degree
    1..``degree`` in time, orthogonal to the constant.

    >>> q = trend_basis(10, 2)
    >>> q.shape, round(float(q.sum(0).abs().max()), 6), bool(torch.allclose(q.T @ q, torch.eye(2), atol=1e-6))
    (torch.Size([10, 2]), 0.0, True)
    """
    u = torch.linspace(-1.0, 1.0, frames, dtype=torch.float64)
    basis = torch.stack([torch.ones_like(u)] + [u ** k for k in range(1, degree + 1)], 1)
    q, _ = torch.linalg.qr(basis)
    return q[:, 1:].to(dtype)


def detrend(cube: torch.Tensor, degree: int) -> torch.Tensor:
    """Remove each pixel's polynomial trend in time above its mean from a cube
    (..., T, H, W); ``degree = 0`` returns the cube itself. Needs ``T > degree + 1``.

    >>> t = torch.arange(6.0)[:, None, None].expand(6, 2, 2)
    >>> out = detrend(3 + 2 * t, 1)
    >>> bool(torch.allclose(out, torch.full_like(out, 8.0), atol=1e-5))
    True
    """
    if degree <= 0:
        return cube
    t_count = cube.shape[-3]
    if t_count <= degree + 1:
        from inversa.errors import InputError

        raise InputError(f"removing a trend of degree {degree} needs more than {degree + 1} "
                         f"frames, got {t_count}", field="detrend")
    q = trend_basis(t_count, degree, cube.dtype)
    coef = torch.einsum("td,...thw->...dhw", q, cube)
    return cube - torch.einsum("td,...dhw->...thw", q, coef)
