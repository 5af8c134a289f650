"""Training data engineering: synthetic companions in the cube itself, angles shuffled.

Real positives are rare, so the positives are made: companions are injected with the
(well known) off-axis PSF at random positions (sub-pixel) and at contrasts log-uniform
around the detection limit, ``contrast = s x sigma(r) / eta(r)`` with ``s`` log-uniform
in ``snr_range``, ``sigma(r)`` the azimuthal median of PACO's calibrated flux error at
that separation and ``eta(r)`` the efficiency below. The frames' parallactic angles
are randomly permuted first (the *shuffled-angle trick*): an unknown real source of the
cube no longer adds up along any trajectory, so it cannot be learned as background, while
the injected companions follow
the permuted angles' trajectories, where the features look for them. A shuffled background
is not quite the background a detector meets, though: on companion-free simulated cubes
the true-order maps hold source-like residuals that shuffled copies lack
(``benchmarks/exo_null_orders.out.txt``). For cubes known to be source-free (the simulated
cubes of the generic model) ``SampleConfig.angles`` can keep the true order ("true") or
mix both ("mixed"), so that those residuals are shown to the network as background. The target is a
disc of ``target_radius`` FWHM around each injected companion. Close to the star PACO's
statistic keeps only a fraction of a source's nominal S/N (:func:`efficiency`, measured
on the cube); the contrasts are divided by it, so that the injections sit around the
detection limit at every separation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from inversa.exo.deep.features import FrameTerms, features, frame_terms
from inversa.exo.geometry import polar_grid, to_xy
from inversa.exo.inject import Companion, inject
from inversa.exo.paco import PacoConfig, annulus_stats

ANGLE_MODES = ("shuffled", "true", "mixed")


def sample_angles(angles: torch.Tensor, mode: str, gen: torch.Generator) -> torch.Tensor:
    """The angles a training sample is built with: a random permutation ("shuffled"), the
    cube's own order ("true"), or either with probability 1/2 ("mixed")."""
    perm = torch.randperm(len(angles), generator=gen)
    if mode == "true" or (mode == "mixed" and bool(torch.rand((), generator=gen) < 0.5)):
        return angles
    return angles[perm]


@dataclass(frozen=True)
class SampleConfig:
    """How training samples are made from one cube."""

    companions: tuple[int, int] = (3, 6)        # per sample, inclusive
    snr_range: tuple[float, float] = (1.5, 12.0)  # PACO S/N of the injections, log-uniform
    target_radius: float = 0.6                 # FWHM
    min_distance: float = 3.0                  # FWHM between injected companions
    # background angle order: "shuffled" (the trick, for real data), "true" (the cube's
    # own order, for cubes known to be source-free, e.g. simulated), "mixed" (either, 1:1)
    angles: str = "shuffled"

    def __post_init__(self) -> None:
        if self.angles not in ANGLE_MODES:
            raise ValueError(f"angles must be one of {ANGLE_MODES}, got {self.angles!r}")


def sensitivity(terms: FrameTerms) -> torch.Tensor:
    """Azimuthal median of the calibrated flux error (one value per integer separation,
    NaN where undefined), from source-free terms: PACO's error times the robust spread of
    the S/N in the annulus, so that a companion of ``s x sensitivity`` has an S/N of
    about ``s`` on the standardised S/N map."""
    _, err = terms.flux()
    err = err * annulus_stats(terms.snr(), terms.fwhm)[1]
    sep, _ = polar_grid(err.shape)
    ring = torch.round(sep).long()
    out = torch.full((int(ring.max()) + 1,), math.nan)
    for r in torch.unique(ring).tolist():
        v = err[(ring == r) & torch.isfinite(err)]
        if v.numel():
            out[r] = v.median()
    return out


