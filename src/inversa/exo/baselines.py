"""Classical ADI and PCA-ADI (full frame and annular): a residual image per observation.

Classical ADI (Marois et al. 2006): subtract the temporal median frame (the speckles,
which do not rotate), derotate, combine with the median.

PCA-ADI (Soummer et al. 2012, Amara & Quanz 2012): with ``X`` the (T, N) matrix of
frames minus their temporal mean, the speckle model of frame ``t`` is its projection
onto the ``k`` leading principal components of ``X``; the residuals are derotated and
averaged. The annular variant fits each annulus (width ``asize``) separately and, for
frame ``t``, builds the components only from frames where a source would have moved by
at least ``delta_rot`` FWHM at that separation, which limits self-subtraction.

NaN pixels are replaced by their temporal median before fitting and are NaN in the
output where no frame had data. Spectral cubes (L, T, H, W): channels processed one by
one and averaged.
"""

from __future__ import annotations

import math

import torch

from inversa.exo.geometry import derotate, polar_grid


def _clean(cube: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    valid = torch.isfinite(cube)
    if bool(valid.all()):
        return cube.to(torch.float32), torch.ones(cube.shape[-2:], dtype=torch.bool)
    med = torch.nan_to_num(torch.nanmedian(cube, dim=0).values)
    return torch.where(valid, cube, med).to(torch.float32), valid.any(0)


def _per_channel(fn, cube: torch.Tensor, *args, **kw) -> torch.Tensor:
    if cube.dim() == 4:
        return torch.stack([fn(c, *args, **kw) for c in cube]).mean(0)
    return fn(cube, *args, **kw)


def cadi(cube: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Classical ADI residual image (H, W).

    >>> cube = torch.ones(6, 16, 16)
    >>> float(cadi(cube, torch.linspace(0, 50, 6)).abs().max())
    0.0
    """
    def one(c: torch.Tensor) -> torch.Tensor:
        data, seen = _clean(c)
        res = data - data.median(0).values
        out = derotate(res, angles).median(0).values
        return torch.where(seen, out, torch.nan)

    return _per_channel(one, cube)


def _project_out(x: torch.Tensor, ref: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` minus its projection on the ``k`` leading right singular vectors of ``ref``."""
    k = max(0, min(k, min(ref.shape) - 1))
    if k == 0:
        return x
    _, _, vh = torch.linalg.svd(ref.to(torch.float64), full_matrices=False)
    v = vh[:k].to(x.dtype)
    return x - (x @ v.T) @ v


def pca_adi(cube: torch.Tensor, angles: torch.Tensor, ncomp: int = 5,
            mask_radius: float = 0.0) -> torch.Tensor:
    """Full-frame PCA-ADI residual image (H, W); pixels within ``mask_radius`` of the star
    are left out of the fit (and NaN in the output)."""
    def one(c: torch.Tensor) -> torch.Tensor:
        data, seen = _clean(c)
        sep, _ = polar_grid(data.shape)
        use = sep >= mask_radius
        x = data[:, use]
        x = x - x.mean(0)
        res = torch.zeros_like(data)
        res[:, use] = _project_out(x, x, ncomp)
        out = derotate(res, angles).mean(0)
        return torch.where(seen & use, out, torch.nan)

    return _per_channel(one, cube)


def pca_annular(cube: torch.Tensor, angles: torch.Tensor, fwhm: float, ncomp: int = 5,
                asize: float | None = None, delta_rot: float = 1.0,
                mask_radius: float = 0.0) -> torch.Tensor:
    """Annular PCA-ADI residual image (H, W): annuli of width ``asize`` (default 2 FWHM),
    per-frame libraries excluding frames within ``delta_rot`` FWHM of rotation."""
    asize = asize or 2 * fwhm

    def one(c: torch.Tensor) -> torch.Tensor:
        data, seen = _clean(c)
        t = data.shape[0]
        sep, _ = polar_grid(data.shape)
        res = torch.zeros_like(data)
        r0 = max(mask_radius, 0.0)
        rmax = float(sep.max())
        ang = angles.to(torch.float64)
        while r0 < rmax:
            ring = (sep >= r0) & (sep < r0 + asize)
            if int(ring.sum()) > ncomp:
                x = data[:, ring]
                x = x - x.mean(0)
                rmid = r0 + asize / 2
                min_dang = math.degrees(delta_rot * fwhm / max(rmid, 1e-6))
                out = torch.empty_like(x)
                for i in range(t):
                    lib = (ang - ang[i]).abs() >= min_dang
                    if int(lib.sum()) <= ncomp:
                        lib = torch.ones(t, dtype=torch.bool)
                    out[i] = _project_out(x[i:i + 1], x[lib], ncomp)[0]
                res[:, ring] = out
            r0 += asize
        combined = derotate(res, angles).mean(0)
        return torch.where(seen & (sep >= mask_radius), combined, torch.nan)

    return _per_channel(one, cube)
