"""Burst reconstruction: one clean, demosaicked, higher-resolution image from a raw burst.

Methods (``ReconConfig.method``):

- ``map``: the maximum a posteriori estimate

  .. math::  \\min_x \\tfrac12 \\sum_k \\| W_k^{1/2} (y_k - M D B W_{P_k} x) \\|^2
             + \\lambda \\phi(x)

  with the motions ``P_k`` from :func:`inversa.burst.align.align_burst` (optionally
  refined against the current estimate), per-pixel weights ``W_k`` = inverse noise
  variance (shot + read model, estimated from the reference frame when not given) times a
  robust (Cauchy) weight recomputed from the residuals of a first solve, zero on saturated
  pixels; solved by half-quadratic splitting (conjugate gradients on the data term, the
  prox of ``phi``: TV, wavelet l1, or the shipped denoiser as plug-and-play prior),
  started from ``merge``.
- ``merge``: robust kernel regression of the aligned samples (:mod:`inversa.burst.merge`).
- ``single``: the same MAP problem with the reference frame only (demosaicking, denoising
  and upsampling in one), what a one-frame burst gives.
- ``learned``: the same problem unrolled with a learned prior and motion refinement in
  the loop (:mod:`inversa.burst.lkr`), with the shipped weights ``burst_lkr`` (scales 2
  and 4; at x2 ``burst_lkr_x2``, the same model fine-tuned for x2 alone, see
  :func:`learned_weights`); :func:`default_method` picks it when weights for the scale
  exist.

``anchor`` (bilinear demosaic + bicubic upsampling of the reference) is the baseline that
every method must beat (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Literal

import torch

from inversa.burst.align import AlignConfig, Alignment, MotionModel, align_burst
from inversa.burst.forward import BurstOperator, data_weights
from inversa.burst.merge import anchor, merge, upsample
from inversa.camera.burstio import Burst
from inversa.camera.demosaic import demosaic_malvar
from inversa.camera.noise import NoiseLevels
from inversa.camera.noise_estimate import estimate_noise_levels
from inversa.errors import InputError
from inversa.operators.base import LinearOperator, Mask
from inversa.solvers.base import Stop
from inversa.solvers.splitting import HQS, sigma_schedule

Method = Literal["single", "merge", "map", "anchor", "learned"]
PriorName = Literal["tv", "wavelet", "pnp"]
# weight of the prior: TV / wavelet lambda = factor * reference noise variance; PnP: DPIR's
# lambda. TV, PnP and the single-frame factor were chosen on training images by
# benchmarks/calibrate_burst.py (output next to it); wavelet reuses TV's value.
AUTO_LAMBDA = {"tv": 3.0, "wavelet": 3.0, "pnp": 0.06}
SINGLE_LAMBDA_FACTOR = 7.0  # single frame, TV: lam = factor * noise variance at REF_LEVEL
REF_LEVEL = 0.1


@dataclass(frozen=True)
class ReconConfig:
    """Settings of :func:`reconstruct`."""

    method: Method = "map"
    scale: int = 4
    prior: PriorName = "pnp"
    lam: float | None = None  # None: automatic (AUTO_LAMBDA, scaled by the noise for TV)
    lam_factor: float | None = None  # TV / wavelet: replaces AUTO_LAMBDA's factor
    iterations: int = 8  # HQS iterations of the first round (the robust round: half)
    cg_iter: int = 8  # conjugate-gradient steps per HQS data step
    robust: bool = True  # second round with Cauchy weights from the residuals
    motion: MotionModel = "similarity"
    refine: int = 0  # rounds of motion refinement against the estimate
    mu0: float = 0.3  # first HQS penalty (TV / wavelet), data term normalised to unit noise
    mu_decades: float = 2.0  # the penalty grows by 10**mu_decades over the iterations
    sigma_max: float = 49 / 255  # first denoiser level (pnp)
    max_frames: int | None = None  # use the first N frames
    tile: int = 0  # raw pixels per tile side (0: automatic, about 512 output pixels)
    model: str = "burst_lkr"  # learned: shipped weights by name, or a .pt path
    transpose_ensemble: bool | None = None  # learned, RGGB/BGGR: also solve the transposed
                                            # burst (None: at x2 only, see TRANSPOSED_AT)
    flip_ensemble: bool = False  # learned: also solve the burst mirrored left-right, top-bottom
                                 # and both (x4 the time; x8 with transpose_ensemble)

    def __post_init__(self) -> None:
        if self.scale not in (1, 2, 3, 4):
            raise InputError(f"scale must be 1, 2, 3 or 4, got {self.scale}", field="scale")
        if self.method not in ("single", "merge", "map", "anchor", "learned"):
            raise InputError(f"unknown method {self.method!r}", field="method")
        if self.prior not in AUTO_LAMBDA:
            raise InputError(f"prior must be tv, wavelet or pnp, got {self.prior!r}",
                             field="prior")


@dataclass
class ReconResult:
    """``x`` (1, 3, sH, sW) linear camera RGB on the reference grid, and how it was made."""

    x: torch.Tensor
    alignment: Alignment | None
    noise: NoiseLevels
    used: torch.Tensor  # (K,) bool: frames that went into the result
    warnings: list[str] = field(default_factory=list)


def make_prior(name: str):
    from inversa.priors import LearnedPrior, TotalVariation, WaveletL1

    if name == "tv":
        return TotalVariation(joint_channels=True, max_iter=10, warm_start=True)
    if name == "wavelet":
        return WaveletL1(wavelet="sym8", levels=3, shifts=1)
    return LearnedPrior()


def map_solve(y: torch.Tensor, a: LinearOperator, x0: torch.Tensor, noise: NoiseLevels,
              config: ReconConfig, valid: torch.Tensor | None = None,
              gain: torch.Tensor | None = None, prior=None) -> torch.Tensor:
    """HQS on the weighted MAP problem, two rounds of robust weights. ``a`` a
    :class:`~inversa.burst.forward.BurstOperator` or another model of the frames;
    ``valid`` (1, K, h, w) multiplies the data weights; ``gain`` (K,) exposures that ``y``
    was divided by (see :func:`~inversa.burst.forward.data_weights`); ``prior`` (anything
    with ``prox``) replaces ``config.prior``'s, for an ``x`` that is not one image (the
    layers of :class:`~inversa.burst.layered.LayeredBurstOperator`, one prior each)."""
    prior = make_prior(config.prior) if prior is None else prior
    x = x0
    rounds = 2 if config.robust else 1
    for r in range(rounds):
        w, ref_var = data_weights(a(x), y, noise, robust=config.robust and r > 0, gain=gain)
        if valid is not None:  # samples that see outside the region (tiles)
            w = w * valid
        sw = w.sqrt()
        aw = Mask(sw) @ a
        yw = sw * y
        sigma = math.sqrt(ref_var)
        iters = config.iterations if r == 0 else max(2, config.iterations // 2)
        if config.prior == "pnp":
            lam_dpir = config.lam if config.lam is not None else AUTO_LAMBDA["pnp"]
            s_max = config.sigma_max if r == 0 else 4 * sigma
            sig = sigma_schedule(max(s_max, sigma), max(sigma, 1e-3), iters)
            lam = lam_dpir * sigma ** 2
            mus = [lam / s ** 2 for s in sig]
        else:
            factor = config.lam_factor if config.lam_factor is not None \
                else AUTO_LAMBDA[config.prior]
            lam = config.lam if config.lam is not None else factor * ref_var
            # penalty grows geometrically: loose coupling first, the MAP solution at the end
            mus = [config.mu0 * 10 ** (config.mu_decades * i / max(iters - 1, 1))
                   for i in range(iters)]
        solver = HQS(aw, yw, prior, lam, mus, cg_iter=config.cg_iter,
                     stop=Stop(max_iter=iters, tol=0.0))
        x = solver.run(x).x
    return x.clamp(min=0)


def single(raw0: torch.Tensor, cfa: str, scale: int, noise: NoiseLevels,
           config: ReconConfig) -> torch.Tensor:
    """Reference frame only: joint demosaicking + denoising (the MAP problem at the
    sensor resolution with a colour TV prior, started from the Malvar-He-Cutler
    demosaic), then bicubic upsampling by ``scale``."""
    eye = torch.eye(3, dtype=torch.float64)[None]
    h, w = raw0.shape
    a = BurstOperator(eye, (3, h, w), 1, cfa)
    x0 = demosaic_malvar(raw0, cfa)[None].clamp(min=0)
    # one linear frame: colour TV demosaics and denoises better than the sRGB-trained
    # denoiser (measured, docs/benchmarks.md); its weight is larger than with many frames
    cfg = replace(config, prior="tv") if config.prior == "pnp" else config
    if cfg.lam is None:
        ref_var = float(noise.variance(torch.tensor(REF_LEVEL)))
        cfg = replace(cfg, lam=SINGLE_LAMBDA_FACTOR * ref_var)
    x = map_solve(raw0[None, None], a, x0, noise, cfg)
    return upsample(x, scale).clamp(min=0)


def _noise_of(burst: Burst, noise: NoiseLevels | None) -> NoiseLevels:
    if noise is not None:
        return noise
    return estimate_noise_levels(burst.raw[0])


def reconstruct(burst: Burst, config: ReconConfig = ReconConfig(),
                noise: NoiseLevels | None = None, motions_hr: torch.Tensor | None = None,
                progress=None) -> ReconResult:
    """Reconstruct a burst (frame 0 the reference). ``noise=None``: estimated (blind);
    ``motions_hr`` (K, 3, 3): known frame -> reference motions (skips alignment);
    ``progress``: a ``rich`` console to show progress on (tiled, large frames).

    Frames larger than one tile are aligned once (globally), then reconstructed in
    overlapping tiles that are blended with linear ramps, so memory stays bounded.

    Examples
    --------
    >>> from inversa.burst.synth import SynthConfig, synthesize_burst
    >>> from inversa.data.images import bundled
    >>> img = bundled("astronaut")[..., 100:196, 100:196]
    >>> sb = synthesize_burst(img, SynthConfig(scale=2, frames=4), seed=0)
    >>> reconstruct(sb.burst, ReconConfig(method="merge", scale=2)).x.shape
    torch.Size([1, 3, 96, 96])
    """
    if config.method == "learned":  # before any work: the weights must cover the scale
        _check_learned(config)
    raw = burst.raw.float()
    if config.max_frames is not None:
        raw = raw[: config.max_frames]
        motions_hr = None if motions_hr is None else motions_hr[: config.max_frames]
    k = raw.shape[0]
    s = config.scale
    lv = _noise_of(burst, noise)
    msgs: list[str] = []
    if config.method == "anchor":
        return ReconResult(anchor(raw[0], burst.cfa, s).clamp(min=0), None, lv,
                           torch.arange(k) == 0)
    method = config.method if k > 1 or config.method == "learned" else "single"
    alignment = None
    used = torch.ones(k, dtype=torch.bool)
    if method == "single":
        raw, used = raw[:1], torch.arange(k) == 0
        m_hr = torch.eye(3, dtype=torch.float64)[None]
    elif motions_hr is not None:
        m_hr = torch.as_tensor(motions_hr, dtype=torch.float64)
    else:
        rel = burst.relative_exposure()[:k] if burst.exposure is not None else None
        alignment = align_burst(raw, AlignConfig(model=config.motion), exposure=rel)
        used = alignment.ok.clone()
        bad = (~used).nonzero().flatten().tolist()
        if bad:
            msg = (f"frames {bad} do not overlap the reference or could not be aligned "
                   f"(ncc {[round(float(alignment.ncc[i]), 2) for i in bad]}); left out")
            msgs.append(msg)
            warnings.warn(msg, stacklevel=2)
        raw = raw[used]
        m_hr = alignment.to_hr(s)[used]
    h, w = raw.shape[-2:]
    t = config.tile or max(64, (512 // s) // 2 * 2)
    if h <= t * 5 // 4 and w <= t * 5 // 4:
        x = _region(raw, burst.cfa, m_hr, None, lv, config, method)
    else:
        x = _tiled(raw, burst.cfa, m_hr, lv, config, method, t, progress)
    return ReconResult(x, alignment, lv, used, msgs)


def _dihedral(net, raw: torch.Tensor, cfa: str, m_hr: torch.Tensor, s: int, lv: NoiseLevels,
              valid: torch.Tensor | None, flip_x: bool, flip_y: bool, transpose: bool,
              x0: torch.Tensor | None = None, gain: torch.Tensor | None = None,
              flow: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The learned reconstruction of the mirrored and/or transposed burst, brought back to
    the reference's orientation: ``(x (1, 3, sH, sW), weight (1, 1, sH, sW))``, the weight
    0 on what the mirrored burst did not cover.

    Mirroring keeps the CFA pattern once the last column (row) is dropped when the width
    (height) is even: the kept part ``w'`` is odd, so its last column has the parity of the
    first. On high-resolution pixel indices the mirror is ``F: x -> s w' - 1 - x`` (box
    decimation and bilinear warps are symmetric under it), and a frame -> reference motion
    ``M`` becomes ``F M F``. Transposing swaps the axes: ``M`` becomes ``P M P`` with ``P``
    the swap of ``x`` and ``y``; an RGGB or BGGR mosaic stays the same pattern. Averaged
    with the direct result, each member removes part of the network's
    orientation-dependent error (a test-time ensemble of solutions of the same problem).

    The network's optional inputs (:meth:`~inversa.burst.lkr.LKRNet.forward`) follow: the
    start ``x0`` (1, 3, sH, sW) and a displacement field ``flow`` (K, 2, sH, sW) are
    cropped, mirrored and transposed with the burst, a field's component along a mirrored
    axis changes sign and a transpose swaps its components; ``gain`` (K,) is per frame."""
    h, w = raw.shape[-2:]
    hk = h - (1 - h % 2) if flip_y else h
    wk = w - (1 - w % 2) if flip_x else w
    r = raw[:, :hk, :wk]
    v = None if valid is None else valid[:, :hk, :wk]
    x0 = None if x0 is None else x0[..., :hk * s, :wk * s]
    fl = None if flow is None else flow[..., :hk * s, :wk * s].clone()
    f = torch.eye(3, dtype=m_hr.dtype)
    dims = []
    for on, axis, side in ((flip_x, 0, wk), (flip_y, 1, hk)):
        if on:
            f[axis, axis], f[axis, 2] = -1.0, s * side - 1.0
            dims.append(-1 - axis)
            if fl is not None:
                fl[:, axis] = -fl[:, axis]
    if dims:
        r, v, x0, fl = (None if a is None else a.flip(dims) for a in (r, v, x0, fl))
    m = f @ m_hr @ f
    if transpose:
        p = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=m.dtype)
        r, v, x0 = (None if a is None else a.transpose(-1, -2) for a in (r, v, x0))
        m = p @ m @ p
        fl = None if fl is None else fl.transpose(-1, -2)[:, [1, 0]]
    v, x0, fl = (None if a is None else a.contiguous() for a in (v, x0, fl))
    x = net(r.contiguous(), cfa, m, s, lv, v, x0=x0, gain=gain, flow=fl)
    if transpose:
        x = x.transpose(-1, -2)
    if dims:
        x = x.flip(dims)
    out = x.new_zeros(1, x.shape[1], h * s, w * s)
    wgt = x.new_zeros(1, 1, h * s, w * s)
    out[..., :hk * s, :wk * s] = x
    wgt[..., :hk * s, :wk * s] = 1.0
    return out, wgt


