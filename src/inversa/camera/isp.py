"""The camera ISP, forward: linear camera RGB -> display sRGB.

Applied to a demosaicked linear image ``x`` (camera RGB, black level removed, in [0, 1]):

.. math::  y = T(\\Gamma(\\mathrm{clip}(C \\, \\mathrm{clip}(e \\, g \\odot x))))

with ``g`` the white-balance gains (per channel; they may include a global brightening),
``e`` an exposure gain (``2**EV``), ``C`` the colour correction matrix camera RGB ->
linear sRGB, ``Gamma`` the sRGB transfer curve (IEC 61966-2-1) and ``T`` the global tone
curve ``T(u) = 3u^2 - 2u^3`` ("smoothstep", the curve assumed by Brooks et al. 2019).
Each step has an exact inverse on [0, 1] (see :mod:`inversa.camera.unprocess`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from inversa.errors import InputError


def _vec(v: Sequence[float] | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(v, dtype=x.dtype, device=x.device).reshape(3, 1, 1)


def apply_gains(x: torch.Tensor, gains: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Per-channel gains on ``(..., 3, H, W)``."""
    return x * _vec(gains, x)


def apply_ccm(x: torch.Tensor, ccm: Sequence[Sequence[float]] | torch.Tensor) -> torch.Tensor:
    """``y_i = sum_j C_ij x_j`` at every pixel of ``(..., 3, H, W)``."""
    c = torch.as_tensor(ccm, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,...jhw->...ihw", c, x)


def srgb_gamma(x: torch.Tensor) -> torch.Tensor:
    """sRGB transfer: ``12.92 x`` below 0.0031308, ``1.055 x^(1/2.4) - 0.055`` above."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp(min=1e-12) ** (1 / 2.4) - 0.055)


def srgb_degamma(y: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`srgb_gamma`."""
    y = y.clamp(0, 1)
    return torch.where(y <= 0.04045, y / 12.92, ((y + 0.055) / 1.055) ** 2.4)


def smoothstep(x: torch.Tensor) -> torch.Tensor:
    """Global tone curve ``3x^2 - 2x^3`` on [0, 1]."""
    x = x.clamp(0, 1)
    return 3 * x * x - 2 * x ** 3


def inverse_smoothstep(y: torch.Tensor) -> torch.Tensor:
    """``x = 1/2 - sin(asin(1 - 2y) / 3)``, the inverse of :func:`smoothstep` on [0, 1]."""
    y = y.clamp(0, 1)
    return 0.5 - torch.sin(torch.asin(1 - 2 * y) / 3)


@dataclass(frozen=True)
class ISPParams:
    """Rendering parameters: ``wb`` gains (3,), ``ccm`` camera RGB -> linear sRGB (3, 3),
    exposure gain ``exposure`` (linear factor), and whether to apply the tone curve."""

    wb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ccm: tuple[tuple[float, ...], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    exposure: float = 1.0
    tone: bool = True

    def __post_init__(self) -> None:
        wb = torch.as_tensor(self.wb, dtype=torch.float64)
        ccm = torch.as_tensor(self.ccm, dtype=torch.float64)
        if wb.shape != (3,) or not torch.isfinite(wb).all() or (wb <= 0).any():
            raise InputError(f"white balance must be 3 positive numbers, got {self.wb}",
                             field="wb")
        if ccm.shape != (3, 3) or not torch.isfinite(ccm).all():
            raise InputError("colour matrix must be 3x3 and finite", field="ccm")
        if not (self.exposure > 0):
            raise InputError(f"exposure gain must be > 0, got {self.exposure}", field="exposure")
        object.__setattr__(self, "wb", tuple(float(v) for v in wb))
        object.__setattr__(self, "ccm", tuple(tuple(float(v) for v in r) for r in ccm))


def render(x: torch.Tensor, params: ISPParams = ISPParams()) -> torch.Tensor:
    """Linear camera RGB ``(..., 3, H, W)`` -> display sRGB in [0, 1] (see module docstring).

    Examples
    --------
    >>> render(torch.full((3, 1, 1), 0.18)).flatten().round(decimals=3)  # mid grey
    tensor([0.4420, 0.4420, 0.4420])
    """
    y = (apply_gains(x, params.wb) * params.exposure).clamp(0, 1)
    y = apply_ccm(y, params.ccm).clamp(0, 1)
    y = srgb_gamma(y)
    return smoothstep(y) if params.tone else y
