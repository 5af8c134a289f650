"""The S/N's far tail, measured once on companion-free simulated cubes and shipped.

Both detectors calibrate their S/N on the observation itself: PACO divides by the robust
spread of the S/N computed with the angles reversed (:func:`inversa.exo.paco.paco_map`),
the deep detector maps scores through their distribution on reversed and shuffled
copies (:mod:`inversa.exo.deep.calibration`). Those copies hold about 1e4 pixels each,
which fixes the body of the distribution but not its far tail, and on companion-free
cubes with the *true* angles the calibrated S/N turns out heavier-tailed than a Gaussian
(``benchmarks/exo_null_calibration.out.txt``): a threshold of 5 would not mean 5 sigma.

The correction is a fixed monotone map ``y = g(s)`` of the calibrated S/N ``s`` to a
Gaussian-equivalent ``y``, fitted on ``N`` pooled pixels of many companion-free cubes:

    g(s) = Phi^-1(1 - F(s)),    F(s) = #{s_i >= s} / N               for x0 <= s <= u
    F(s) = F(u) (1 + xi (s - u) / sigma)^(-1 / xi)                   for s > u

with ``u`` the value above which ``exceedances`` pixels remain and ``(xi, sigma)`` the
generalised Pareto fit of the excesses over ``u`` (peaks over threshold, ``xi >= 0``:
never a lighter tail than an exponential); below ``x0``, ``g(s) = s + g(x0) - x0``. The
false-alarm probability of a pixel is then ``Phi(-g(s))`` and a threshold of 5 on ``g``
means PACO's nominal 2.9e-7 per pixel, for observations like the simulated ones (the
shipped fit: :data:`SIMULATION`). ``PacoConfig.null_tail`` and ``DeepConfig.null_tail``
turn it off.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.special import ndtri
from scipy.stats import genpareto, norm

TAIL_FILE = Path(__file__).resolve().parents[1] / "weights" / "exo_null_tail.json"
SIMULATION = "inversa.exo.simulate.SimConfig() (48 x 128 x 128), no companion, true angles"


@dataclass(frozen=True)
class TailMap:
    """A monotone map from a calibrated S/N to its Gaussian-equivalent (module docstring)."""

    knots: tuple[float, ...]      # s, increasing, from x0 to u
    values: tuple[float, ...]     # g(s) at the knots, increasing
    p_u: float                    # F(u)
    xi: float
    sigma: float
    meta: dict = field(default_factory=dict)

    def __call__(self, snr: torch.Tensor) -> torch.Tensor:
        """``g`` applied pixel-wise (NaN kept)."""
        s = snr.detach().cpu().numpy().astype(np.float64)
        k = np.asarray(self.knots)
        v = np.asarray(self.values)
        out = np.interp(s, k, v)
        low = s < k[0]
        out[low] = s[low] + v[0] - k[0]
        high = s > k[-1]
        if high.any():
            out[high] = -ndtri(np.clip(self.p_u * genpareto.sf(s[high] - k[-1], self.xi,
                                                               scale=self.sigma),
                                       1e-300, 0.5))
            out[high] = np.maximum(out[high], v[-1])
        out[~np.isfinite(s)] = np.nan
        return torch.from_numpy(out).to(snr.dtype if snr.is_floating_point() else torch.float32)


def gaussian_pfa(snr: torch.Tensor) -> torch.Tensor:
    """Per-pixel false-alarm probability ``Phi(-y)`` of a Gaussian-equivalent S/N ``y``
    (NaN kept), e.g. ``y = g(s)``."""
    return torch.from_numpy(norm.sf(snr.detach().cpu().double().numpy())).to(torch.float32)


def fit_tail(values: np.ndarray, exceedances: int = 300, x0: float = 1.0, step: float = 0.05,
             meta: dict | None = None) -> TailMap:
    """Fit :class:`TailMap` to the pooled null S/N ``values`` (finite pixels)."""
    v = np.sort(np.asarray(values, dtype=np.float64)[np.isfinite(values)])
    n = len(v)
    if n < 10 * exceedances:
        raise ValueError(f"{n} null pixels: need at least {10 * exceedances}")
    u = float(v[n - exceedances - 1])
    exc = v[n - exceedances:] - u
    xi, _, sigma = genpareto.fit(exc, floc=0.0)
    if xi < 0:                                  # never lighter than exponential
        xi, sigma = 0.0, float(exc.mean())
    knots = np.append(np.arange(x0, u, step), u)
    count = n - np.searchsorted(v, knots, side="left")
    vals = -ndtri(np.clip(count / n, 1e-300, 1 - 1e-12))
    vals = np.maximum.accumulate(vals + 1e-9 * np.arange(len(vals)))
    return TailMap(knots=tuple(map(float, knots)), values=tuple(map(float, vals)),
                   p_u=exceedances / n, xi=float(xi), sigma=float(sigma), meta=meta or {})


def save_tails(tails: dict[str, TailMap], path: Path) -> None:
    """Write the maps to ``path`` (.json), all or nothing (the file may be the shipped one,
    which ``inversa exo null-tail --merge`` rewrites)."""
    from inversa.atomic import atomic_write

    text = json.dumps({k: asdict(t) for k, t in tails.items()}, indent=1) + "\n"
    atomic_write(Path(path), lambda p: p.write_text(text))


@functools.lru_cache(maxsize=8)
def _read_tails(path: str, mtime_ns: int) -> object:
    """The parsed tail file, read once per version of the file (``paco_map`` and the deep
    detector ask for it on every map)."""
    return json.loads(Path(path).read_text())


def _bad_file(path: Path, e: Exception):
    from inversa.errors import InputError

    return InputError(f"not a null-tail file ({type(e).__name__})", source=str(path))


def _entries(path: Path) -> dict:
    """The parsed tail file ``path`` (``{}`` if there is none); InputError if it is not
    one."""
    if not path.exists():
        return {}
    try:
        d = _read_tails(str(path), path.stat().st_mtime_ns)
    except ValueError as e:
        raise _bad_file(path, e) from e
    if not isinstance(d, dict):
        raise _bad_file(path, AttributeError("not a mapping"))
    return d


def load_tail(key: str, path: Path = TAIL_FILE) -> TailMap | None:
    """The shipped map for ``key`` (``"paco"`` or a deep model's name), None if absent."""
    d = _entries(path).get(key)
    if d is None:
        return None
    try:
        d = {**d, "knots": tuple(d["knots"]), "values": tuple(d["values"]),
             "meta": dict(d.get("meta") or {})}  # the cached entry stays as read
        return TailMap(**d)
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise _bad_file(path, e) from e


def load_tails(path: Path = TAIL_FILE) -> dict[str, TailMap]:
    """Every map of the file ``path`` by key (``{}`` if there is no file)."""
    return {k: load_tail(k, path) for k in _entries(path)}


def null_maps(cubes: int, seed0: int, deep_model: str | None = "exo_deep",
              null_tail: bool = False, paco_detrend: int = 0,
              covariances: tuple[str, ...] = ("linear",)
              ) -> Iterator[tuple[int, float, torch.Tensor, dict, dict]]:
    """For each of ``cubes`` companion-free simulated cubes with the true angles (seeds
    ``seed0``..): ``(seed, fwhm, separation grid, S/N maps, seconds)``, the maps and
    their wall times keyed ``"paco"`` (and ``"paco_nonlinear"``, ``"paco_blend"``: PACO
    with each of ``covariances``, :func:`inversa.exo.paco.tail_key`), ``"paco_detrend"`` (PACO with
    ``detrend = paco_detrend``, when positive) and ``deep_model`` (when given), each
    calibrated, with the shipped tail map applied if ``null_tail``."""
    from dataclasses import replace

    from inversa.exo.deep.detect import DeepConfig, fit_observation
    from inversa.exo.geometry import polar_grid
    from inversa.exo.paco import PacoConfig, paco_map, tail_key
    from inversa.exo.psf import fwhm
    from inversa.exo.simulate import SimConfig, simulate

    for k in range(cubes):
        seed = seed0 + k
        sim = simulate(SimConfig(), [], seed=seed)
        sep, _ = polar_grid(sim.cube.shape[-2:])
        maps, seconds = {}, {}
        for cov in covariances:
            t0 = time.perf_counter()
            cfg = PacoConfig(null_tail=null_tail, covariance=cov)
            maps[tail_key(cfg)] = paco_map(sim.cube, sim.angles, sim.psf, cfg).snr
            seconds[tail_key(cfg)] = time.perf_counter() - t0
        if paco_detrend:
            t0 = time.perf_counter()
            maps["paco_detrend"] = paco_map(sim.cube, sim.angles, sim.psf,
                                            PacoConfig(null_tail=null_tail,
                                                       detrend=paco_detrend)).snr
            seconds["paco_detrend"] = time.perf_counter() - t0
        if deep_model:
            t0 = time.perf_counter()
            cfg = replace(DeepConfig(model=deep_model, seed=seed), null_tail=null_tail)
            fit = fit_observation(sim.cube, sim.angles, sim.psf, cfg)
            maps[deep_model] = fit.apply(sim.cube, sim.angles, sim.psf).snr
            seconds[deep_model] = time.perf_counter() - t0
        yield seed, fwhm(sim.psf), sep, maps, seconds


def collect_null_snr(cubes: int, seed0: int, deep_model: str | None = "exo_deep",
                     progress: Callable[[int, int], None] | None = None,
                     covariances: tuple[str, ...] = ("linear",)
                     ) -> dict[str, np.ndarray]:
    """Calibrated S/N (``null_tail`` off) of PACO (with each of ``covariances``) and of
    the deep model at every pixel beyond 2 FWHM of the star, on the cubes of
    :func:`null_maps`."""
    out: dict[str, list[np.ndarray]] = {}
    runs = null_maps(cubes, seed0, deep_model, covariances=covariances)
    for k, (_, f, sep, maps, _) in enumerate(runs):
        for key, snr in maps.items():
            keep = torch.isfinite(snr) & (sep >= 2 * f)
            out.setdefault(key, []).append(snr[keep].numpy().astype(np.float32))
        if progress is not None:
            progress(k + 1, cubes)
    return {k: np.concatenate(v) for k, v in out.items()}
