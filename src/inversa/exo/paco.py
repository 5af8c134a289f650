"""PACO: detection with a local Gaussian model of the speckles (Flasseur et al. 2018).

Background model. At every pixel location ``k`` the patches ``r_{t,k}`` (a disc of ``P``
pixels, about 49, radius ~ the FWHM) of the frames ``t = 1..T`` are modelled as
``N(m_k, C_k)`` with the temporal mean ``m_k`` and the shrinkage covariance

    C_k = (1 - rho_k) S_k + rho_k F_k,     F_k = diag(S_k),
    rho_k = [tr(S^2) + tr(S)^2 - 2 sum_i S_ii^2] / [(T + 1) (tr(S^2) - sum_i S_ii^2)]

(``S_k`` the sample covariance; ``rho`` clipped to [0, 1]; eq. 7-9 of the paper).

Detection. A source of flux ``alpha`` at ``phi`` in the derotated frame lies at
``phi_t`` in frame ``t`` (:func:`inversa.exo.geometry.trajectory`); with ``h_t`` the
stamp centred at ``phi_t`` (sub-pixel) and sampled on the patch at ``k_t = round(phi_t)``,
the maximum-likelihood flux and its standard deviation are

    a = sum_t h_t^T C_{k_t}^{-1} h_t,   b = sum_t h_t^T C_{k_t}^{-1} (r_{t,k_t} - m_{k_t}),
    flux = b / a,   flux_err = 1 / sqrt(a),   S/N = b / sqrt(a),

so the S/N follows N(0, 1) where there is no source. ``flux`` is the amplitude in units of
the PSF stamp: the contrast when the stamp is the unocculted star at the same exposure.

Robust variant: frames whose patch is an outlier at a location (a bad frame, a
transient) get a weight ``w_t < 1`` (:func:`_robust_weights`) in the statistics and in
``a``, ``b``; then
``Var(b) = sum_t w_t^2 h^T C^-1 h`` replaces ``a`` in the S/N and the error bar.

Drifting speckles (``detrend``, off by default): each pixel's polynomial trend in time
(:mod:`inversa.exo.detrend`) is removed before the statistics, for candidates whose
trajectory spans at least ``detrend_arc`` FWHM (:func:`trend_cut`); closer in the trend
fit would absorb the source, and the plain statistics are kept.

The candidate left out of the mean (``exclude``, off by default). A source crosses the
location ``k_t`` in the frames around ``t``, and the temporal mean ``m_k`` of all frames
takes in part of it: ``E[b] = alpha sum_t h_t^T C^-1 (h_t - hbar_k)`` falls short of
``alpha a`` by the source's share of the mean, most of it close to the star, where a
trajectory lingers on each location. With ``exclude = e``, the mean at ``k_t`` for frame
``t`` is taken over the frames whose point of the trajectory lies farther than ``e`` FWHM
from ``k_t`` (a window of frames around ``t``, by cumulative sums); at least
``min_frames`` must remain, otherwise the plain mean is kept; ``exclude_degree = 1`` takes
the least-squares line in time through those frames instead of their mean. The covariance
is left as it is (the source's share of it is second order near the detection limit). On
simulated cubes the noise of the mean grew as much as the signal kept or more
(``benchmarks/tune_exo_exclude.py``), so it stays off.

Nonlinear shrinkage (``covariance="nonlinear"``, off by default): the covariance is
shrunk as in Ledoit and Wolf (2020), each eigenvalue of the patch correlation matrix by
its own amount (:mod:`inversa.exo.covariance`), where at least 13 frames carry weight; its
calibrated S/N has its own shipped null tail (``paco_nonlinear``, close to the linear
one's): on the held-out cubes it ranks sources better and reaches as deep at 5 sigma, for 3
times the time (docs/benchmarks.md).
``covariance="blend"`` takes the mean of the two covariances (tail ``paco_blend``).

Missing data: NaN pixels are filled from their neighbours (:func:`_impute`); a frame
whose patch holds a transient NaN gets weight 0 at that location.

Device: the computation runs on the CPU (inputs on another device are copied).

Memory: candidates are processed in rings of ``chunk`` pixels sorted by separation; the
statistics are computed only at the locations their trajectories visit, so the memory is
``O(chunk T P^2)``, whatever the frame size; on top of it each location's statistics are
kept for the calibration's second pass (``H W P^2`` floats, 150 MB for 128 x 128 frames)
when that store fits in :data:`CACHE_BYTES` (1 GiB), and recomputed otherwise.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from inversa.errors import InputError
from inversa.exo.covariance import MIN_DOF, shrink_correlation
from inversa.exo.detrend import detrend as remove_trend
from inversa.exo.geometry import polar_grid, to_polar, trajectory
from inversa.exo.inject import Companion, inject
from inversa.exo.psf import StampBank, check_psf, disc_offsets, fwhm

COVARIANCES = ("linear", "nonlinear", "blend")
CACHE_BYTES = 1 << 30  # largest store of remembered statistics per channel (_Frames)


@dataclass(frozen=True)
class PacoConfig:
    """PACO's parameters (``None``: derived from the PSF's FWHM)."""

    radius: float | None = None     # patch radius, pixels (default: round(FWHM), 49 px at 4)
    inner: float | None = None      # no detection closer to the star (default: 1.5 FWHM)
    robust: bool = False            # down-weight frames that do not fit the model
    chunk: int = 1024               # candidate pixels per ring
    bank_steps: int = 11            # sub-pixel PSF positions per axis
    unbiased_iterations: int = 20   # max iterations of the source-free re-estimation
    jitter: float = 1e-6            # relative ridge added to C before inversion
    calibrate: bool = True          # rescale S/N (and flux_err) to unit robust std per annulus
    null_tail: bool = True          # then map the S/N's far tail to Gaussian (exo.null_tail)
    detrend: int = 0                # remove each pixel's polynomial trend in time (exo.detrend)
    detrend_arc: float = 3.0        # ... for candidates whose trajectory spans this many FWHM
    exclude: float = 0.0            # leave the candidate's frames out of the mean (FWHM; 0 off)
    exclude_degree: int = 0         # ... the mean then a polynomial in time (0 or 1)
    min_frames: int = 8             # ... keeping at least this many frames
    covariance: str = "linear"      # "linear" (the paper's), "nonlinear" (exo.covariance), "blend"

    def __post_init__(self) -> None:
        if self.covariance not in COVARIANCES:
            raise InputError(f"covariance must be one of {', '.join(COVARIANCES)}, "
                             f"got {self.covariance!r}", field="--covariance")


@dataclass
class PacoMaps:
    """Outputs: S/N, flux and flux error maps (H, W) (NaN where not computed)."""

    snr: torch.Tensor
    flux: torch.Tensor
    flux_err: torch.Tensor
    fwhm: float
    radius: float
    inner: float
    scale: torch.Tensor | None = None  # per-pixel calibration factor applied (H, W)


def shrinkage(s: torch.Tensor, t: float) -> torch.Tensor:
    """The shrinkage factor rho (N,) of sample covariances ``s`` (N, P, P) from ``t``
    samples (clipped to [0, 1])."""
    tr_s2 = (s * s).sum(dim=(-2, -1))
    diag = torch.diagonal(s, dim1=-2, dim2=-1)
    tr = diag.sum(-1)
    d2 = (diag * diag).sum(-1)
    num = tr_s2 + tr * tr - 2 * d2
    den = (t + 1) * (tr_s2 - d2)
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.ones_like(num)).clamp(0, 1)


def shrunk_covariance(s: torch.Tensor, neff: torch.Tensor | float,
                      covariance: str = "linear") -> torch.Tensor:
    """PACO's covariance estimate (N, P, P) from sample covariances ``s`` (N, P, P) of
    ``neff`` (effective) frames each: the linear shrinkage towards the diagonal or, with
    ``covariance="nonlinear"`` / ``"blend"``, :func:`inversa.exo.covariance.shrink_correlation`
    / the mean of the two, where at least ``MIN_DOF + 1`` frames carry weight (linear
    elsewhere)."""
    diag = torch.diagonal(s, dim1=-2, dim2=-1)
    rho = shrinkage(s, neff)[:, None, None]
    c = (1 - rho) * s + rho * torch.diag_embed(diag)
    if covariance != "linear":
        dof = torch.round(torch.as_tensor(neff, dtype=s.dtype).expand(s.shape[0])).long() - 1
        ok = dof >= MIN_DOF
        if ok.any():
            c_nl = shrink_correlation(s[ok], dof[ok])
            c[ok] = c_nl if covariance == "nonlinear" else 0.5 * (c[ok] + c_nl)
    return c


def local_statistics(patches: torch.Tensor, weights: torch.Tensor, jitter: float = 1e-6,
                     covariance: str = "linear") -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted temporal mean (N, P) and inverse shrinkage covariance (N, P, P) of
    ``patches`` (N, T, P) with frame weights ``weights`` (N, T) (0 = missing).
    ``covariance="nonlinear"``: :func:`inversa.exo.covariance.shrink_correlation` instead
    of the linear shrinkage towards the diagonal, at the locations with at least
    ``MIN_DOF + 1`` frames of weight (effectively) one; ``"blend"``: the mean of the two
    covariances there (:func:`shrunk_covariance`)."""
    w = weights.to(torch.float32)
    wsum = w.sum(1).clamp_min(1e-12)
    m = (w[..., None] * patches).sum(1) / wsum[:, None]
    d = (patches - m[:, None]) * w[..., None].sqrt()
    s = (d.transpose(1, 2) @ d / wsum[:, None, None]).to(torch.float64)
    w = w.to(torch.float64)
    wsum = wsum.to(torch.float64)
    neff = wsum ** 2 / (w * w).sum(1).clamp_min(1e-12)
    diag = torch.diagonal(s, dim1=-2, dim2=-1)
    c = shrunk_covariance(s, neff, covariance)
    scale = diag.mean(-1).clamp_min(1e-30)
    c = c + jitter * scale[:, None, None] * torch.eye(c.shape[-1], dtype=c.dtype)
    chol, info = torch.linalg.cholesky_ex(c)
    bad = info != 0
    if bad.any():  # degenerate (e.g. constant) patches: fall back to the diagonal
        chol[bad] = torch.diag_embed(diag[bad].clamp_min(1e-30).sqrt())
    cinv = torch.cholesky_inverse(chol)
    return m.to(torch.float32), cinv.to(torch.float32)


