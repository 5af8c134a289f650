"""Sparse spike-train deconvolution (Taylor, Banks & McCoy 1979).

A seismic trace ``t`` sampled every ``upsample * dt`` is modelled as a reflectivity spike
train ``s`` at the fine interval ``dt``, convolved with a known wavelet ``w`` (given at
``dt``) and resampled (coarse sample n = fine sample ``n * upsample``):

.. math:: t = R_{u}\\,(w * s) + e, \\qquad
          \\hat s = \\arg\\min_s \\tfrac12 \\|t - R_u (w * s)\\|^2 + \\lambda \\|s\\|_1

solved by FISTA. The output has ``upsample`` times as many samples as the trace.
Automatic ``lam`` (when not given): ``sigma sqrt(2 log N) max_j ||A e_j||`` (the universal
threshold scaled by the largest column norm) when the noise level ``sigma`` is known, else
``0.05 ||A^T t||_inf`` (5 % of the smallest ``lam`` giving ``s = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from inversa.errors import InputError
from inversa.operators import Conv1d, LinearOperator, Resample1d, operator_norm
from inversa.priors import L1
from inversa.solvers import FISTA, Stop


def ricker(peak_hz: float, dt: float, length: float | None = None) -> torch.Tensor:
    """Ricker (Mexican hat) wavelet ``(1 - 2 (pi f t)^2) exp(-(pi f t)^2)``, zero phase,
    sampled at ``dt`` seconds over ``length`` seconds (default ``2.5 / peak_hz``), odd length.

    Examples
    --------
    >>> w = ricker(25.0, 0.002)
    >>> int(w.argmax()) == len(w) // 2
    True
    """
    if peak_hz <= 0 or dt <= 0:
        raise InputError(f"Ricker needs peak frequency > 0 and dt > 0, got {peak_hz}, {dt}",
                         field="wavelet")
    length = length or 2.5 / peak_hz
    n = int(round(length / dt)) // 2
    t = torch.arange(-n, n + 1, dtype=torch.float64) * dt
    a = (math.pi * peak_hz * t) ** 2
    return ((1 - 2 * a) * torch.exp(-a)).float()


def spike_operator(wavelet: torch.Tensor, n_fine: int, upsample: int) -> LinearOperator:
    """``A = R_u C_w`` on fine signals of length ``n_fine``."""
    return Resample1d(n_fine, upsample) @ Conv1d(wavelet, n_fine)


@dataclass(frozen=True)
class SpikeConfig:
    upsample: int = 2
    lam: float | None = None
    noise_sigma: float | None = None
    iterations: int = 2000
    tol: float = 1e-7
    nonneg: bool = False


def deconvolve_spikes(trace: torch.Tensor, wavelet: torch.Tensor,
                      config: SpikeConfig = SpikeConfig()) -> tuple[torch.Tensor, float]:
    """Recover the fine spike train from a coarse ``trace`` ``(N,)``; returns ``(s, lam)``.

    Examples
    --------
    >>> w = ricker(25.0, 0.002)
    >>> s = torch.zeros(200); s[50] = 1.0; s[120] = -0.6
    >>> A = spike_operator(w, 200, 2)
    >>> est, lam = deconvolve_spikes(A(s[None])[0], w, SpikeConfig(upsample=2, lam=1e-3))
    >>> sorted(est.abs().topk(2).indices.tolist())
    [50, 120]
    """
    t = torch.as_tensor(trace, dtype=torch.float64).reshape(-1)
    if not torch.isfinite(t).all():
        raise InputError("trace has NaN/Inf samples", field="trace")
    if config.upsample < 1:
        raise InputError(f"upsample must be >= 1, got {config.upsample}", field="upsample")
    if wavelet.dim() != 1 or wavelet.numel() < 1 or not torch.isfinite(wavelet).all():
        raise InputError("wavelet must be a finite 1-D signal", field="wavelet")
    if float(wavelet.abs().sum()) == 0:
        raise InputError("wavelet is all zeros", field="wavelet")
    n_fine = t.numel() * config.upsample
    a = spike_operator(wavelet.double(), n_fine, config.upsample)
    y = t[None]
    lam = config.lam
    if lam is None:
        if config.noise_sigma is not None:
            col = float(wavelet.double().norm())
            lam = config.noise_sigma * math.sqrt(2 * math.log(n_fine)) * col
        else:
            lam = 0.05 * float(a.adjoint(y).abs().max())
    if lam < 0:
        raise InputError(f"lambda must be >= 0, got {lam}", field="lam")
    step = 1.0 / max(operator_norm(a, (n_fine,), iters=200, dtype=torch.float64) ** 2, 1e-12)
    res = FISTA(a, y, L1(nonneg=config.nonneg), lam, step=step,
                stop=Stop(config.iterations, config.tol)).run(torch.zeros(1, n_fine,
                                                                          dtype=torch.float64))
    return res.x[0].float(), lam


def read_signal(path: str, what: str = "trace") -> np.ndarray:
    """A 1-D signal from ``.npy`` or CSV/text (one column; ``#`` comments and a header row
    are skipped)."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise InputError("no such file", source=str(p))
    try:
        if p.suffix.lower() == ".npy":
            a = np.load(p, allow_pickle=False)
        else:
            try:
                a = np.loadtxt(p, delimiter=",", comments="#", ndmin=1)
            except ValueError:
                a = np.loadtxt(p, delimiter=",", comments="#", skiprows=1, ndmin=1)
    except Exception as e:
        raise InputError(f"cannot read {what} ({type(e).__name__})", source=str(p)) from None
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise InputError(f"{what} must have one column, got shape {a.shape}", source=str(p))
    if a.size < 2:
        raise InputError(f"{what} has fewer than 2 samples", source=str(p))
    if not np.isfinite(a).all():
        raise InputError(f"{what} has NaN/Inf samples", source=str(p))
    return a
