"""Physics-based ADI sequences: speckles that stay put, companions that rotate.

Frame ``t`` (pupil tracking, so the pupil and the speckles are fixed) is the average of
``subframes`` short exposures, each the coronagraphic image
(:func:`inversa.exo.optics.focal_intensity`) of a pupil phase

``phi = phi_static + (t / (T - 1)) phi_drift + phi_AO(t, k)``:

* ``phi_static``: non-common-path aberrations, ``PSD ~ f^-2``, ``static_rms`` radians;
* ``phi_drift``: their slow evolution over the sequence (``drift_rms`` radians at the end),
  so speckles decorrelate slowly, as in real data;
* ``phi_AO``: fast adaptive-optics residuals, independent per sub-exposure: a Kolmogorov
  (``f^-11/3``) fitting-error part beyond the control radius ``ao_cutoff`` (cycles per
  pupil) and a weaker servo-lag part inside it.

Photometry: ``star_flux`` photons per frame from the star (the unocculted PSF sums to
that), a uniform background ``sky`` photons per pixel, Poisson photon noise and Gaussian
read noise ``read_noise`` (electrons, gain 1). The parallactic angles sweep
``rotation`` degrees linearly. Companions are injected with the unocculted PSF stamp
(:mod:`inversa.exo.inject`) before the noise; their flux is their contrast to the star.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from inversa.exo.inject import Companion, inject
from inversa.exo.optics import Telescope, crop_centre, focal_intensity, offaxis_psf, phase_screens, pupil


@dataclass(frozen=True)
class SimConfig:
    """An ADI sequence to simulate (defaults: a SPHERE-like H-band observation)."""

    frames: int = 48
    size: int = 128
    rotation: float = 40.0        # total field rotation, degrees
    telescope: Telescope = field(default_factory=Telescope)
    static_rms: float = 0.1       # radians
    drift_rms: float = 0.12       # radians at the end of the sequence
    ao_rms: float = 0.25          # radians, fitting error (beyond the control radius)
    servo_rms: float = 0.08       # radians, inside the control radius
    ao_cutoff: float = 20.0       # control radius, cycles per pupil
    subframes: int = 16
    star_flux: float = 3e6        # photons per frame (unocculted)
    sky: float = 5.0              # photons per pixel per frame
    read_noise: float = 3.0       # electrons per pixel per frame
    psf_size: int = 21            # side of the PSF stamp, odd

    def __post_init__(self) -> None:
        from inversa.errors import InputError

        if self.frames < 2:
            raise InputError("an ADI sequence needs at least 2 frames", field="frames")
        if self.size < 16:
            raise InputError("frames must be at least 16 pixels", field="size")
        if self.psf_size % 2 == 0 or self.psf_size < 5:
            raise InputError("the PSF stamp side must be odd and >= 5", field="psf_size")


@dataclass
class Simulation:
    """A simulated observation: cube (T, H, W) photons, angles (T,) degrees, PSF stamp
    (photons, unocculted star at the same exposure), the companions and the PSF's FWHM
    in pixels."""

    cube: torch.Tensor
    angles: torch.Tensor
    psf: torch.Tensor
    companions: list[Companion]
    config: SimConfig
    fwhm: float


def telescope_for(size: int, base: Telescope) -> Telescope:
    """A pupil sampling whose focal grid covers ``size`` pixels with margin."""
    grid = max(base.grid, 2 * size)
    return Telescope(pupil_px=grid // base.oversampling, oversampling=base.oversampling,
                     obstruction=base.obstruction, spider_width=base.spider_width,
                     spider_angle=base.spider_angle)


def simulate(config: SimConfig, companions: list[Companion] | None = None, seed: int = 0,
             progress=None, realisation: int | None = None) -> Simulation:
    """Simulate an ADI sequence; ``progress(done, total)`` is called after each frame.

    ``realisation`` (``None`` or ``r >= 0``) gives another realisation of the same
    observation: the aberrations ``phi_static`` and ``phi_drift`` of ``seed``, with fresh
    AO residuals and noise (drawn from a generator of their own, seeded by ``seed`` and
    ``r``). Many realisations sample the distribution of the speckles the cube of ``seed``
    was drawn from (``benchmarks/exo_oracle.py``).

    >>> sim = simulate(SimConfig(frames=4, size=32, subframes=2), seed=0)
    >>> sim.cube.shape, sim.psf.shape, round(float(sim.psf.sum() / sim.config.star_flux), 2)
    (torch.Size([4, 32, 32]), torch.Size([21, 21]), 0.89)
    """
    if realisation is not None and realisation < 0:
        from inversa.errors import InputError

        raise InputError("realisation must be >= 0", field="realisation")
    g = torch.Generator().manual_seed(seed)
    tel = telescope_for(config.size, config.telescope)
    p = pupil(tel)
    n = tel.grid
    kw = dict(mask=p, generator=g, pupil_px=tel.pupil_px)
    static = phase_screens(n, 1, 2.0, config.static_rms, **kw)[0]
    drift = phase_screens(n, 1, 2.0, config.drift_rms, **kw)[0]
    if realisation is not None:
        import numpy as np

        state = np.random.SeedSequence([int(seed) % 2 ** 63, int(realisation)]).generate_state(2)
        g = torch.Generator().manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)
        kw["generator"] = g
    t_count = config.frames
    cube = torch.zeros(t_count, config.size, config.size)
    for t in range(t_count):
        fit = phase_screens(n, config.subframes, 11 / 3, config.ao_rms, f_min=config.ao_cutoff,
                            **kw)
        servo = phase_screens(n, config.subframes, 2.0, config.servo_rms,
                              f_max=config.ao_cutoff, **kw)
        phase = static + (t / max(t_count - 1, 1)) * drift + fit + servo
        img = focal_intensity(p, phase).mean(dim=0)
        cube[t] = crop_centre(img, config.size) * config.star_flux
        if progress is not None:
            progress(t + 1, t_count)
    angles = torch.linspace(-config.rotation / 2, config.rotation / 2, t_count,
                            dtype=torch.float64)
    psf = offaxis_psf(tel, config.psf_size) * config.star_flux
    companions = list(companions or [])
    clean = inject(cube, angles, psf, companions) + config.sky
    noisy = torch.poisson(clean.clamp_min(0).to(torch.float64), generator=g).to(torch.float32)
    noisy = noisy + config.read_noise * torch.randn(noisy.shape, generator=g)
    fwhm = 1.03 * tel.oversampling * (1 - 0.5 * config.telescope.obstruction ** 2)
    return Simulation(cube=noisy, angles=angles, psf=psf, companions=companions,
                      config=config, fwhm=fwhm)


def random_companions(count: int, contrast: tuple[float, float], size: int, fwhm: float,
                      seed: int = 0, min_sep: float | None = None) -> list[Companion]:
    """``count`` companions at log-uniform contrasts in ``contrast``, separations uniform
    between ``min_sep`` (default 2.5 FWHM) and the frame edge minus 2 FWHM, position
    angles uniform, at least 3 FWHM apart from each other."""
    g = torch.Generator().manual_seed(seed)
    lo = min_sep if min_sep is not None else 2.5 * fwhm
    hi = size / 2 - 2 * fwhm
    out: list[Companion] = []
    tries = 0
    while len(out) < count and tries < 1000:
        tries += 1
        u = torch.rand(3, generator=g, dtype=torch.float64)
        sep = lo + (hi - lo) * float(u[0])
        pa = 360 * float(u[1])
        c = math.exp(math.log(contrast[0]) + (math.log(contrast[1]) - math.log(contrast[0]))
                     * float(u[2]))
        cand = Companion(sep, pa, c)
        x, y = cand.xy((size, size))
        if all(math.hypot(x - o.xy((size, size))[0], y - o.xy((size, size))[1]) >= 3 * fwhm
               for o in out):
            out.append(cand)
    return out
