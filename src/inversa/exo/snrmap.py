"""S/N maps of residual images with the small-sample statistics of Mawet et al. (2014).

At separation ``r`` there are ``n = floor(2 pi r / FWHM)`` independent apertures of
diameter FWHM. For the test aperture (flux ``x_1``) and the ``n - 1`` others (mean
``x̄``, standard deviation ``s`` with ``n - 2`` degrees of freedom), the two-sample
t statistic is

    S/N = (x_1 - x̄) / (s sqrt(1 + 1 / (n - 1))),

which follows Student's t with ``n - 2`` degrees of freedom under the null hypothesis;
it is converted to the Gaussian-equivalent S/N (the same false-alarm probability), so
that a threshold of 5 means the same thing at every separation and for every method.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from scipy import stats

from inversa.exo.geometry import polar_grid, to_xy


def aperture_sums(img: torch.Tensor, fwhm: float) -> torch.Tensor:
    """Sum of ``img`` (NaN as 0) in a disc of diameter ``fwhm`` around every pixel."""
    r = fwhm / 2
    n = int(math.ceil(r))
    yy, xx = torch.meshgrid(torch.arange(-n, n + 1.0), torch.arange(-n, n + 1.0),
                            indexing="ij")
    k = (xx ** 2 + yy ** 2 <= r ** 2).to(torch.float32)
    x = torch.nan_to_num(img.to(torch.float32))[None, None]
    return F.conv2d(F.pad(x, (n, n, n, n)), k[None, None])[0, 0]


def snr_map(img: torch.Tensor, fwhm: float, inner: float | None = None,
            gaussian_equivalent: bool = True) -> torch.Tensor:
    """S/N at every pixel (H, W) of a residual image (NaN closer than ``inner``, default
    1 FWHM, where fewer than 3 apertures fit, and where the annulus leaves the frame).

    >>> g = torch.Generator().manual_seed(0)
    >>> img = torch.randn(64, 64, generator=g)
    >>> s = snr_map(img, 4.0)
    >>> bool(s[torch.isfinite(s)].abs().max() < 6)
    True
    """
    h, w = img.shape
    sums = aperture_sums(img, fwhm)
    sep, pa = polar_grid((h, w))
    inner = fwhm if inner is None else inner
    out = torch.full((h, w), math.nan)
    nap = torch.floor(2 * math.pi * sep / fwhm).long()
    outer = min(h, w) / 2 - fwhm / 2 - 1  # every aperture inside the frame
    ok = (sep >= inner) & (sep <= outer) & (nap >= 3) & torch.isfinite(img)
    for n in torch.unique(nap[ok]).tolist():
        sel = ok & (nap == n)
        r = sep[sel]
        th = pa[sel]
        k = torch.arange(1, n, dtype=torch.float64)
        xs, ys = to_xy(r[:, None], th[:, None] + 360.0 * k / n, (h, w))
        grid = torch.stack([2 * xs / (w - 1) - 1, 2 * ys / (h - 1) - 1], -1)
        others = F.grid_sample(sums[None, None], grid[None].to(torch.float32),
                               mode="bilinear", align_corners=True)[0, 0]  # (m, n-1)
        mean = others.mean(1)
        std = others.std(1, unbiased=True).clamp_min(1e-30)
        t = (sums[sel] - mean) / (std * math.sqrt(1 + 1 / (n - 1)))
        if gaussian_equivalent:
            tv = t.numpy().astype("float64")
            z = stats.norm.isf(stats.t.sf(abs(tv), df=n - 2))  # symmetric, no overflow
            t = torch.from_numpy(z * (2 * (tv >= 0) - 1)).to(torch.float32)
        out[sel] = t
    return out
