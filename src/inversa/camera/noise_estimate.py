"""Estimate the shot and read noise levels ``(shot, read)`` from one raw frame.

Each Bayer sub-image is cut in 2x2 blocks ``(a, b; c, d)``. For a locally flat signal the
orthonormal Haar detail ``h = (a - b - c + d) / 2`` is pure noise with variance
``shot * m + read``, where ``m = (a + b + c + d) / 4`` is the block mean (the variance is
the mean of the four pixel variances, which is affine in ``m``). Blocks are sorted by ``m``
into quantile bins; in each bin the noise variance is estimated robustly,
``(median |h| / 0.6745)^2`` (edges and texture are a minority of blocks and barely move a
median), and a line ``v = shot * m + read`` is fitted by weighted least squares (weights
``n_k / v_k^2``, the inverse variance of each bin's estimate) with ``shot, read >= 0``.
Blocks touching saturation are left out. The same principle (a robust local variance vs.
local mean scatter, then an affine fit) is that of Foi et al. 2008 ("Practical
Poissonian-Gaussian noise modeling and fitting for single-image raw data").

Accuracy on synthetic raw frames is measured by ``benchmarks/bench_noise_estimate.py``
(results in ``docs/benchmarks.md``).
"""

from __future__ import annotations

import torch

from inversa.camera.cfa import pack
from inversa.camera.noise import NoiseLevels
from inversa.errors import InputError


def _fit(m: torch.Tensor, v: torch.Tensor, wt: torch.Tensor) -> tuple[float, float]:
    """Weighted least squares ``v = s m + r`` with ``s, r >= 0``."""
    a = torch.stack([m, torch.ones_like(m)], dim=1) * wt.sqrt()[:, None]
    sol = torch.linalg.lstsq(a, v * wt.sqrt()).solution
    s, r = float(sol[0]), float(sol[1])
    if s >= 0 and r >= 0:
        return s, r
    # one constraint active: fit the other coefficient alone, keep the better of the two
    s_only = max(float((wt * m * v).sum() / (wt * m * m).sum().clamp(min=1e-30)), 0.0)
    r_only = max(float((wt * v).sum() / wt.sum()), 0.0)
    e_s = float((wt * (v - s_only * m) ** 2).sum())
    e_r = float((wt * (v - r_only) ** 2).sum())
    return (s_only, 0.0) if e_s <= e_r else (0.0, r_only)


def estimate_noise_levels(raw: torch.Tensor, bins: int = 32, saturation: float = 0.98,
                          ) -> NoiseLevels:
    """``(shot, read)`` of a mosaicked raw frame ``(H, W)`` normalised to [0, 1].

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.linspace(0, 0.9, 512).repeat(512, 1)
    >>> y = x + (1e-3 * x + 1e-5).sqrt() * torch.randn(512, 512, generator=g)
    >>> lv = estimate_noise_levels(y)
    >>> abs(lv.shot / 1e-3 - 1) < 0.1, abs(lv.read / 1e-5 - 1) < 0.2
    (True, True)
    """
    if raw.dim() != 2:
        raise InputError(f"expected one raw frame (H, W), got shape {tuple(raw.shape)}")
    if not torch.isfinite(raw).all():
        raise InputError("raw frame contains NaN or infinite values")
    p = pack(raw[: raw.shape[0] // 4 * 4, : raw.shape[1] // 4 * 4].double())  # (4, h, w)
    a, b = p[:, 0::2, 0::2], p[:, 0::2, 1::2]
    c, d = p[:, 1::2, 0::2], p[:, 1::2, 1::2]
    h = ((a - b - c + d) / 2).reshape(-1)
    m = ((a + b + c + d) / 4).reshape(-1)
    top = torch.maximum(torch.maximum(a, b), torch.maximum(c, d)).reshape(-1)
    keep = top < saturation * float(raw.max())
    h, m = h[keep], m[keep]
    if m.numel() < 64:
        raise InputError("too few unsaturated pixels to estimate the noise")
    order = torch.argsort(m)
    nb = max(2, min(bins, m.numel() // 256))
    ms, vs, ns = [], [], []
    for chunk in torch.tensor_split(order, nb):
        mad = h[chunk].abs().median() / 0.6745
        ms.append(m[chunk].median())
        vs.append(mad * mad)
        ns.append(float(chunk.numel()))
    mv, vv, nv = torch.stack(ms), torch.stack(vs), torch.tensor(ns, dtype=torch.float64)
    wt = nv / vv.clamp(min=1e-20) ** 2
    shot, read = _fit(mv, vv, wt)
    return NoiseLevels(shot, read)