TRANSPOSED_AT = (2,)
"""Scales at which ``learned`` averages the transposed burst's solution by default
(``ReconConfig.transpose_ensemble=None``). At x2, with the shipped ``burst_lkr_x2``, it
was better on every validation burst (rocket, 8 bursts: 45.43 -> 45.53 dB;
``benchmarks/select_lkr_x2b.out.txt``) and the two solves together take less time than
``map``'s one; at x4 the second solve would break the 10-second budget of 14 frames of
96x96."""


def _ensemble(net, raw: torch.Tensor, cfa: str, m_hr: torch.Tensor, s: int, lv: NoiseLevels,
              valid: torch.Tensor | None, config: ReconConfig) -> torch.Tensor:
    """The direct learned result averaged with the members ``config`` asks for."""
    flips = [(False, False)] + ([(True, False), (False, True), (True, True)]
                                if config.flip_ensemble else [])
    transposed = (s in TRANSPOSED_AT if config.transpose_ensemble is None
                  else config.transpose_ensemble)
    turns = [False] + ([True] if transposed and cfa in ("RGGB", "BGGR") else [])
    if len(flips) * len(turns) == 1:
        return net(raw, cfa, m_hr, s, lv, valid)
    acc, wsum = 0.0, 0.0
    for fx, fy in flips:
        for tr in turns:
            x, wgt = _dihedral(net, raw, cfa, m_hr, s, lv, valid, fx, fy, tr)
            acc, wsum = acc + x * wgt, wsum + wgt
    return acc / wsum


