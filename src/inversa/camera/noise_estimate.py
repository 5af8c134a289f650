"""Estimate the shot and read noise levels ``(shot, read)`` from one raw frame.

Each Bayer sub-image (one colour, no interpolation, independent noise) is cut into
``b x b`` blocks. In a block a quadratic surface (``p = 6`` coefficients; ``order=1``: a
plane, ``p = 3``) is fitted by least squares; for a block whose signal is smooth the
residual variance

.. math::  r = \\| P^\\perp v \\|^2 / (b^2 - p)

is an unbiased estimate of the noise variance ``shot * m + read`` at the block mean ``m``,
distributed as ``sigma^2 chi^2_{b^2-p} / (b^2 - p)``. Texture and edges only *add* to
``r``. Blocks are sorted by ``m`` into quantile bins; in each bin the noise variance is
estimated from a low quantile of ``r`` (the flattest blocks), divided by the same quantile
of ``chi^2_{b^2-p} / (b^2-p)`` to remove the selection bias; a line
``v = shot * m + read`` is then fitted by weighted least squares with ``shot, read >= 0``.
A second pass takes the quantiles of ``r`` divided by the first fit, so that within a
(wide) bin the darker blocks, whose noise is weaker, are not preferred.
Blocks touching saturation are left out. The principle (local variance against local mean,
then an affine fit) is that of Foi et al. 2008 ("Practical Poissonian-Gaussian noise
modeling and fitting for single-image raw data"); the low-quantile selection of flat
blocks replaces their wavelet-domain edge detection.

Accuracy on synthetic raw frames is measured by ``benchmarks/bench_raw_noise.py``
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


def _block_stats(planes: torch.Tensor, b: int, stride: int, order: int = 1,
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Per ``b x b`` block of each plane: mean, plane-fit residual variance, max."""
    blocks = planes.unfold(1, b, stride).unfold(2, b, stride)
    v = blocks.reshape(-1, b * b)  # (N, b^2)
    yy, xx = torch.meshgrid(torch.arange(b, dtype=v.dtype), torch.arange(b, dtype=v.dtype),
                            indexing="ij")
    xs, ys = xx.reshape(-1) - (b - 1) / 2, yy.reshape(-1) - (b - 1) / 2
    cols = [torch.ones(b * b, dtype=v.dtype), xs, ys]
    if order >= 2:
        cols += [xs * xs, xs * ys, ys * ys]
    q, _ = torch.linalg.qr(torch.stack(cols, dim=1))
    resid = v - (v @ q) @ q.T
    dof = b * b - len(cols)
    return v.mean(1), (resid * resid).sum(1) / dof, v.amax(1), dof


def estimate_noise_levels(raw: torch.Tensor, bins: int = 16, block: int = 6,
                          quantile: float = 0.005, saturation: float = 0.98,
                          order: int = 2) -> NoiseLevels:
    """``(shot, read)`` of a mosaicked raw frame ``(H, W)`` normalised to [0, 1].

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.linspace(0, 0.9, 512).repeat(512, 1)
    >>> y = x + (1e-3 * x + 1e-5).sqrt() * torch.randn(512, 512, generator=g)
    >>> lv = estimate_noise_levels(y)
    >>> abs(lv.shot / 1e-3 - 1) < 0.1, bool(abs(lv.std(torch.tensor(0.1)) / 0.01049 - 1) < 0.1)
    (True, True)
    """
    from scipy.stats import chi2

    if raw.dim() != 2:
        raise InputError(f"expected one raw frame (H, W), got shape {tuple(raw.shape)}")
    if not torch.isfinite(raw).all():
        raise InputError("raw frame contains NaN or infinite values")
    h, w = raw.shape[0] // 2 * 2, raw.shape[1] // 2 * 2
    planes = pack(raw[:h, :w].double())
    # overlapping blocks; on tiny frames smaller blocks, densely overlapping
    for b, stride in ((block, max(1, block // 2)), (4, 1)):
        if min(planes.shape[-2:]) < b:
            continue
        m, r, top, dof = _block_stats(planes, b, stride, order)
        keep = top < saturation * float(raw.max())
        m, r = m[keep], r[keep]
        if m.numel() >= 256:
            break
    else:
        raise InputError("frame too small to estimate the noise")
    if m.numel() < 64:
        raise InputError("too few unsaturated pixels to estimate the noise")
    correction = float(chi2.ppf(quantile, dof)) / dof
    order = torch.argsort(m)
    nb = max(2, min(bins, m.numel() // 128))
    chunks = torch.tensor_split(order, nb)
    mv = torch.stack([m[c].median() for c in chunks])
    nv = torch.tensor([float(c.numel()) for c in chunks], dtype=torch.float64)
    model = torch.ones_like(m)  # pass 1: raw r; pass 2: r relative to the first fit
    for _ in range(2):
        ratio = r / model
        vv = torch.stack([torch.quantile(ratio[c], quantile) / correction
                          * (model[c].median()) for c in chunks])
        wt = nv / vv.clamp(min=1e-20) ** 2
        shot, read = _fit(mv, vv, wt)
        # within a bin, blocks of lower mean have lower variance: the second pass divides
        # by the first fit so that the low quantile does not favour them
        model = (shot * m + read).clamp(min=1e-12)
    return NoiseLevels(shot, read)