def _impute(cube: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill NaNs and return the data and the mask of pixels to reject (T, H, W).

    Each NaN is replaced by the mean of its finite 3x3 neighbours in the same frame (or,
    failing that, by the pixel's temporal median, or 0). Pixels that are NaN in at most
    half of the frames (transient defects) are also rejected: a frame whose patch holds
    one gets weight 0 at that location. Pixels NaN in most frames (dead pixels) are
    only filled, so that they do not remove every frame around them."""
    import torch.nn.functional as F

    bad = ~torch.isfinite(cube)
    if not bool(bad.any()):
        return cube, bad
    x = torch.nan_to_num(cube, nan=0.0, posinf=0.0, neginf=0.0)
    ok = (~bad).to(cube.dtype)
    k = torch.ones(1, 1, 3, 3, dtype=cube.dtype)
    num = F.conv2d((x * ok)[:, None], k, padding=1)[:, 0]
    den = F.conv2d(ok[:, None], k, padding=1)[:, 0]
    med = torch.nan_to_num(torch.nanmedian(cube, dim=0).values).expand_as(cube)
    fill = torch.where(den > 0, num / den.clamp_min(1), med)
    reject = bad & (bad.to(torch.float32).mean(0) <= 0.5)
    return torch.where(bad, fill, x), reject


class _Frames:
    """One channel's frames prepared for patch extraction."""

    def __init__(self, cube: torch.Tensor, psf: torch.Tensor, radius: float, steps: int):
        self.t, self.h, self.w = cube.shape
        data, reject = _impute(cube.to(torch.float32))
        self.flat = data.reshape(self.t, -1)
        self.bad = reject.reshape(self.t, -1)
        self.any_bad = bool(self.bad.any())
        self.dy, self.dx = disc_offsets(radius)
        self.r = int(math.floor(radius))
        self.bank = StampBank(psf.to(torch.float32), radius, steps)
        self.fwhm = fwhm(psf)
        self._store: tuple | None = None  # remembered statistics (:meth:`statistics`)

    def statistics(self, uniq: torch.Tensor, pt: torch.Tensor, wt: torch.Tensor,
                   cfg: PacoConfig) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`local_statistics` at the locations ``uniq`` (flat indices) from their
        patches ``pt`` and weights ``wt``, remembered for the next call with the same
        settings (the calibration's reversed pass visits the same locations) when the
        store of every location's inverse covariance fits in :data:`CACHE_BYTES`."""
        key = (cfg.jitter, cfg.covariance, cfg.robust)
        p = pt.shape[-1]
        if self.h * self.w * p * p * 4 > CACHE_BYTES:
            return local_statistics(pt, wt, cfg.jitter, cfg.covariance)
        if self._store is None or self._store[0] != key:
            self._store = (key, torch.zeros(self.h * self.w, dtype=torch.bool),
                           torch.empty(self.h * self.w, p), torch.empty(self.h * self.w, p, p))
        _, have, means, cinvs = self._store
        new = ~have[uniq]
        if bool(new.any()):
            m, cinv = local_statistics(pt[new], wt[new], cfg.jitter, cfg.covariance)
            means[uniq[new]], cinvs[uniq[new]] = m, cinv
            have[uniq[new]] = True
        return means[uniq], cinvs[uniq]

    def detrended(self, degree: int) -> _Frames:
        """The same frames with each pixel's trend in time removed
        (:func:`inversa.exo.detrend.detrend`); the masks and the stamp bank are shared."""
        out = copy.copy(self)
        out._store = None
        out.flat = remove_trend(self.flat.reshape(self.t, self.h, self.w), degree
                                ).reshape(self.t, -1)
        return out

    def patches(self, iy: torch.Tensor, ix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Patches (U, T, P) at integer locations and their frame weights (U, T)."""
        idx = (iy[:, None] + self.dy) * self.w + (ix[:, None] + self.dx)  # (U, P)
        pt = self.flat[:, idx].permute(1, 0, 2)  # (U, T, P)
        if self.any_bad:
            wt = (~self.bad[:, idx].any(-1)).T.to(torch.float32)
        else:
            wt = torch.ones(idx.shape[0], self.t)
        return pt, wt


def _robust_weights(pt: torch.Tensor) -> torch.Tensor:
    """Frame weights (U, T) ``min(1, tau / e_t)`` from the robustly whitened energy
    ``e_t = sum_p ((r_tp - med_p) / sigma_p)^2`` of each frame's patch (median and
    ``1.4826 MAD`` over frames), with ``tau = med(e) + 5 x 1.4826 MAD(e)``."""
    med = pt.median(dim=1, keepdim=True).values
    dev = pt - med
    sigma = 1.4826 * dev.abs().median(dim=1, keepdim=True).values
    e = (dev / sigma.clamp_min(1e-12)).square().sum(-1)
    em = e.median(dim=1, keepdim=True).values
    tau = em + 5 * 1.4826 * (e - em).abs().median(dim=1, keepdim=True).values
    return (tau / e.clamp_min(1e-12)).clamp(max=1.0)


def _grouped_matvec(mats: torch.Tensor, which: torch.Tensor, vecs: torch.Tensor) -> torch.Tensor:
    """``mats[which[i]] @ vecs[i]`` for all ``i``, with symmetric ``mats`` (U, P, P).

    The vectors that share a matrix are gathered into one matrix product, so each matrix
    is read once (a plain gather of ``mats[which]`` moves ``T`` times more memory)."""
    order = torch.argsort(which, stable=True)
    ws = which[order]
    counts = torch.bincount(ws, minlength=mats.shape[0])
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(ws)) - starts[ws]
    k = int(counts.max()) if len(ws) else 0
    pad = torch.zeros(mats.shape[0], k, vecs.shape[-1], dtype=vecs.dtype)
    pad[ws, rank] = vecs[order]
    prod = torch.bmm(pad, mats.to(vecs.dtype))
    out = torch.empty_like(vecs)
    out[order] = prod[ws, rank]
    return out


Statistics = Callable[[torch.Tensor, torch.Tensor, torch.Tensor],
                      tuple[torch.Tensor, torch.Tensor]]


def _ab_terms(frames: _Frames, angles: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor,
              cfg: PacoConfig, statistics: Statistics | None = None
              ) -> tuple[torch.Tensor, ...]:
    """Per-frame terms of ``a``, ``b`` and ``Var(b)`` for candidate positions ``(xs, ys)``
    (N,) in the derotated frame: the indices ``sel`` (n',) of the candidates whose
    trajectory stays inside the frame and, for those, ``w_t h_t^T C^-1 h_t``,
    ``w_t h_t^T C^-1 (r_t - m)`` and ``w_t^2 h_t^T C^-1 h_t`` (each (n', T)).

    ``statistics(locations (U,), patches (U, T, P), weights (U, T))`` may give the mean
    (U, P) and inverse covariance (U, P, P) at the locations instead of PACO's
    :func:`local_statistics` (e.g. statistics known in advance, benchmarks/exo_oracle.py)."""
    xt, yt = trajectory(xs, ys, angles.cpu(), (frames.h, frames.w))  # (N, T)
    ix, iy = torch.round(xt), torch.round(yt)
    fx, fy = (xt - ix).to(torch.float32), (yt - iy).to(torch.float32)
    ix, iy = ix.long(), iy.long()
    r = frames.r
    inside = ((ix >= r) & (ix < frames.w - r) & (iy >= r) & (iy < frames.h - r)).all(1)
    sel = inside.nonzero()[:, 0]
    if len(sel) == 0:
        e = torch.zeros(0, frames.t)
        return sel, e, e, e
    loc = iy[sel] * frames.w + ix[sel]  # (n', T)
    uniq, inv = torch.unique(loc, return_inverse=True)
    pt, wt = frames.patches(uniq // frames.w, uniq % frames.w)
    if cfg.robust:
        wt = _robust_weights(pt) * wt
    if statistics is None:
        m, cinv = frames.statistics(uniq, pt, wt, cfg)
    else:
        m, cinv = statistics(uniq, pt, wt)
    tt = torch.arange(frames.t).expand_as(inv)
    h = frames.bank.values(fx[sel], fy[sel])  # (n', T, P)
    v = _grouped_matvec(cinv, inv.reshape(-1), h.reshape(-1, h.shape[-1])).reshape(h.shape)
    x = pt[inv, tt]  # (n', T, P)
    w = wt[inv, tt]  # (n', T)
    hv = (h * v).sum(-1)
    if cfg.exclude > 0:
        mean = _mean_without_candidate(pt, wt, m, inv, xt[sel], yt[sel], ix[sel], iy[sel],
                                       cfg.exclude * frames.fwhm, cfg.min_frames,
                                       cfg.exclude_degree)
    else:
        mean = m[inv]
    return sel, w * hv, w * (v * (x - mean)).sum(-1), w * w * hv


def _mean_without_candidate(pt: torch.Tensor, wt: torch.Tensor, m: torch.Tensor,
                            inv: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor,
                            ix: torch.Tensor, iy: torch.Tensor, reach: float,
                            min_frames: int, degree: int = 0) -> torch.Tensor:
    """The mean (n', T, P) of the patches at ``k_t`` (``inv``: index into ``pt`` (U, T, P),
    weights ``wt`` (U, T), plain means ``m`` (U, P)) without the frames whose trajectory
    point ``(xt, yt)`` (n', T) lies within ``reach`` pixels of ``k_t = (ix, iy)``. The
    trajectory is an arc, so those frames form one window ``[lo, hi]`` around ``t``.
    ``degree`` 1: the least-squares line in time through the other frames, at ``t``."""
    t_count = xt.shape[1]
    d2 = ((xt[:, :, None] - ix[:, None, :].to(xt.dtype)) ** 2
          + (yt[:, :, None] - iy[:, None, :].to(yt.dtype)) ** 2)  # (n', T', T)
    near = d2 <= reach * reach
    idx = torch.arange(t_count)[None, :, None]
    lo = torch.where(near, idx, t_count).amin(1)  # (n', T); ``t`` itself is always near
    hi = torch.where(near, idx, -1).amax(1)
    tau = torch.linspace(-1, 1, t_count, dtype=torch.float64)
    w = wt.double()

    def outside(q: torch.Tensor) -> torch.Tensor:
        """Sums over the frames outside the window of ``q`` (U, T, ...): (n', T, ...)."""
        cs = torch.cat([torch.zeros_like(q[:, :1]), q.cumsum(1)], 1)
        return cs[:, -1][inv] - (cs[inv, hi + 1] - cs[inv, lo])

    r = pt.double()
    s0 = outside(w)
    r0 = outside(w[..., None] * r)
    if degree <= 0:
        mean = r0 / s0.clamp_min(1e-12)[..., None]
        ok = s0 >= min_frames
    else:
        s1 = outside(w * tau)
        s2 = outside(w * tau * tau)
        r1 = outside((w * tau)[..., None] * r)
        det = s0 * s2 - s1 * s1
        ok = (s0 >= min_frames) & (det > 1e-6 * s0 * s0)
        det = torch.where(ok, det, torch.ones_like(det))[..., None]
        b0 = (s2[..., None] * r0 - s1[..., None] * r1) / det
        b1 = (s0[..., None] * r1 - s1[..., None] * r0) / det
        mean = b0 + b1 * tau[None, :, None]
    keep = ok & (hi >= lo)
    return torch.where(keep[..., None], mean.to(m.dtype), m[inv])


def _ab(frames: _Frames, angles: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor,
        cfg: PacoConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a``, ``b`` and ``Var(b)`` (N,) for candidate positions ``(xs, ys)`` (N,) in the
    derotated frame; NaN where a trajectory leaves the frame."""
    n = xs.shape[0]
    a = torch.full((n,), math.nan)
    b = torch.full((n,), math.nan)
    var = torch.full((n,), math.nan)
    sel, at, bt, vt = _ab_terms(frames, angles, xs, ys, cfg)
    a[sel], b[sel], var[sel] = at.sum(1), bt.sum(1), vt.sum(1)
    return a, b, var


def _channels(cube: torch.Tensor, psf: torch.Tensor, angles: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate shapes; return (L, T, H, W) and (L, h, w)."""
    if cube.dim() not in (3, 4):
        raise InputError(f"expected a cube (T, H, W) or (L, T, H, W), got {tuple(cube.shape)}",
                         field="cube")
    cubes = (cube if cube.dim() == 4 else cube[None]).cpu()  # PACO runs on the CPU
    psf = psf.cpu()
    angles = angles.cpu()
    psfs = psf if psf.dim() == 3 else psf[None].expand(cubes.shape[0], *psf.shape)
    if psfs.shape[0] != cubes.shape[0]:
        raise InputError(f"{psfs.shape[0]} PSF stamps for {cubes.shape[0]} channels",
                         field="psf")
    if angles.shape != (cubes.shape[1],):
        raise InputError(f"{angles.numel()} angles for {cubes.shape[1]} frames", field="angles")
    check_psf(psfs, tuple(cubes.shape[-2:]))
    return cubes, psfs


def _geometry(psfs: torch.Tensor, cfg: PacoConfig) -> tuple[float, float, float]:
    f = fwhm(psfs.mean(0))
    radius = cfg.radius if cfg.radius is not None else max(2.0, float(round(f)))
    inner = cfg.inner if cfg.inner is not None else 1.5 * f
    return f, radius, inner


def paco_at(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor, xs: torch.Tensor,
            ys: torch.Tensor, config: PacoConfig = PacoConfig()
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flux, flux error and S/N (each (N,)) of sources at ``(xs, ys)`` (derotated frame,
    sub-pixel positions allowed). Spectral cubes sum ``a`` and ``b`` over channels (the
    same flux in PSF units in every channel)."""
    cubes, psfs = _channels(cube, psf, angles)
    f, radius, _ = _geometry(psfs, config)
    xs = torch.as_tensor(xs, dtype=torch.float64).reshape(-1)
    ys = torch.as_tensor(ys, dtype=torch.float64).reshape(-1)
    a = torch.zeros(xs.shape[0])
    b = torch.zeros_like(a)
    var = torch.zeros_like(a)
    cut = trend_cut(angles, f, config)
    plain, outer = _frame_sets(cubes, psfs, radius, config, cut)
    far = to_polar(xs, ys, tuple(cubes.shape[-2:]))[0] >= cut
    for frs, sel in _parts(plain, outer, far):
        for fr in frs:
            ac, bc, vc = _ab(fr, angles, xs[sel], ys[sel], config)
            a[sel], b[sel], var[sel] = a[sel] + ac, b[sel] + bc, var[sel] + vc
    return b / a, var.sqrt() / a, b / var.sqrt()


def _abv_map(frames: list[_Frames], angles: torch.Tensor, order: torch.Tensor,
             shape: tuple[int, int], chunk: int, progress: Callable[[int, int], None] | None,
             cfg: PacoConfig, done: int = 0, total: int | None = None,
             outer: list[_Frames] | None = None, far: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a``, ``b``, ``Var(b)`` maps at the pixels ``order``; those where ``far`` (one
    flag per pixel of ``order``) is set use the ``outer`` frames (detrended)."""
    h, w = shape
    out = [torch.full((h * w,), math.nan) for _ in range(3)]
    total = total or len(order)
    if far is None:
        far = torch.zeros(len(order), dtype=torch.bool)
    for s in range(0, len(order), chunk):
        idx = order[s:s + chunk]
        xs, ys = (idx % w).to(torch.float64), (idx // w).to(torch.float64)
        acc = [torch.zeros(len(idx)) for _ in range(3)]
        for frs, sel in _parts(frames, outer, far[s:s + chunk]):
            for fr in frs:
                for k, v in enumerate(_ab(fr, angles, xs[sel], ys[sel], cfg)):
                    acc[k][sel] += v
        for k in range(3):
            out[k][idx] = acc[k]
        if progress is not None:
            progress(done + min(s + chunk, len(order)), total)
    return out[0].reshape(h, w), out[1].reshape(h, w), out[2].reshape(h, w)


def trend_cut(angles: torch.Tensor, fwhm: float, config: PacoConfig) -> float:
    """The separation (pixels) beyond which ``config.detrend`` applies: where a
    trajectory spans ``config.detrend_arc`` FWHM over the field rotation (closer in, a
    source sits on each pixel for a large share of the frames and the trend fit would
    absorb it); ``inf`` when there is nothing to detrend."""
    span = math.radians(float(angles.max() - angles.min()))
    if config.detrend <= 0 or span <= 0:
        return math.inf
    return config.detrend_arc * fwhm / span


def _frame_sets(cubes: torch.Tensor, psfs: torch.Tensor, radius: float, config: PacoConfig,
                cut: float) -> tuple[list[_Frames], list[_Frames] | None]:
    """Plain frames of every channel, and their detrended twins when ``cut`` is finite."""
    plain = [_Frames(cubes[c], psfs[c], radius, config.bank_steps)
             for c in range(cubes.shape[0])]
    if not math.isfinite(cut):
        return plain, None
    return plain, [fr.detrended(config.detrend) for fr in plain]


def _parts(plain: list[_Frames], outer: list[_Frames] | None, far: torch.Tensor
           ) -> list[tuple[list[_Frames], torch.Tensor]]:
    """The frame sets and the candidates (boolean masks) each serves: the plain frames
    inside the trend cut, the detrended ones (``outer``) beyond it (``far``); empty
    selections left out."""
    return [(frs, sel) for frs, sel in ((plain, ~far), (outer, far))
            if frs is not None and bool(sel.any())]


def paco_map(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor,
             config: PacoConfig = PacoConfig(),
             progress: Callable[[int, int], None] | None = None) -> PacoMaps:
    """S/N, flux and flux-error maps at every pixel of the derotated frame.

    With ``config.calibrate`` the S/N is divided (and the flux error multiplied) by the
    robust standard deviation, per annulus, of the S/N map of the same cube processed with
    the frame order of the angles reversed, where no real source adds up
    (:func:`annulus_scale`): close to the star, where trajectories are short, the mean
    ``m_k`` absorbs part of ``b``'s fluctuations and ``b / sqrt(a)`` is under-dispersed
    (the empirical correction of Flasseur et al. 2020). This doubles the cost.

    >>> from inversa.exo.simulate import SimConfig, simulate
    >>> sim = simulate(SimConfig(frames=8, size=32, subframes=2), seed=0)
    >>> maps = paco_map(sim.cube, sim.angles, sim.psf)
    >>> maps.snr.shape, bool(torch.isfinite(maps.snr).any())
    (torch.Size([32, 32]), True)
    """
    cubes, psfs = _channels(cube, psf, angles)
    f, radius, inner = _geometry(psfs, config)
    h, w = cubes.shape[-2:]
    sep, _ = polar_grid((h, w))
    order = torch.argsort(sep.reshape(-1))
    order = order[sep.reshape(-1)[order] >= inner]
    cut = trend_cut(angles, f, config)
    frames, outer = _frame_sets(cubes, psfs, radius, config, cut)
    far = sep.reshape(-1)[order] >= cut
    total = len(order) * (2 if config.calibrate else 1)
    a, b, var = _abv_map(frames, angles, order, (h, w), config.chunk, progress, config,
                         total=total, outer=outer, far=far)
    snr, err = b / var.sqrt(), var.sqrt() / a
    scale = None
    if config.calibrate:
        _, b_r, var_r = _abv_map(frames, angles.flip(0), order, (h, w), config.chunk,
                                 progress, config, done=len(order), total=total,
                                 outer=outer, far=far)
        scale = annulus_scale(b_r / var_r.sqrt(), f)
        snr, err = snr / scale, err * scale
        if config.null_tail:
            from inversa.exo.null_tail import load_tail

            tail = load_tail(tail_key(config))
            if tail is not None:
                snr = tail(snr)
    return PacoMaps(snr=snr, flux=b / a, flux_err=err, fwhm=f, radius=radius, inner=inner,
                    scale=scale)


def tail_key(config: PacoConfig) -> str:
    """The entry of the shipped null-tail file (:mod:`inversa.exo.null_tail`) fitted for
    PACO's S/N with ``config``'s covariance estimate."""
    return "paco" if config.covariance == "linear" else f"paco_{config.covariance}"


def annulus_stats(img: torch.Tensor, fwhm: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Median and robust standard deviation ``1.4826 MAD`` (each (H, W)) over the finite
    pixels of the annulus one FWHM wide around each pixel's separation (0 and 1 where
    fewer than 20 pixels, or where the MAD is 0)."""
    sep, _ = polar_grid(img.shape)
    ring = torch.round(sep).long()
    med = torch.zeros_like(img)
    mad = torch.ones_like(img)
    finite = torch.isfinite(img)
    half = max(1, int(round(fwhm / 2)))
    for r in torch.unique(ring[finite]).tolist():
        v = img[finite & (ring >= r - half) & (ring <= r + half)]
        if v.numel() < 20:
            continue
        m = v.median()
        d = float(1.4826 * (v - m).abs().median())
        med[ring == r] = m
        mad[ring == r] = d if d > 0 else 1.0
    return med, mad


def annulus_scale(snr: torch.Tensor, fwhm: float) -> torch.Tensor:
    """Robust standard deviation ``1.4826 MAD`` of the S/N in an annulus one FWHM wide
    around each separation (H, W); 1 where undefined (:func:`annulus_stats`).

    Computed on a source-free S/N map (:func:`paco_map` uses the angle-reversed cube)."""
    return annulus_stats(snr, fwhm)[1]


@dataclass(frozen=True)
class UnbiasedFlux:
    """The result of :func:`unbiased_estimate`."""

    flux: float
    flux_err: float    # err / kappa (not calibrated: times PacoMaps.scale in detect)
    kappa: float       # the share of a residual source the re-estimated statistics keep
    iterations: int
    raw: float = math.nan      # b / a with the source inside the statistics (the first step)
    raw_err: float = math.nan  # its error (not calibrated)


def unbiased_estimate(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor, x: float,
                      y: float, config: PacoConfig = PacoConfig(), tol: float = 1e-3
                      ) -> UnbiasedFlux:
    """Flux and error of a detected source, with the statistics re-estimated on the
    data minus the current source model (Sect. 3.3 of the paper): the source no longer
    biases its own background.

    Let ``r(f)`` be the flux estimated on the data minus a source of flux ``f``. A
    residual source is partly absorbed by the mean and covariance re-estimated with it
    inside, so ``r(f) = kappa (f_true - f) + e`` with ``0 < kappa <= 1`` (small near the
    star, where the trajectory is short) and ``e`` the estimator's noise, of standard
    deviation ``err = 1 / sqrt(a)``. The unbiased flux is the root of ``r``:
    ``f = f_true + e / kappa``, so its error bar is ``err / kappa``, not ``err``.
    The root is found by secant steps (``r`` is curved: a large residual is absorbed
    more than a small one), and ``kappa`` is the slope of ``r`` at the root, measured over
    one standard deviation ``err``."""
    xs, ys = torch.tensor([x], dtype=torch.float64), torch.tensor([y], dtype=torch.float64)
    sep, pa = to_polar(x, y, tuple(cube.shape[-2:]))

    def residual(f: float) -> tuple[float, float]:
        clean = inject(cube, angles, psf, [Companion(float(sep), float(pa), -f)]) if f else cube
        est, e, _ = (float(v[0]) for v in paco_at(clean, angles, psf, xs, ys, config))
        return est, e

    f0 = 0.0
    r0, e0 = residual(0.0)
    raw = {"raw": r0, "raw_err": e0}
    flux, it = r0, 0
    if not math.isfinite(flux):
        return UnbiasedFlux(flux, math.nan, math.nan, it, **raw)
    r, err = residual(flux)
    for it in range(1, config.unbiased_iterations + 1):  # noqa: B007
        kappa = min(max((r0 - r) / (flux - f0), 0.05), 1.0) if flux != f0 else 1.0
        new = flux + r / kappa
        done = abs(new - flux) <= tol * max(abs(new), 1e-30)
        f0, r0, flux = flux, r, new
        r, err = residual(flux)
        if done:
            break
    kappa = min(max((r - residual(flux + err)[0]) / err, 0.05), 1.0) if err > 0 else 1.0
    return UnbiasedFlux(flux, err / kappa, kappa, it, **raw)


def unbiased_flux(cube: torch.Tensor, angles: torch.Tensor, psf: torch.Tensor, x: float,
                  y: float, config: PacoConfig = PacoConfig(), tol: float = 1e-3
                  ) -> tuple[float, float, float, int]:
    """:func:`unbiased_estimate` as ``(flux, flux_err, snr, iterations)``."""
    u = unbiased_estimate(cube, angles, psf, x, y, config, tol)
    flux, err, it = u.flux, u.flux_err, u.iterations
    return flux, err, flux / err if err > 0 else math.nan, it
