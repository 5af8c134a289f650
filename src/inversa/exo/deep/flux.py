"""The deep detector's flux network: a learned correction of PACO's unbiased flux and of
its error bar, for detected sources.

PACO's unbiased estimate (:func:`inversa.exo.paco.unbiased_estimate`) re-estimates the
background statistics without the source and gives ``f_u`` with the error
``sigma_u = err / kappa`` (times the calibration factor of its annulus). What it leaves:
bright sources are still partly absorbed (``z = (f_u - f_true) / sigma_u`` has mean
-0.3 at S/N >= 15 on held-out cubes, ``benchmarks/exo_flux_head.out.txt``) and
``sigma_u`` is too small by about a fifth.
A small network reads, for each candidate, a descriptor ``d`` that does not depend on the
flux units (:func:`descriptor`) and returns a shift ``mu`` and a log-scale ``s``:

    f = f_u + mu(d) sigma_u,        sigma = c exp(s(d)) sigma_u,

trained on companions injected into simulated cubes with a robust negative
log-likelihood (Huber in ``z = (f_true - f) / sigma``, quadratic up to 2 then linear, plus
``log sigma``), so that a few confused sources do not set the error bars. The constant
``c`` is set afterwards on held-apart training cubes (split conformal): 68 % of their
``|z|`` lie below 1, so the bars cover the truth at their nominal rate for data like the
training data. The last layer starts at zero: an untrained head is PACO's estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from inversa.errors import InputError
from inversa.exo.deep.model import model_path
from inversa.exo.geometry import to_polar
from inversa.exo.paco import PacoConfig, unbiased_estimate
from inversa.nets.weights import save_weights

DEFAULT_FLUX_MODEL = "exo_flux"
DESCRIPTOR = ("asinh(S/N_u / 5)", "asinh(S/N_raw / 5)", "log kappa", "f_raw / f_u",
              "separation / 10 FWHM", "arc / 10 FWHM")
HUBER = 2.0


@dataclass(frozen=True)
class FluxMeasure:
    """What PACO says of one source at ``(x, y)``: the unbiased flux and its calibrated
    error, ``kappa``, the plain flux and its calibrated error, and the geometry."""

    flux: float        # unbiased flux f_u
    flux_err: float    # sigma_u = err / kappa x calibration factor
    kappa: float
    raw: float         # b / a at the position (statistics with the source inside)
    raw_err: float     # its error x calibration factor
    separation: float  # pixels
    arc: float         # length of the trajectory (pixels)
    fwhm: float

    def descriptor(self) -> torch.Tensor:
        return descriptor([self])[0]


def measure(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor, x: float, y: float,
            config: PacoConfig, scale: float, fwhm: float) -> FluxMeasure:
    """:class:`FluxMeasure` at ``(x, y)`` with PACO's statistics ``config`` (uncalibrated;
    ``scale`` is the calibration factor of the annulus, as in ``PacoMaps.scale``)."""
    u = unbiased_estimate(cube, angles, psf, x, y, replace(config, calibrate=False))
    sep = float(to_polar(x, y, tuple(cube.shape[-2:]))[0])
    span = float(angles.max() - angles.min())
    return FluxMeasure(flux=u.flux, flux_err=u.flux_err * scale, kappa=u.kappa, raw=u.raw,
                       raw_err=u.raw_err * scale, separation=sep,
                       arc=sep * math.radians(span), fwhm=fwhm)


def descriptor(ms: list[FluxMeasure]) -> torch.Tensor:
    """The network input (N, len(DESCRIPTOR)); every entry is free of the flux units."""
    rows = []
    for m in ms:
        su = m.flux / m.flux_err if m.flux_err > 0 else 0.0
        sr = m.raw / m.raw_err if m.raw_err > 0 else 0.0
        ratio = m.raw / m.flux if m.flux != 0 else 0.0
        rows.append([math.asinh(su / 5), math.asinh(sr / 5), math.log(max(m.kappa, 1e-3)),
                     min(max(ratio, -2.0), 3.0), m.separation / (10 * m.fwhm),
                     m.arc / (10 * m.fwhm)])
    x = torch.tensor(rows, dtype=torch.float32).reshape(-1, len(DESCRIPTOR))
    return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


class FluxHead(nn.Module):
    """Descriptor (N, 6) -> shift ``mu`` and log-scale ``s`` (each (N,)); ``coverage``
    is the conformal factor ``c`` (module docstring), a buffer saved with the weights."""

    def __init__(self, hidden: int = 8):
        super().__init__()
        self.hidden = hidden
        self.net = nn.Sequential(nn.Linear(len(DESCRIPTOR), hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer("coverage", torch.tensor(1.0))

    def forward(self, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(d)
        return out[:, 0], out[:, 1].clamp(-3.0, 3.0)

    def estimate(self, ms: list[FluxMeasure]) -> list[tuple[float, float]]:
        """``(flux, error)`` of each measured source (module docstring)."""
        if not ms:
            return []
        with torch.no_grad():
            mu, s = self(descriptor(ms))
        c = float(self.coverage)
        return [(m.flux + float(a) * m.flux_err, c * math.exp(float(b)) * m.flux_err)
                if math.isfinite(m.flux) and m.flux_err > 0 else (m.flux, m.flux_err)
                for m, a, b in zip(ms, mu, s, strict=True)]


def robust_nll(mu: torch.Tensor, s: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of ``rho(z) + s`` with ``z = (target - mu) / exp(s)`` (all in units of
    ``sigma_u``) and ``rho`` Huber's function (``z^2 / 2`` up to ``HUBER``, then linear)."""
    z = (target - mu) / s.exp()
    a = z.abs()
    rho = torch.where(a <= HUBER, 0.5 * z ** 2, HUBER * a - 0.5 * HUBER ** 2)
    return (rho + s).mean()


def conformal_factor(z: torch.Tensor, level: float = 0.6827) -> float:
    """The factor that puts a share ``level`` of ``|z|`` below 1 (split conformal)."""
    z = z[torch.isfinite(z)].abs()
    if z.numel() == 0:
        return 1.0
    return float(torch.quantile(z, level))


def save_flux_head(head: FluxHead, path: str | Path) -> None:
    save_weights(head, {"kind": "exo_flux", "hidden": head.hidden,
                        "descriptor": list(DESCRIPTOR)}, Path(path), half=False)


def load_flux_head(name_or_path: str | Path = DEFAULT_FLUX_MODEL) -> FluxHead:
    """Load a shipped (by name) or saved (by path) flux head; one-line
    :class:`InputError` on a missing, corrupted or mismatched file."""
    path = model_path(name_or_path)
    if not path.exists():
        raise InputError("no such flux model; train one with `inversa exo train-flux`",
                         source=str(path))
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta = blob["config"]
        if meta.get("kind") != "exo_flux" or list(meta["descriptor"]) != list(DESCRIPTOR):
            raise KeyError("kind")
        head = FluxHead(int(meta["hidden"]))
        head.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    except Exception as e:
        raise InputError(f"not a valid flux-model weights file ({type(e).__name__})",
                         source=str(path)) from None
    return head.eval().requires_grad_(False)


def has_flux_head(name_or_path: str | Path = DEFAULT_FLUX_MODEL) -> bool:
    return model_path(name_or_path).exists()
