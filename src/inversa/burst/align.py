"""Parametric alignment of raw burst frames: robust Lucas-Kanade / Gauss-Newton.

For each frame ``k`` we estimate the homography ``P_k`` (frame -> reference, in raw pixel
coordinates, x = column, y = row) such that ``y_k(q) ~ y_0(P_k q)``, directly on the Bayer
mosaics, with every sample at its true sensor position (``proxy="planes"`` compares each
CFA sub-image with its counterpart, sub-image c pixel (u, v) sitting at raw position
``(2u + ox_c, 2v + oy_c)``; the default ``"full"`` uses the CFA luminance below).

Gauss-Newton on the robust least-squares objective

.. math::  \\min_p \\sum_{c, q} \\rho\\big(y_k^c(q) - y_0^c(P(p)\\, q)\\big)

with ``P(p) = P_{cur} + \\sum_i p_i G_i`` (generators ``G_i`` of the motion model:
translation 2, similarity 4, affine 6, homography 8 parameters, in normalised
coordinates), linearised with the sampled gradient of the reference; ``rho`` is Huber or
Tukey, applied by iteratively reweighted least squares with a scale ``1.4826 MAD(r)``.
Coarse to fine on a pyramid (2x2 averages, positions tracked exactly), initialised by
phase correlation of a half-resolution grey proxy for large shifts (its whitened spectrum
weighted by a Gaussian low-pass, ``phase_lowpass``: on faint, smooth frames the highest
frequencies are mostly noise, and without it the start, hence the result, can be off by
many pixels; ``benchmarks/align_large_shifts.out.txt``). The default image is
the CFA luminance ``[1 2 1]^T [1 2 1] / 16 * y`` at every raw pixel (R/4 + G/2 + B/4 at any
site of a Bayer mosaic, so it is consistent across frames and far less aliased than a
single colour plane); on each frame only the ``max_points`` samples of strongest gradient
enter the Gauss-Newton steps. Every step is torch
code: the result is differentiable with respect to the frames.

A large textured object that moves on its own can capture both the phase-correlation
peak and the strongest gradients, and the robust weights then treat the background as
the outlier. With ``candidates = n > 1`` every frame starts from the ``n - 1`` highest
separate phase-correlation peaks and from no motion, each start is refined as above, and
the frame keeps the motion whose truncated-quadratic residual over *all* its samples is
lowest (:func:`_hypothesis_cost`): the motion that explains most of the image, which is
the camera's when the objects cover less of it than the background does. The peaks can
all miss the camera's motion (an object of other colours, clipping, a short noisy
exposure), so each frame then also starts from the translation that explains it best on
a coarse grid (an exhaustive search of the same cost, :func:`_search`) and from the
motion of the other frame that explains it best (``borrow`` rounds, :func:`_borrow`: a
handheld camera shakes about one place, and frames an object did not capture lead the
others back to the background).

After convergence each frame gets an overlap fraction and a normalised cross-correlation
with the aligned reference; frames below ``min_overlap``, or whose correlation is below
``min_ncc`` or half the burst's median, are flagged as failures (``Alignment.ok``) rather
than silently averaged in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from inversa.burst.sampling import sample_at
from inversa.camera.cfa import pack
from inversa.errors import InputError

MotionModel = Literal["translation", "similarity", "affine", "homography"]
N_PARAMS = {"translation": 2, "similarity": 4, "affine": 6, "homography": 8}
# (dx, dy) of the four sub-images of a mosaic, in tile order (see camera.cfa.pack)
PLANE_OFFSETS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))


@dataclass(frozen=True)
class AlignConfig:
    """Settings of :func:`align_burst`."""

    model: MotionModel = "similarity"
    iterations: int = 10  # Gauss-Newton steps per pyramid level at most
    min_size: int = 64  # coarsest pyramid level, in proxy pixels
    robust: Literal["huber", "tukey", "none"] = "huber"
    phase_init: bool = True
    # Gaussian weighting of the phase correlation's whitened spectrum (cycles per proxy
    # pixel; 0: none): on faint, smooth frames the high frequencies are noise
    phase_lowpass: float = 0.15
    tol: float = 2e-2  # stop when corners move less than this (raw pixels)
    min_overlap: float = 0.25
    min_ncc: float = 0.2
    proxy: Literal["planes", "grey", "full"] = "full"
    max_points: int = 2048  # per frame and level (strongest gradients); 0: all
    # > 1: start from this many phase-correlation peaks (and no motion), refine each and
    # keep, per frame, the one that explains most of the image (see _hypothesis_cost)
    candidates: int = 1
    # with candidates > 1: rounds in which each frame also starts from the best translation
    # of a coarse search (first round) and from the motion of the other frame that
    # explains it best (_borrow)
    borrow: int = 2

    def __post_init__(self) -> None:
        if self.model not in N_PARAMS:
            raise InputError(f"motion model must be one of {', '.join(N_PARAMS)}, got "
                             f"{self.model!r}", field="motion")


@dataclass
class Alignment:
    """``matrices`` (K, 3, 3) frame -> reference in raw pixels; per-frame diagnostics."""

    matrices: torch.Tensor
    ok: torch.Tensor  # (K,) bool
    overlap: torch.Tensor  # (K,) fraction of the frame that sees the reference
    ncc: torch.Tensor  # (K,) normalised cross-correlation after alignment

    def to_hr(self, scale: int) -> torch.Tensor:
        """The same motions in high-resolution coordinates ``X = s x + (s - 1) / 2``."""
        return raw_to_hr(self.matrices, scale)


def _raw_to_hr_points(scale: int, like: torch.Tensor) -> torch.Tensor:
    """``X = s x + (s - 1) / 2`` as a homogeneous matrix."""
    t = torch.eye(3, dtype=like.dtype, device=like.device)
    t[0, 0] = t[1, 1] = scale
    t[0, 2] = t[1, 2] = (scale - 1) / 2
    return t


def raw_to_hr(m: torch.Tensor, scale: int) -> torch.Tensor:
    """Conjugate frame -> reference matrices from raw to high-resolution pixel units."""
    t = _raw_to_hr_points(scale, m)
    return t @ m @ torch.linalg.inv(t)


def hr_to_raw(m: torch.Tensor, scale: int) -> torch.Tensor:
    """Inverse of :func:`raw_to_hr`."""
    t = _raw_to_hr_points(scale, m)
    return torch.linalg.inv(t) @ m @ t


def normaliser(h: int, w: int, dtype: torch.dtype,
               ) -> tuple[torch.Tensor, torch.Tensor, tuple[float, float, float]]:
    """``T`` mapping normalised coordinates ``n`` to pixels ``c + L n`` (``c`` the centre
    of an ``h x w`` grid, ``L`` half its larger side), ``T^{-1}`` and ``(cx, cy, L)``:
    motions are parameterised as ``T^{-1} P T``, which keeps Gauss-Newton well
    conditioned."""
    cx, cy, L = (w - 1) / 2, (h - 1) / 2, max(h, w) / 2
    t = torch.tensor([[L, 0, cx], [0, L, cy], [0, 0, 1]], dtype=dtype)
    return t, torch.linalg.inv(t), (cx, cy, L)


def _generators(model: str, dtype, device) -> torch.Tensor:
    """(P, 3, 3) generators of the motion model in normalised coordinates."""
    def e(i, j, v=1.0):
        g = torch.zeros(3, 3, dtype=dtype, device=device)
        g[i, j] = v
        return g

    if model == "translation":
        gs = [e(0, 2), e(1, 2)]
    elif model == "similarity":
        gs = [e(0, 0) + e(1, 1), e(0, 1, -1.0) + e(1, 0), e(0, 2), e(1, 2)]
    elif model == "affine":
        gs = [e(0, 0), e(0, 1), e(0, 2), e(1, 0), e(1, 1), e(1, 2)]
    else:
        gs = [e(0, 0), e(0, 1), e(0, 2), e(1, 0), e(1, 1), e(1, 2), e(2, 0), e(2, 1)]
    return torch.stack(gs)


def _grad(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences (replicated borders) of (N, C, h, w) along x and y."""
    p = F.pad(img, (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) / 2
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) / 2
    return gx, gy


