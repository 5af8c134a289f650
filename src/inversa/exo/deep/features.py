"""Network inputs: PACO's whitened, derotated per-frame evidence, summarised per pixel.

For a candidate position ``phi`` of the derotated frame and every frame ``t``, PACO's
local model (mean ``m``, shrinkage covariance ``C`` of the patches the trajectory visits)
gives the per-frame terms (:func:`inversa.exo.paco._ab_terms`)

    a_t = h_t^T C^-1 h_t,     b_t = h_t^T C^-1 (r_t - m),

i.e. the data are centred and whitened locally, then matched to the off-axis PSF at the
place where a source at ``phi`` would be in frame ``t`` (the derotation). PACO keeps only
``S = sum_t b_t / sqrt(sum_t a_t)``, the optimal statistic if the Gaussian model holds.
The network sees how the evidence is spread over the frames instead, through
statistics of the per-frame S/N ``z_t = b_t / sqrt(a_t)`` that do not depend on the
number of frames nor on their order:

====  ===================================================================
0     ``S`` (PACO's S/N)
1     Huber combination ``sum_t sqrt(a_t) psi(z_t) / sqrt(sum_t a_t)``, ``psi`` clipped at 2
2, 3  ``S`` of the first and of the second half of the sequence (a source is in both)
4     ``sqrt(T) median_t z_t``
5     ``std_t z_t``
6     ``max_t z_t``
7     ``sqrt(T) mean_t sign(z_t)``
8     separation / half the frame size
9     1 where the statistics are defined (trajectories inside the frame), else 0
====  ===================================================================

Channels 0-7 are standardised per annulus one FWHM wide (median and ``1.4826 MAD`` over
the annulus, robust to the few sources) and compressed as ``4 asinh(f / 4)``, so the
inputs mean the same thing whatever the cube's brightness, speckle level or number of
frames: one model serves many observations. Spectral cubes add ``a_t`` and ``b_t`` over
the channels (the same flux in PSF units at every wavelength, as PACO does).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from inversa.exo.geometry import polar_grid
from inversa.exo.paco import (
    PacoConfig,
    _ab_terms,
    _channels,
    _frame_sets,
    _geometry,
    _parts,
    annulus_stats,
    trend_cut,
)

CHANNELS = 10
FEATURE_VERSION = 1


@dataclass
class FrameTerms:
    """Per-frame PACO terms (T, H, W) at every pixel of the derotated frame (NaN where
    not defined), with the geometry used."""

    a: torch.Tensor
    b: torch.Tensor
    var: torch.Tensor
    fwhm: float
    radius: float
    inner: float

    def snr(self) -> torch.Tensor:
        """PACO's S/N ``sum b / sqrt(sum Var b)`` (H, W), before calibration."""
        return self.b.sum(0) / self.var.sum(0).sqrt()

    def flux(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Flux ``sum b / sum a`` and its standard deviation (H, W), before calibration."""
        a = self.a.sum(0)
        return self.b.sum(0) / a, self.var.sum(0).sqrt() / a


def frame_terms(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor,
                config: PacoConfig = PacoConfig(),
                progress: Callable[[int, int], None] | None = None) -> FrameTerms:
    """Compute :class:`FrameTerms` for a cube (T, H, W) or (L, T, H, W)."""
    cubes, psfs = _channels(cube, psf, angles)
    f, radius, inner = _geometry(psfs, config)
    t_count, h, w = cubes.shape[1:]
    sep, _ = polar_grid((h, w))
    order = torch.argsort(sep.reshape(-1))
    order = order[sep.reshape(-1)[order] >= inner]
    cut = trend_cut(angles, f, config)
    frames, outer = _frame_sets(cubes, psfs, radius, config, cut)
    far_all = sep.reshape(-1) >= cut
    out = [torch.full((h * w, t_count), math.nan) for _ in range(3)]
    for s in range(0, len(order), config.chunk):
        idx = order[s:s + config.chunk]
        for frs, sel in _parts(frames, outer, far_all[idx]):
            part = idx[sel]
            xs, ys = (part % w).to(torch.float64), (part // w).to(torch.float64)
            acc = None
            for fr in frs:
                sel, *terms = _ab_terms(fr, angles, xs, ys, config)
                acc = terms if acc is None else [p + q for p, q in zip(acc, terms)]
            for k in range(3):
                out[k][part[sel]] = acc[k]
        if progress is not None:
            progress(min(s + config.chunk, len(order)), len(order))
    a, b, var = (o.T.reshape(t_count, h, w).contiguous() for o in out)
    return FrameTerms(a=a, b=b, var=var, fwhm=f, radius=radius, inner=inner)


def features(terms: FrameTerms) -> torch.Tensor:
    """The network input (CHANNELS, H, W) (see the module's table); 0 where undefined."""
    a, b, v = terms.a, terms.b, terms.var
    t_count = a.shape[0]
    z = b / v.clamp_min(1e-30).sqrt()
    sa, sv = a.sum(0), v.sum(0)
    s = b.sum(0) / sv.sqrt()
    hub = (v.sqrt() * z.clamp(-2, 2)).sum(0) / sv.sqrt()
    half = t_count // 2
    s1 = b[:half].sum(0) / v[:half].sum(0).sqrt()
    s2 = b[half:].sum(0) / v[half:].sum(0).sqrt()
    root = math.sqrt(t_count)
    med = root * z.median(0).values
    spread = z.std(0)
    mx = z.max(0).values
    sign = root * torch.sign(z).mean(0)
    valid = torch.isfinite(s) & (sa > 0)
    chans = []
    for f in (s, hub, s1, s2, med, spread, mx, sign):
        f = torch.where(valid, f, torch.full_like(f, math.nan))
        m, d = annulus_stats(f, terms.fwhm)
        g = 4 * torch.asinh((f - m) / d / 4)
        chans.append(torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0))
    sep, _ = polar_grid(s.shape)
    chans.append((sep / (max(s.shape) / 2)).to(torch.float32))
    chans.append(valid.to(torch.float32))
    return torch.stack(chans).to(torch.float32)
