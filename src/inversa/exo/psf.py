"""The off-axis PSF stamp: checks, FWHM, and a bank of sub-pixel shifted copies."""

from __future__ import annotations

import math

import torch

from inversa.errors import InputError
from inversa.exo.inject import shifted_stamps


def check_psf(psf: torch.Tensor, frame_shape: tuple[int, int], source: str = "psf") -> None:
    """Raise :class:`InputError` if the stamp is larger than a frame, empty or not centred
    (its peak more than 1 pixel from ``(h // 2, w // 2)``)."""
    stamps = psf if psf.dim() == 3 else psf[None]
    h, w = stamps.shape[-2:]
    if h > frame_shape[0] or w > frame_shape[1]:
        raise InputError(f"PSF stamp {w}x{h} is larger than the frames "
                         f"{frame_shape[1]}x{frame_shape[0]}", source=source)
    for s in stamps:
        if not torch.isfinite(s).all() or float(s.max()) <= 0:
            raise InputError("PSF stamp has no positive finite peak", source=source)
        iy, ix = divmod(int(torch.argmax(s)), w)
        if abs(iy - h // 2) > 1 or abs(ix - w // 2) > 1:
            raise InputError(f"PSF stamp is not centred: peak at (x={ix}, y={iy}), expected "
                             f"within 1 pixel of (x={w // 2}, y={h // 2})", source=source)


def fwhm(psf: torch.Tensor) -> float:
    """FWHM in pixels from the area above half maximum, ``2 sqrt(area / pi)``, measured on
    the stamp upsampled 8 times (bicubic).

    >>> y, x = torch.meshgrid(torch.arange(21.) - 10, torch.arange(21.) - 10, indexing="ij")
    >>> g = torch.exp(-(x**2 + y**2) / (2 * 2.0**2))  # sigma 2 -> FWHM 4.71
    >>> round(fwhm(g), 1)
    4.7
    """
    import torch.nn.functional as F

    s = psf if psf.dim() == 2 else psf.mean(dim=0)
    up = F.interpolate(s[None, None].to(torch.float32), scale_factor=8, mode="bicubic",
                       align_corners=False)[0, 0]
    area = float((up >= 0.5 * s.max()).sum()) / 64
    return 2 * math.sqrt(area / math.pi)


def disc_offsets(radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer offsets ``(dy, dx)`` with ``dx^2 + dy^2 <= radius^2`` (radius 4: 49 pixels).

    >>> len(disc_offsets(4)[0])
    49
    """
    r = int(math.floor(radius))
    dy, dx = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    keep = dx ** 2 + dy ** 2 <= radius ** 2
    return dy[keep], dx[keep]


class StampBank:
    """The stamp sampled on a patch's disc of offsets for sub-pixel source positions.

    ``values(fx, fy)`` gives ``h(o - f)`` for the patch offsets ``o`` and fractional
    positions ``f`` in [-0.5, 0.5], from a bank of Fourier-shifted stamps on a grid of
    ``steps`` positions per axis (nearest entry, error <= 1 / (2 (steps - 1)) pixel).
    """

    def __init__(self, psf: torch.Tensor, radius: float, steps: int = 11):
        self.steps = steps
        dy, dx = disc_offsets(radius)
        h, w = psf.shape
        grid = torch.linspace(-0.5, 0.5, steps, dtype=torch.float64)
        gy, gx = torch.meshgrid(grid, grid, indexing="ij")
        stamps = shifted_stamps(psf, gx.reshape(-1), gy.reshape(-1))  # (steps^2, h, w)
        cy, cx = h // 2, w // 2
        inside = (cy + dy >= 0) & (cy + dy < h) & (cx + dx >= 0) & (cx + dx < w)
        vals = torch.zeros(steps * steps, len(dy))
        vals[:, inside] = stamps[:, (cy + dy)[inside], (cx + dx)[inside]]
        self.table = vals  # (steps^2, P)

    def values(self, fx: torch.Tensor, fy: torch.Tensor) -> torch.Tensor:
        q = self.steps - 1
        ix = torch.round((fx + 0.5) * q).long().clamp(0, q)
        iy = torch.round((fy + 0.5) * q).long().clamp(0, q)
        return self.table.to(fx.device)[iy * self.steps + ix]