def _region(raw: torch.Tensor, cfa: str, m_hr: torch.Tensor, valid: torch.Tensor | None,
            lv: NoiseLevels, config: ReconConfig, method: str) -> torch.Tensor:
    """Reconstruct one region: frames (K, h, w) whose motions map onto it."""
    s = config.scale
    if method == "single":
        return single(raw[0], cfa, s, lv, config)
    if method == "learned":
        net = lkr_model(learned_weights(config.model, s))
        with torch.no_grad():
            return _ensemble(net, raw, cfa, m_hr, s, lv, valid, config).clamp(min=0)
    x = merge(raw, cfa, m_hr, s, lv, sample_weights=valid)
    if method == "merge":
        return x.clamp(min=0)
    h, w = raw.shape[-2:]
    a = BurstOperator(m_hr, (3, h * s, w * s), s, cfa)
    y = raw[None]
    vmask = None if valid is None else valid[None]
    x = map_solve(y, a, x, lv, config, vmask)
    for _ in range(config.refine):
        from inversa.burst.refine import refine_motions

        m_hr = refine_motions(x, raw, cfa, m_hr, s)
        a = BurstOperator(m_hr, (3, h * s, w * s), s, cfa)
        x = map_solve(y, a, x, lv, config, vmask)
    return x


@functools.lru_cache(maxsize=4)
def lkr_model(name: str):
    """The learned reconstruction's network, loaded once per process."""
    from inversa.burst.lkr import load_lkr

    return load_lkr(name)


