"""Synthetic companions: the off-axis PSF stamp, scaled and moved along its trajectory.

A companion at separation ``r`` and position angle ``theta`` (derotated frame) with flux
``f`` (in units of the PSF stamp, i.e. its contrast when the stamp is the unocculted star
at the same exposure) adds ``f h(p - p_t)`` to frame ``t``, where ``p_t`` is its position
in that frame (:func:`inversa.exo.geometry.trajectory`) and ``h`` the stamp, moved by a
sub-pixel Fourier shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from inversa.exo.geometry import to_xy, trajectory


@dataclass(frozen=True)
class Companion:
    """A point source: separation (pixels), position angle (degrees), flux (PSF units)."""

    sep: float
    pa: float
    flux: float

    def xy(self, shape: tuple[int, ...]) -> tuple[float, float]:
        x, y = to_xy(self.sep, self.pa, shape)
        return float(x), float(y)


def shifted_stamps(psf: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """``psf`` (h, w) moved by ``(dx, dy)`` (each (N,)) pixels: (N, h, w), Fourier shift."""
    h, w = psf.shape
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(w, dtype=torch.float64)[None, :]
    ph = torch.exp(-2j * math.pi * (fx * dx.to(torch.float64)[:, None, None]
                                    + fy * dy.to(torch.float64)[:, None, None]))
    spec = torch.fft.fft2(psf.to(torch.float64))
    return torch.fft.ifft2(spec * ph).real.to(torch.float32)


def add_stamps(frames: torch.Tensor, stamps: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor
               ) -> None:
    """Add ``stamps[t]`` (h, w), centred at integer pixel ``(ys[t], xs[t])``, to
    ``frames[t]`` in place; the parts outside the frame are dropped."""
    _, ny, nx = frames.shape
    h, w = stamps.shape[-2:]
    for t in range(frames.shape[0]):
        y0 = int(ys[t]) - h // 2
        x0 = int(xs[t]) - w // 2
        ya, yb = max(y0, 0), min(y0 + h, ny)
        xa, xb = max(x0, 0), min(x0 + w, nx)
        if ya >= yb or xa >= xb:
            continue
        frames[t, ya:yb, xa:xb] += stamps[t, ya - y0:yb - y0, xa - x0:xb - x0]


def companion_frames(shape: tuple[int, int, int], angles: torch.Tensor, psf: torch.Tensor,
                     companion: Companion) -> torch.Tensor:
    """The signal (T, H, W) of one companion in every frame."""
    out = torch.zeros(shape, dtype=torch.float32)
    x, y = to_xy(companion.sep, companion.pa, shape)
    xt, yt = trajectory(x, y, angles.cpu(), shape)
    xi, yi = torch.round(xt), torch.round(yt)
    stamps = shifted_stamps(psf.cpu(), xt - xi, yt - yi) * companion.flux
    add_stamps(out, stamps, xi.long(), yi.long())
    return out


def inject(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor,
           companions: list[Companion]) -> torch.Tensor:
    """A copy of ``cube`` (T, H, W) or (L, T, H, W) with the companions added.

    For a spectral cube ``psf`` is (L, h, w) (one stamp per channel) and each companion has
    the same flux in PSF units in every channel.

    >>> cube = torch.zeros(4, 32, 32)
    >>> psf = torch.zeros(5, 5); psf[2, 2] = 1.0
    >>> out = inject(cube, torch.tensor([0., 30., 60., 90.]), psf, [Companion(8, 0, 2.0)])
    >>> float(out[0, 16, 24]), float(out[3, 8, 16])
    (2.0, 2.0)
    """
    out = cube.clone()
    spectral = cube.dim() == 4
    chans = out if spectral else out[None]
    psfs = psf if spectral else psf[None]
    for lam in range(chans.shape[0]):
        for c in companions:
            sig = companion_frames(tuple(chans.shape[1:]), angles, psfs[lam], c)
            chans[lam] += sig.to(out.device, out.dtype)
    return out