def _sample(img: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Bicubic samples of (N, C, h, w) at pixel coordinates (N, C, M), one set of points
    per channel, or (N, 1, M) shared by all channels (one call): (N, C, M)."""
    n, c, h, w = img.shape
    if px.shape[1] == 1:
        return sample_at(img, px[:, 0], py[:, 0], "bicubic", "border")
    return sample_at(img.reshape(n * c, 1, h, w), px.reshape(n * c, -1), py.reshape(n * c, -1),
                     "bicubic", "border").reshape(n, c, -1)


def phase_correlation(frames: torch.Tensor, ref: torch.Tensor, peaks: int = 1,
                      lowpass: float = 0.0) -> torch.Tensor:
    """Translations ``t`` (K, 2) with ``frames[k](q) ~ ref(q + t)``, in pixels (x, y);
    with ``peaks > 1``, the ``peaks`` highest separate peaks, strongest first (K, peaks, 2).

    Normalised cross-power spectrum with a Hann window; each integer peak is refined by a
    parabola through its neighbours; a peak masks its 5 x 5 neighbourhood for the next.
    ``lowpass > 0``: the normalised spectrum is weighted by ``exp(-|f|^2 / (2 lowpass^2))``
    (``f`` in cycles per pixel), so that noise-dominated frequencies count less.
    """
    k, h, w = frames.shape
    win = torch.outer(torch.hann_window(h, periodic=False, dtype=frames.dtype),
                      torch.hann_window(w, periodic=False, dtype=frames.dtype))
    f0 = torch.fft.rfft2((ref - ref.mean()) * win)
    fk = torch.fft.rfft2((frames - frames.mean(dim=(-2, -1), keepdim=True)) * win)
    cross = fk * f0.conj()
    spec = cross / cross.abs().clamp(min=1e-12)
    if lowpass > 0:
        fy = torch.fft.fftfreq(h, dtype=frames.dtype)[:, None]
        fx = torch.fft.rfftfreq(w, dtype=frames.dtype)[None, :]
        spec = spec * torch.exp(-(fx ** 2 + fy ** 2) / (2 * lowpass ** 2))
    corr = torch.fft.irfft2(spec, s=(h, w))
    kk = torch.arange(k)

    def parabola(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        den = a - 2 * c + b
        off = torch.where(den.abs() > 1e-12, 0.5 * (a - b) / den, torch.zeros_like(den))
        return off.clamp(-0.5, 0.5)

    found = []
    masked = corr.clone()
    for _ in range(peaks):
        flat = masked.reshape(k, -1).argmax(dim=1)
        iy, ix = flat // w, flat % w
        c0 = corr[kk, iy, ix]
        px = ix.to(frames.dtype) + parabola(corr[kk, iy, (ix - 1) % w],
                                            corr[kk, iy, (ix + 1) % w], c0)
        py = iy.to(frames.dtype) + parabola(corr[kk, (iy - 1) % h, ix],
                                            corr[kk, (iy + 1) % h, ix], c0)
        px = torch.where(px > w / 2, px - w, px)
        py = torch.where(py > h / 2, py - h, py)
        found.append(torch.stack([-px, -py], dim=1))
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                masked[kk, (iy + dy) % h, (ix + dx) % w] = -float("inf")
    return found[0] if peaks == 1 else torch.stack(found, dim=1)


@dataclass
class _Level:
    frames: torch.Tensor  # (K, C, h, w)
    ref: torch.Tensor  # (C, h, w)
    stride: float
    offsets: torch.Tensor  # (C, 2) raw position of pixel (0, 0) of each channel


def _pyramid(frames: torch.Tensor, ref: torch.Tensor, min_size: int,
             offs: torch.Tensor, stride: float = 2.0) -> list[_Level]:
    levels = [_Level(frames, ref, stride, offs)]
    while min(levels[-1].frames.shape[-2:]) >= 2 * min_size:
        lv = levels[-1]
        levels.append(_Level(F.avg_pool2d(lv.frames, 2), F.avg_pool2d(lv.ref[None], 2)[0],
                             2 * lv.stride, lv.offsets + lv.stride / 2))
    return levels[::-1]


def robust_scale(r: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``1.4826 MAD`` of the valid residuals of each frame (K,)."""
    a = r.abs().masked_fill(~valid, float("nan"))
    return (1.4826 * a.flatten(1).nanmedian(dim=1).values).clamp(min=1e-8)


def _weights(r: torch.Tensor, valid: torch.Tensor, kind: str,
             scale: torch.Tensor | None = None) -> torch.Tensor:
    if kind == "none":
        return valid.to(r.dtype)
    scale = robust_scale(r, valid) if scale is None else scale
    u = r.abs() / scale.view(-1, *[1] * (r.dim() - 1))
    if kind == "huber":
        w = torch.where(u <= 1.345, torch.ones_like(u), 1.345 / u.clamp(min=1e-12))
    else:
        w = ((1 - (u / 4.685) ** 2).clamp(min=0)) ** 2
    return w * valid


def project(hn: torch.Tensor, nx: torch.Tensor, ny: torch.Tensor, gens: torch.Tensor,
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Projected points ``u = pi(H n)`` for (K, 3, 3) matrices and points of shape
    (1 or K, ..., M) (shared by all frames, or one set per frame), and their derivatives
    along each generator ``G_p``:
    ``du/dp = (G_p [n; 1])_{xy} - u (G_p [n; 1])_z) / (H [n; 1])_z``, shape (K, ..., M, P).
    """
    def e(i, j):
        return hn[:, i, j].reshape(-1, *[1] * (nx.dim() - 1))

    den = e(2, 0) * nx + e(2, 1) * ny + e(2, 2)
    ux = (e(0, 0) * nx + e(0, 1) * ny + e(0, 2)) / den
    uy = (e(1, 0) * nx + e(1, 1) * ny + e(1, 2)) / den
    pts = torch.stack([nx, ny, torch.ones_like(nx)], dim=-1)  # (..., M, 3)
    gq = torch.einsum("pij,...j->...pi", gens, pts)  # (..., M, P, 3), no K yet
    d = den.unsqueeze(-1)
    dux = (gq[..., 0] - ux.unsqueeze(-1) * gq[..., 2]) / d
    duy = (gq[..., 1] - uy.unsqueeze(-1) * gq[..., 2]) / d
    return ux, uy, dux, duy


def gauss_newton_step(j: torch.Tensor, r: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``dp = argmin sum_n w_n (r_n - J_n dp)^2`` per frame: J (K, N, P), r, w (K, N)."""
    jw = j * w.unsqueeze(-1)
    a = jw.transpose(1, 2) @ j  # (K, P, P)
    b = (jw * r.unsqueeze(-1)).sum(1)  # (K, P)
    damp = 1e-9 * a.diagonal(dim1=1, dim2=2).mean(-1).clamp(min=1e-12)
    a = a + damp[:, None, None] * torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    return torch.linalg.solve(a, b.unsqueeze(-1)).squeeze(-1)


def _level_points(lv: _Level, norm: tuple[float, float, float],
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised raw positions of every sample of a level, per channel: (1, C, M) each."""
    _, _, h, w = lv.frames.shape
    cx, cy, L = norm
    dt = lv.frames.dtype
    ys, xs = torch.meshgrid(torch.arange(h, dtype=dt), torch.arange(w, dtype=dt), indexing="ij")
    rx = lv.stride * xs.reshape(1, -1) + lv.offsets[:, 0:1]
    ry = lv.stride * ys.reshape(1, -1) + lv.offsets[:, 1:2]
    return ((rx - cx) / L)[None], ((ry - cy) / L)[None]


def _on_level(ux: torch.Tensor, uy: torch.Tensor, lv: _Level,
              norm: tuple[float, float, float],
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalised positions -> the level's pixel coordinates, and whether they fall
    inside it."""
    _, _, h, w = lv.frames.shape
    cx, cy, L = norm
    px = (ux * L + cx - lv.offsets[:, 0:1]) / lv.stride
    py = (uy * L + cy - lv.offsets[:, 1:2]) / lv.stride
    return px, py, (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)


def _gn_level(lv: _Level, hn: torch.Tensor, norm: tuple[float, float, float],
              cfg: AlignConfig, gens: torch.Tensor,
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gauss-Newton iterations at one pyramid level; ``hn`` (K, 3, 3) normalised.
    Returns the matrices and, from the last step, each frame's overlap and NCC."""
    k, c, h, w = lv.frames.shape
    L = norm[2]
    dt = lv.frames.dtype
    nx, ny = _level_points(lv, norm)
    y = lv.frames.reshape(k, c, -1)
    if c == 1 and cfg.max_points and h * w > cfg.max_points:
        # large frames: the points of strongest gradient carry the information
        fx, fy = _grad(lv.frames)
        mag = (fx * fx + fy * fy).reshape(k, -1)
        idx = mag.topk(cfg.max_points, dim=1).indices  # (K, Msel)
        nx, ny = nx[0, 0][idx][:, None], ny[0, 0][idx][:, None]  # (K, 1, Msel)
        y = y[:, 0].gather(1, idx)[:, None]
    ref = lv.ref[None]
    gxi, gyi = _grad(ref)
    stack = torch.cat([ref, gxi, gyi], dim=1)  # (1, 3C, h, w)
    corners = torch.tensor([[-1, -1, 1], [1, -1, 1], [-1, 1, 1], [1, 1, 1.0]], dtype=dt)
    # coarse levels only need to bring the finer one within its basin
    tol = cfg.tol if lv.stride <= 2 else 0.05 * lv.stride
    prev = float("inf")
    affine = bool((gens[:, 2] == 0).all())  # last row fixed: constant Jacobian, no division
    if affine:
        pts = torch.stack([nx, ny, torch.ones_like(nx)], dim=-1)  # (1|K, C, M, 3)
        _, _, dux, duy = project(torch.eye(3, dtype=dt)[None], nx, ny, gens)
    for it in range(cfg.iterations):
        if affine:
            u = pts @ hn[:, None, :2, :].transpose(-1, -2)  # (K, C, M, 2)
            ux, uy = u[..., 0], u[..., 1]
        else:
            ux, uy, dux, duy = project(hn, nx, ny, gens)  # (K, C, M), (K, C, M, P)
        px, py, valid = _on_level(ux, uy, lv, norm)
        # value and gradients: at the same points when there is one channel
        rep = 1 if c == 1 else 3
        s = _sample(stack.expand(k, -1, -1, -1), px.repeat(1, rep, 1),
                    py.repeat(1, rep, 1))  # (K, 3C, M)
        iw, gx, gy = s[:, :c], s[:, c:2 * c], s[:, 2 * c:]
        r = y - iw
        # d(pixel position)/d(normalised position) = L / stride
        jp = (gx * (L / lv.stride)).unsqueeze(-1) * dux \
            + (gy * (L / lv.stride)).unsqueeze(-1) * duy  # (K, C, M, P)
        if it < 2:  # the residual scale settles after the first steps
            scale = robust_scale(r, valid)
        wts = _weights(r, valid, cfg.robust, scale)
        dp = gauss_newton_step(jp.flatten(1, 2), r.flatten(1, 2), wts.flatten(1, 2))
        hn = hn + torch.einsum("kp,pij->kij", dp, gens)
        hn = hn / hn[:, 2:3, 2:3]
        move = (torch.einsum("kp,pij,nj->kni", dp, gens, corners)[..., :2]).abs().amax() * L
        mv = float(move.detach())
        # converged, or stalled in a small limit cycle (IRLS weights, border samples)
        if mv < tol or (it >= 3 and mv > 0.8 * prev):
            break
        prev = mv
    overlap, ncc = _match(y, iw, valid)
    return hn, overlap, ncc


def _hypothesis_cost(lv: _Level, hn: torch.Tensor, norm: tuple[float, float, float],
                     tau2: torch.Tensor | None = None) -> torch.Tensor:
    """How badly each motion ``hn`` (B, 3, 3) explains its frame ``lv.frames`` (B, C, h, w)
    by the reference, over every sample (not only the strongest gradients, so that a
    textured object moving on its own cannot win by its texture alone):

    .. math::  c = \\frac{1}{N} \\sum_q \\min(r_q^2, \\tau^2), \\qquad \\tau = 3 \\hat\\sigma

    with ``r`` the residual, counted as ``tau^2`` where the frame sees outside the
    reference, and ``sigma`` the frame's noise (``1.4826 MAD`` of its Laplacian over
    ``sqrt(20)``): a truncated quadratic, so the motion that explains the most of the
    image wins, whatever the rest does. ``tau2``: :func:`_tau2` of ``lv.frames`` when the
    caller already has it."""
    b, c = lv.frames.shape[:2]
    dt = lv.frames.dtype
    nx, ny = _level_points(lv, norm)
    ux, uy, _, _ = project(hn, nx, ny, torch.zeros(1, 3, 3, dtype=dt))
    px, py, valid = _on_level(ux, uy, lv, norm)
    iw = _sample(lv.ref[None].expand(b, -1, -1, -1), px, py)
    r = lv.frames.reshape(b, c, -1) - iw
    tau2 = (_tau2(lv.frames) if tau2 is None else tau2).view(-1, 1, 1)
    cost = torch.where(valid, torch.minimum(r * r, tau2), tau2)
    return cost.mean(dim=(1, 2))


def _tau2(frames: torch.Tensor) -> torch.Tensor:
    """(B,) squared truncation ``tau^2`` of :func:`_hypothesis_cost` for frames (B, C, h, w)."""
    b, c, h, w = frames.shape
    lap = torch.tensor([[0, 1.0, 0], [1, -4, 1], [0, 1, 0]], dtype=frames.dtype).view(1, 1, 3, 3)
    hp = F.conv2d(frames.reshape(b * c, 1, h, w), lap).reshape(b, -1)
    tau = 3 * 1.4826 * hp.abs().median(dim=1).values / 20 ** 0.5
    return (tau ** 2).clamp(min=1e-12)


def _match(y: torch.Tensor, iw: torch.Tensor, valid: torch.Tensor,
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Overlap fraction and normalised cross-correlation of frames ``y`` and the warped
    reference ``iw`` (K, C, M) over the ``valid`` samples."""
    y, iw = y.detach(), iw.detach()
    v = valid.to(y.dtype)
    n = v.sum(dim=(1, 2)).clamp(min=1)

    def centred(a: torch.Tensor) -> torch.Tensor:
        return (a - (a * v).sum(dim=(1, 2), keepdim=True) / n.view(-1, 1, 1)) * v

    a, b = centred(y), centred(iw)
    ncc = (a * b).sum(dim=(1, 2)) / (a.norm(dim=(1, 2)) * b.norm(dim=(1, 2))).clamp(min=1e-12)
    return valid.float().mean(dim=(1, 2)), torch.where(n >= 16, ncc, torch.zeros_like(ncc))


def align_burst(raw: torch.Tensor, config: AlignConfig = AlignConfig(),
                init: torch.Tensor | None = None,
                exposure: torch.Tensor | None = None) -> Alignment:
    """Align every frame of a raw burst ``(K, H, W)`` to frame 0 (see the module
    docstring). Differentiable when ``raw`` requires grad; otherwise it runs without
    autograd bookkeeping.

    ``init`` (K, 3, 3) raw-pixel matrices to start from (skips phase correlation);
    ``exposure`` relative exposures (frames are divided by them).

    Examples
    --------
    >>> from inversa.burst.synth import SynthConfig, synthesize_burst
    >>> img = torch.rand(3, 128, 128, generator=torch.Generator().manual_seed(0))
    >>> sb = synthesize_burst(img, SynthConfig(scale=2, frames=3, noise="none"), seed=0)
    >>> al = align_burst(sb.burst.raw)
    >>> bool(al.ok.all())
    True
    """
    if raw.requires_grad or (init is not None and torch.as_tensor(init).requires_grad):
        return _align(raw, config, init, exposure)
    with torch.inference_mode():
        out = _align(raw, config, init, exposure)
    return Alignment(*(t.clone() for t in (out.matrices, out.ok, out.overlap, out.ncc)))


def _search(work: torch.Tensor, offs: torch.Tensor, stride: float,
            norm: tuple[float, float, float], side: int = 64) -> torch.Tensor:
    """Per frame of ``work[1:]``, the translation (normalised, (K - 1, 3, 3)) of least
    :func:`_hypothesis_cost` on a grid: the frames averaged down by 2 until their smaller
    side is at most ``side``, shifts of whole pixels of that level up to a quarter of it."""
    frames, ref = work[1:], work[0]
    while min(frames.shape[-2:]) > side:
        frames, ref = F.avg_pool2d(frames, 2), F.avg_pool2d(ref[None], 2)[0]
        offs, stride = offs + stride / 2, 2 * stride
    dt = frames.dtype
    k1, _, h, w = frames.shape
    r = max(min(h, w) // 4, 1)
    # a whole-pixel shift samples the reference exactly: its shifted copies (NaN outside)
    tau2 = _tau2(frames).view(-1, 1, 1, 1)
    pad = F.pad(ref[None], (r, r, r, r), value=float("nan"))[0]
    cost = torch.empty(k1, 2 * r + 1, 2 * r + 1, dtype=dt)
    for i in range(2 * r + 1):
        for j in range(2 * r + 1):
            d2 = (frames - pad[:, i:i + h, j:j + w]) ** 2
            cost[:, i, j] = torch.where(d2.isnan(), tau2, torch.minimum(d2, tau2)).mean((1, 2, 3))
    best = cost.reshape(k1, -1).argmin(1)
    out = torch.eye(3, dtype=dt).repeat(k1, 1, 1)
    out[:, 0, 2] = (best % (2 * r + 1) - r).to(dt) * stride / norm[2]
    out[:, 1, 2] = (best // (2 * r + 1) - r).to(dt) * stride / norm[2]
    return out


def _borrow(work: torch.Tensor, offs: torch.Tensor, stride: float, hn: torch.Tensor,
            cost: torch.Tensor, overlap: torch.Tensor, ncc: torch.Tensor,
            norm: tuple[float, float, float], config: AlignConfig, gens: torch.Tensor,
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Motions ``hn`` (K - 1, 3, 3, normalised; ``cost`` their :func:`_hypothesis_cost` at
    full resolution, as the first starts were chosen by) of the frames ``work[1:]`` that
    moving objects captured, put back on the camera's: in each of ``config.borrow`` rounds
    every frame starts from the motion of the other frame whose motion explains it best
    (:func:`_hypothesis_cost` on a pyramid level of at most 256 pixels), and in the first
    also from :func:`_search`'s translation, each refined as the first starts were; a
    frame keeps a result that explains it better at full resolution than the motion it
    has (by 1 %, so that equally good motions are not traded). Returns the motions,
    overlaps and NCCs."""
    k1 = hn.shape[0]
    levels = _pyramid(work[1:], work[0], config.min_size, offs, stride)
    finest = levels[-1]
    # the other frames' motions are only ranked, on a level of at most 256 pixels (the
    # finest for frames that small): (K - 1)^2 costs
    small = ([lv for lv in levels if min(lv.frames.shape[-2:]) <= 256] or levels[:1])[-1]
    searched = _search(work, offs, stride, norm)
    # the frames' noise levels, for every cost below on the two levels
    tau_small, tau_fine = _tau2(small.frames), _tau2(finest.frames)
    for rnd in range(config.borrow):
        # cross[i, j]: how well frame j's motion explains frame i
        cross = torch.stack([_hypothesis_cost(small, hn[j].expand(k1, 3, 3), norm, tau_small)
                             for j in range(k1)], 1)
        cross.fill_diagonal_(float("inf"))
        starts = [hn[cross.argmin(1)]] + ([searched] if rnd == 0 else [])
        improved = False
        for h2 in starts:
            for lv in levels:
                h2, ov2, nc2 = _gn_level(lv, h2, norm, config, gens)
            c2 = _hypothesis_cost(finest, h2, norm, tau_fine)
            better = c2 < 0.99 * cost
            improved = improved or bool(better.any())
            hn = torch.where(better[:, None, None], h2, hn)
            overlap = torch.where(better, ov2, overlap)
            ncc = torch.where(better, nc2, ncc)
            cost = torch.where(better, c2, cost)
        if not improved:
            break
    return hn, overlap, ncc


def _align(raw: torch.Tensor, config: AlignConfig, init: torch.Tensor | None,
           exposure: torch.Tensor | None) -> Alignment:
    """Implementation of :func:`align_burst`."""
    if raw.dim() != 3:
        raise InputError(f"expected a burst (K, H, W), got shape {tuple(raw.shape)}")
    k, hh, ww = raw.shape
    dt = torch.float64 if raw.dtype == torch.float64 else torch.float32
    x = raw.to(dt)
    if exposure is not None:
        x = x / torch.as_tensor(exposure, dtype=dt).reshape(-1, 1, 1)
    planes = pack(x)  # (K, 4, H/2, W/2)
    grey = planes.mean(1)  # 2x2 cell means: luminance at (2u + .5, 2v + .5)
    t, tinv, norm = normaliser(hh, ww, dt)
    if init is not None:
        m0 = torch.as_tensor(init, dtype=dt).clone()
    else:
        m0 = torch.eye(3, dtype=dt).repeat(k, 1, 1)
    if k == 1:
        return Alignment(m0, torch.ones(1, dtype=torch.bool), torch.ones(1), torch.ones(1))
    starts = m0[1:, None]  # (K - 1, n, 3, 3): n hypotheses per frame
    if init is None and config.phase_init:
        # the phase-correlation peaks, then (when n > 1) no motion
        n = max(config.candidates, 1)
        shift = phase_correlation(grey[1:], grey[0], max(n - 1, 1),
                                  lowpass=config.phase_lowpass).reshape(k - 1, -1, 2)
        starts = torch.eye(3, dtype=dt).repeat(k - 1, n, 1, 1)
        p = shift.shape[1]  # shifts of the half-resolution proxy: twice in raw pixels
        starts[:, :p, 0, 2], starts[:, :p, 1, 2] = 2 * shift[..., 0], 2 * shift[..., 1]
    n = starts.shape[1]
    hn = tinv @ starts.reshape(-1, 3, 3) @ t
    gens = _generators(config.model, dt, raw.device)
    stride = 2.0
    if config.proxy == "grey":
        work = grey[:, None]
        offs = torch.tensor([[0.5, 0.5]], dtype=dt)
    elif config.proxy == "full":  # 3x3 cell means at every raw pixel: luminance, stride 1
        k3 = torch.tensor([1.0, 2.0, 1.0], dtype=dt)
        k3 = (k3[:, None] * k3[None, :] / 16).view(1, 1, 3, 3)
        work = F.conv2d(F.pad(x[:, None], (1, 1, 1, 1), mode="reflect"), k3)
        offs = torch.tensor([[0.0, 0.0]], dtype=dt)
        stride = 1.0
    else:
        work = planes
        offs = torch.tensor(PLANE_OFFSETS, dtype=dt)
    frames = work[1:].repeat_interleave(n, dim=0) if n > 1 else work[1:]
    for lv in _pyramid(frames, work[0], config.min_size, offs, stride):
        hn, overlap, ncc = _gn_level(lv, hn, norm, config, gens)
    if n > 1:
        cost, best = _hypothesis_cost(lv, hn, norm).reshape(k - 1, n).min(dim=1)
        pick = torch.arange(k - 1) * n + best
        hn, overlap, ncc = hn[pick], overlap[pick], ncc[pick]
        if k > 2 and config.borrow > 0:
            hn, overlap, ncc = _borrow(work, offs, stride, hn, cost, overlap, ncc, norm,
                                       config, gens)
    m = torch.cat([torch.eye(3, dtype=dt)[None], t @ hn @ tinv])
    overlap = torch.cat([torch.ones(1), overlap.float()])
    ncc = torch.cat([torch.ones(1, dtype=ncc.dtype), ncc])
    # absolute floor, and relative to the burst: noise lowers every frame's correlation
    # alike, an unrelated or misaligned frame stands out
    floor = max(config.min_ncc, 0.5 * float(ncc[1:].detach().median()))
    ok = (overlap >= config.min_overlap) & (ncc >= floor)
    ok[0] = True
    return Alignment(m, ok, overlap, ncc)


def endpoint_error(est: torch.Tensor, true: torch.Tensor, h: int, w: int,
                   step: int = 4) -> torch.Tensor:
    """Mean distance (K,) between two sets of (K, 3, 3) motions over an ``h x w`` grid."""
    ys, xs = torch.meshgrid(torch.arange(0, h, step, dtype=torch.float64),
                            torch.arange(0, w, step, dtype=torch.float64), indexing="ij")
    p = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones(xs.numel(), dtype=torch.float64)])
    a, b = est.double() @ p, true.double() @ p
    d = a[:, :2] / a[:, 2:] - b[:, :2] / b[:, 2:]
    return d.norm(dim=1).mean(dim=1)


__all__ = ["AlignConfig", "Alignment", "MotionModel", "align_burst", "endpoint_error",
           "hr_to_raw", "phase_correlation", "raw_to_hr"]