def learned_weights(model: str, scale: int) -> str:
    """The weights ``learned`` runs at ``scale``: for a shipped name, ``NAME_x{scale}``
    when such weights ship (the model fine-tuned for that scale alone), else ``model``
    itself; a ``.pt`` path is always taken as given."""
    from inversa.burst.lkr import has_weights

    own = f"{model}_x{scale}"
    if not str(model).endswith(".pt") and has_weights(own):
        return own
    return model


def _check_learned(config: ReconConfig) -> None:
    scales = lkr_model(learned_weights(config.model, config.scale)).config.scales
    if config.scale not in scales:
        raise InputError(f"the learned model {config.model!r} was trained for scales "
                         f"{list(scales)}, not {config.scale}; use --method map",
                         field="scale")


def default_method(scale: int, model: str = "burst_lkr") -> Method:
    """``learned`` when shipped weights for ``scale`` exist, else ``map``."""
    from inversa.burst.lkr import has_weights

    model = learned_weights(model, scale)
    if has_weights(model) and scale in lkr_model(model).config.scales:
        return "learned"
    return "map"


def _shift(dx: float, dy: float) -> torch.Tensor:
    t = torch.eye(3, dtype=torch.float64)
    t[0, 2], t[1, 2] = dx, dy
    return t


def _ramp(n: int, overlap: int, lo: bool, hi: bool) -> torch.Tensor:
    """1-D blending weights: linear ramps of ``overlap`` samples on interior sides."""
    r = torch.ones(n, dtype=torch.float64)
    ov = min(overlap, n // 2)
    if ov > 0:
        ramp = (torch.arange(ov, dtype=torch.float64) + 0.5) / ov
        if lo:
            r[:ov] = ramp
        if hi:
            r[n - ov:] = ramp.flip(0)
    return r


def _tiled(raw: torch.Tensor, cfa: str, m_hr: torch.Tensor, lv: NoiseLevels,
           config: ReconConfig, method: str, tile: int, progress) -> torch.Tensor:
    """Overlapping tiles of the reference (``tile`` raw pixels, even offsets so the CFA
    pattern is kept), each with the matching crop of every frame."""
    k, h, w = raw.shape
    s = config.scale
    ov = 16

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        step = tile - ov
        st = [*range(0, n - tile, step), n - tile]
        return sorted({v - v % 2 for v in st})

    th, tw = min(tile, h), min(tile, w)
    out = torch.zeros(1, 3, h * s, w * s, dtype=torch.float32)
    acc = torch.zeros(h * s, w * s, dtype=torch.float64)
    boxes = [(r0, c0) for r0 in starts(h) for c0 in starts(w)]
    m_hr = m_hr.double()
    inv = torch.linalg.inv(m_hr)
    bar = None
    if progress is not None and len(boxes) > 1:
        from rich.progress import Progress

        bar = Progress(console=progress, transient=True)
        bar.start()
        task = bar.add_task(f"{method} x{s}: {len(boxes)} tiles", total=len(boxes))
    try:
        for r0, c0 in boxes:
            crops, mats, valids = [], [], []
            centre = torch.tensor([s * (c0 + tw / 2) - 0.5, s * (r0 + th / 2) - 0.5, 1.0],
                                  dtype=torch.float64)
            for i in range(k):
                q = inv[i] @ centre
                cx = (float(q[0] / q[2]) - (s - 1) / 2) / s
                cy = (float(q[1] / q[2]) - (s - 1) / 2) / s
                a0 = int(min(max(round(cy - th / 2), 0), h - th)) // 2 * 2
                b0 = int(min(max(round(cx - tw / 2), 0), w - tw)) // 2 * 2
                crops.append(raw[i, a0:a0 + th, b0:b0 + tw])
                m = _shift(-s * c0, -s * r0) @ m_hr[i] @ _shift(s * b0, s * a0)
                mats.append(m)
                valids.append(_footprint_inside(m, th, tw, s))
            x = _region(torch.stack(crops), cfa, torch.stack(mats), torch.stack(valids), lv,
                        config, method)
            wy = _ramp(th * s, ov * s, r0 > 0, r0 + th < h)
            wx = _ramp(tw * s, ov * s, c0 > 0, c0 + tw < w)
            wt = wy[:, None] * wx[None, :]
            sl = (slice(s * r0, s * (r0 + th)), slice(s * c0, s * (c0 + tw)))
            out[0, :, sl[0], sl[1]] += (x[0].double() * wt).float()
            acc[sl] += wt
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    return out / acc.clamp(min=1e-12).float()


def _footprint_inside(m: torch.Tensor, th: int, tw: int, s: int) -> torch.Tensor:
    """(th, tw) float: 1 where the s x s footprint of a frame pixel lands in the tile."""
    ys, xs = torch.meshgrid(torch.arange(th, dtype=torch.float64),
                            torch.arange(tw, dtype=torch.float64), indexing="ij")
    ok = torch.ones(th, tw, dtype=torch.bool)
    for dy in (0, s - 1):
        for dx in (0, s - 1):
            p = m @ torch.stack([s * xs + dx, s * ys + dy, torch.ones_like(xs)]).reshape(3, -1)
            px, py = (p[0] / p[2]).reshape(th, tw), (p[1] / p[2]).reshape(th, tw)
            ok &= (px >= 0) & (px <= s * tw - 1) & (py >= 0) & (py <= s * th - 1)
    return ok.float()
