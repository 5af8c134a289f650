"""A plain FFT (Fraunhofer) model of a coronagraphic telescope.

Pupil plane: a disc with a central obstruction and four spiders, sampled with
``pupil_px`` pixels across the diameter ``D`` in a grid ``oversampling`` times larger, so
that one resolution element ``lambda / D`` spans ``oversampling`` focal-plane pixels
(FWHM of the off-axis PSF ~ ``oversampling`` pixels).

Field in the pupil ``E = P exp(i phi)``. The coronagraph is the *perfect coronagraph*
(Cavarroc et al. 2006): it removes the projection of the field onto the unaberrated
pupil mode, ``E_c = E - P <E, P> / <P, P>``, i.e. exactly the light of an ideal on-axis
star, leaving the speckles made by the aberrations. Focal-plane intensity
``I = |FFT(E_c)|^2`` normalised so that the unocculted PSF (``|FFT(P)|^2``) sums to 1.

Phase screens are Gaussian random fields with a power-law power spectrum
``PSD(f) ~ f^-alpha`` (cycles per pupil), scaled to a given rms over the pupil.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Telescope:
    """Pupil geometry and sampling."""

    pupil_px: int = 64          # pixels across the pupil diameter
    oversampling: int = 4       # focal-plane pixels per lambda / D
    obstruction: float = 0.14   # central obstruction, fraction of the diameter
    spider_width: float = 0.01  # spider width, fraction of the diameter
    spider_angle: float = 45.0  # first spider's angle, degrees

    @property
    def grid(self) -> int:
        return self.pupil_px * self.oversampling


def pupil(tel: Telescope) -> torch.Tensor:
    """Binary pupil (grid, grid), float32: disc, obstruction, four spiders."""
    n = tel.grid
    c = (n - 1) / 2
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float64) - c,
                          torch.arange(n, dtype=torch.float64) - c, indexing="ij")
    r = torch.hypot(x, y) / (tel.pupil_px / 2)
    p = (r <= 1.0) & (r >= tel.obstruction)
    for k in range(2):  # two lines through the centre = four spiders
        a = math.radians(tel.spider_angle + 90 * k)
        dist = torch.abs(-math.sin(a) * x + math.cos(a) * y) / tel.pupil_px
        p &= dist > tel.spider_width / 2
    return p.to(torch.float32)


def phase_screens(n: int, count: int, alpha: float, rms: float, mask: torch.Tensor,
                  generator: torch.Generator, f_min: float = 0.0, f_max: float = math.inf,
                  pupil_px: int | None = None) -> torch.Tensor:
    """``count`` screens (count, n, n) with ``PSD ~ f^-alpha`` for ``f_min <= f < f_max``
    (cycles per pupil), rms ``rms`` radians over ``mask``, piston removed."""
    pupil_px = pupil_px or n
    fy = torch.fft.fftfreq(n, dtype=torch.float64)[:, None] * pupil_px
    fx = torch.fft.fftfreq(n, dtype=torch.float64)[None, :] * pupil_px
    f = torch.hypot(fx, fy)
    amp = torch.where((f > 0) & (f >= f_min) & (f < f_max), f.clamp_min(1e-6) ** (-alpha / 2),
                      torch.zeros_like(f))
    noise = torch.randn(count, n, n, 2, generator=generator, dtype=torch.float64)
    screens = torch.fft.ifft2(torch.view_as_complex(noise) * amp).real
    m = mask.to(torch.bool)
    vals = screens[:, m]
    vals = vals - vals.mean(dim=1, keepdim=True)
    scale = rms / vals.std(dim=1, keepdim=True).clamp_min(1e-30)
    out = torch.zeros_like(screens)
    out[:, m] = vals * scale
    return out.to(torch.float32)


def focal_intensity(p: torch.Tensor, phase: torch.Tensor, coronagraph: bool = True
                    ) -> torch.Tensor:
    """``|FFT(E_c)|^2`` (B, n, n), centred at ``(n // 2, n // 2)``, in units where the
    unocculted PSF sums to 1. ``phase`` (B, n, n) radians."""
    e = p * torch.exp(1j * phase.to(torch.float32))
    if coronagraph:
        coef = (e * p).sum(dim=(-2, -1), keepdim=True) / (p * p).sum()
        e = e - coef * p
    f = torch.fft.fftshift(torch.fft.fft2(e), dim=(-2, -1))
    return (f.real ** 2 + f.imag ** 2) / (p.shape[-1] * p.shape[-2] * p.sum())


def offaxis_psf(tel: Telescope, size: int) -> torch.Tensor:
    """The unocculted, unaberrated PSF, (size, size) with its peak at the centre pixel
    ``(size // 2, size // 2)``, normalised to sum 1 over the whole focal plane."""
    p = pupil(tel)
    full = focal_intensity(p, torch.zeros(1, *p.shape), coronagraph=False)[0]
    n = full.shape[-1]
    c = n // 2
    h = size // 2
    return full[c - h:c - h + size, c - h:c - h + size].clone()


def crop_centre(img: torch.Tensor, size: int) -> torch.Tensor:
    """The ``size x size`` window whose ``(size // 2, size // 2)`` pixel is the grid's
    centre ``(n // 2, n // 2)``."""
    n = img.shape[-1]
    o = n // 2 - size // 2
    return img[..., o:o + size, o:o + size]
