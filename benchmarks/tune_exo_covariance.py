"""PACO's covariance shrunk towards a pooled correlation: does the cube's own data give a
better covariance than PACO's shrinkage towards the diagonal? Tuning cubes only (900+).

    cd benchmarks && for s in 900 901 902 903; do python tune_exo_covariance.py $s; done \\
        | tee tune_exo_covariance.out.txt

``exo_oracle.py`` found the covariance to be most of PACO's loss against a detector that
knows the speckle statistics (+0.76 mag with the true covariance). PACO estimates a 49 x 49
covariance per location from the T = 48 frames, shrunk towards its diagonal:
``C = (1 - rho) S + rho diag(S)``. Speckles have the size of the PSF everywhere, so the
*correlation* between two pixels of a patch should vary slowly with the location. Here
the target is ``F = D^1/2 Rbar D^1/2``: ``D = diag(S)`` of the location and ``Rbar`` the
sample correlation matrices averaged over every location of the same annulus (2 px wide),
i.e. thousands of frames' worth of samples; ``C = (1 - rho) S + rho F`` for fixed ``rho``.

Protocol of ``tune_exo_trend.py`` (the mean stays PACO's): companions of contrast 3e-5 at 7
separations (2-8 lambda/D), 8 per separation, injected into the companion-free cube with
its true angles; "eff" = the companions' mean S/N gain over the null spread (ring of
pixels, no companion), and its ratio to PACO's in magnitudes.
"""

from __future__ import annotations

import torch
from tune_exo_trend import cli, hook_snr

from inversa.exo.geometry import polar_grid
from inversa.exo.paco import _Frames

RHOS = (0.5, 0.8, 0.95)
WIDTH = 2.0  # annulus width of the pooled correlation, pixels


def pooled_correlation(fr: _Frames, block: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean sample correlation (B, P, P) of the patches per annulus of ``WIDTH`` pixels,
    and the annulus index (H * W,) of every location (-1 outside)."""
    r = fr.r
    sep, _ = polar_grid((fr.h, fr.w))
    yy, xx = torch.meshgrid(torch.arange(r, fr.h - r), torch.arange(r, fr.w - r), indexing="ij")
    iy, ix = yy.reshape(-1), xx.reshape(-1)
    bins = torch.full((fr.h * fr.w,), -1, dtype=torch.long)
    bins[iy * fr.w + ix] = (sep[iy, ix] / WIDTH).long()
    nb = int(bins.max()) + 1
    p = len(fr.dy)
    acc = torch.zeros(nb, p, p, dtype=torch.float64)
    cnt = torch.zeros(nb, dtype=torch.float64)
    for s in range(0, len(iy), block):
        pt, _ = fr.patches(iy[s:s + block], ix[s:s + block])
        d = pt - pt.mean(1, keepdim=True)
        c = (d.transpose(1, 2) @ d).double()
        sd = torch.diagonal(c, dim1=-2, dim2=-1).clamp_min(1e-30).sqrt()
        rr = c / (sd[:, :, None] * sd[:, None, :])
        b = bins[iy[s:s + block] * fr.w + ix[s:s + block]]
        acc.index_add_(0, b, rr)
        cnt.index_add_(0, b, torch.ones_like(b, dtype=torch.float64))
    return acc / cnt.clamp_min(1)[:, None, None], bins


def pooled_statistics(rho: float, pooled, jitter: float = 1e-6):
    """PACO's temporal mean and ``C = (1 - rho) S + rho D^1/2 Rbar D^1/2`` (inverted) at
    the locations, as :func:`inversa.exo.paco._ab_terms` takes them."""
    rbar, bins = pooled

    def stats(uniq, pt, wt):
        m = pt.mean(1)
        d = pt - m[:, None]
        s = (d.transpose(1, 2) @ d / pt.shape[1]).double()
        sd = torch.diagonal(s, dim1=-2, dim2=-1).clamp_min(1e-30).sqrt()
        f = sd[:, :, None] * rbar[bins[uniq]] * sd[:, None, :]
        c = (1 - rho) * s + rho * f
        c = c + jitter * (sd * sd).mean(-1)[:, None, None] * torch.eye(c.shape[-1],
                                                                       dtype=c.dtype)
        return m, torch.linalg.inv(c).float()

    return stats


def snr(fr: _Frames, angles, xs, ys, method: str) -> torch.Tensor:
    stats = None
    if method != "PACO":
        if not hasattr(fr, "pooled"):  # from the data at hand, companions included
            fr.pooled = pooled_correlation(fr)
        stats = pooled_statistics(float(method.split()[-1]), fr.pooled)
    return hook_snr(fr, angles, xs, ys, statistics=stats)


def main() -> None:
    cli(("PACO", *(f"pooled correlation, rho {r}" for r in RHOS)), snr, null_mean=False)


if __name__ == "__main__":
    main()