def efficiency(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor, sens: torch.Tensor,
               null: FrameTerms, gen: torch.Generator, paco: PacoConfig = PacoConfig(),
               level: float = 10.0, count: int = 8) -> torch.Tensor:
    """Fraction of the nominal S/N that PACO's statistic keeps, per integer separation
    (same length as ``sens``; in [0.05, 1.5]).

    Close to the star the temporal mean and the covariance absorb much of a source (its
    trajectory is short): a companion of nominal S/N ``level`` (``level x sens``) shows
    far less. Measured once per cube on ``count`` companions (shuffled angles) spread in
    separation, interpolated linearly in between."""
    shape = tuple(cube.shape[-2:])
    finite = torch.isfinite(sens).nonzero()[:, 0]
    lo = max(null.inner + 0.5 * null.fwhm, float(finite.min()))
    hi = float(finite.max()) - 0.5
    seps = torch.linspace(lo, hi, count).tolist()
    off = 360 * float(torch.rand((), generator=gen))
    comps = [Companion(r, (off + 137.5 * i) % 360, level * float(sens[round(r)]))
             for i, r in enumerate(seps)]
    ang = angles[torch.randperm(len(angles), generator=gen)]
    terms = frame_terms(inject(cube, ang, psf, comps), ang, psf, paco)
    med, mad = annulus_stats(terms.snr(), terms.fwhm)
    z = (terms.snr() - med) / mad
    got = []
    for c in comps:
        x, y = c.xy(shape)
        win = z[round(y) - 1:round(y) + 2, round(x) - 1:round(x) + 2]
        v = win[torch.isfinite(win)]
        got.append(float(v.max()) / level if v.numel() else 1.0)
    eff = torch.tensor(got).clamp(0.05, 1.5)
    r = torch.arange(len(sens), dtype=torch.float64)
    return torch.from_numpy(__import__("numpy").interp(r.numpy(), seps, eff.numpy())
                            ).to(torch.float32)


def random_injections(shape: tuple[int, int], sens: torch.Tensor, terms: FrameTerms,
                      gen: torch.Generator, config: SampleConfig) -> list[Companion]:
    """Companions at random separations where the maps are defined, position angles and
    S/N, at least ``min_distance`` FWHM apart; ``sens`` is the flux giving S/N 1 at each
    separation (the calibrated error over the efficiency)."""
    f = terms.fwhm
    finite = torch.isfinite(sens).nonzero()[:, 0]
    lo = max(terms.inner + 0.5 * f, float(finite.min()) if len(finite) else 0.0)
    hi = float(finite.max()) - 0.5 if len(finite) else 0.0
    n_lo, n_hi = config.companions
    n = int(torch.randint(n_lo, n_hi + 1, (1,), generator=gen))
    out: list[Companion] = []
    tries = 0
    while len(out) < n and tries < 200 and hi > lo:
        tries += 1
        u = torch.rand(3, generator=gen, dtype=torch.float64)
        # uniform in area would starve small separations, where detection is hardest
        sep = lo + (hi - lo) * float(u[0])
        pa = 360 * float(u[1])
        ls = math.log(config.snr_range[0]) + float(u[2]) * math.log(
            config.snr_range[1] / config.snr_range[0])
        s_ = sens[min(int(round(sep)), len(sens) - 1)]
        if not math.isfinite(float(s_)):
            continue
        x, y = (float(v) for v in to_xy(sep, pa, shape))
        if any(math.hypot(x - ox, y - oy) < config.min_distance * f
               for ox, oy in (c.xy(shape) for c in out)):
            continue
        out.append(Companion(sep, pa, math.exp(ls) * float(s_)))
    return out


def target_map(shape: tuple[int, int], comps: list[Companion], radius: float) -> torch.Tensor:
    """1 within ``radius`` pixels of each companion (H, W)."""
    yy, xx = torch.meshgrid(torch.arange(shape[0], dtype=torch.float64),
                            torch.arange(shape[1], dtype=torch.float64), indexing="ij")
    t = torch.zeros(shape)
    for c in comps:
        x, y = c.xy(shape)
        t[(xx - x) ** 2 + (yy - y) ** 2 <= radius ** 2] = 1.0
    return t


def make_sample(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor,
                sens: torch.Tensor, null: FrameTerms, gen: torch.Generator,
                config: SampleConfig = SampleConfig(), paco: PacoConfig = PacoConfig()
                ) -> tuple[torch.Tensor, torch.Tensor, list[Companion]]:
    """One training sample: features (CHANNELS, H, W) of the cube with the angles of
    ``config.angles`` (:func:`sample_angles`) and injected companions, the target (H, W)
    and the companions."""
    ang = sample_angles(angles, config.angles, gen)
    shape = tuple(cube.shape[-2:])
    comps = random_injections(shape, sens, null, gen, config)
    data = inject(cube, ang, psf, comps)
    terms = frame_terms(data, ang, psf, paco)
    return features(terms), target_map(shape, comps, config.target_radius * null.fwhm), comps
