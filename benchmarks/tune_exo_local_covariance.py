"""PACO's covariance pooled over neighbouring locations: do the patches a pixel or two
away give a better covariance than PACO's shrinkage of one location's 48 frames?
Tuning cubes only (900+).

    cd benchmarks && for s in 900 901 902 903; do python tune_exo_local_covariance.py $s; \\
        done | tee tune_exo_local_covariance.out.txt

``exo_oracle.py`` found the covariance to be most of PACO's loss (+0.76 mag with the true
one); ``tune_exo_covariance.py`` found an annulus-pooled correlation too coarse beyond
2 lambda/D. Here the pool is local: the locations ``q`` within ``R`` pixels of ``x``
(a disc, the location included), each patch set centred on its own temporal mean.

- "local cov R": ``S = mean_q S_q``, then PACO's shrinkage towards the diagonal (rho from
  ``T`` samples, as if the pool added none: the neighbours' frames are correlated).
- "local corr R": ``F = D^1/2 Rbar D^1/2`` with ``Rbar = mean_q R_q`` the neighbours'
  sample correlations and ``D`` the diagonal of the location's own ``S_x`` (the speckles'
  variance changes fast with the separation), then the same shrinkage.

Protocol of ``tune_exo_trend.py`` (the mean stays PACO's): "eff" = the companions' mean
S/N gain over the null spread, and its ratio to PACO's in magnitudes.
"""

from __future__ import annotations

import torch
from tune_exo_trend import cli, hook_snr

from inversa.exo.paco import _Frames, shrunk_covariance
from inversa.exo.psf import disc_offsets

METHODS = ("PACO", "local cov 1", "local cov 2", "local corr 1", "local corr 2")


def _sample(pt: torch.Tensor) -> torch.Tensor:
    d = pt - pt.mean(1, keepdim=True)
    return (d.transpose(1, 2) @ d / pt.shape[1]).double()


def local_statistics(fr: _Frames, kind: str, radius: float, jitter: float = 1e-6):
    """PACO's temporal mean and the inverse of the locally pooled, shrunk covariance at
    the locations, as :func:`inversa.exo.paco._ab_terms` takes them."""
    oy, ox = disc_offsets(radius)

    def stats(uniq, pt, wt):
        iy, ix = uniq // fr.w, uniq % fr.w
        own = _sample(pt)
        sd_own = torch.diagonal(own, dim1=-2, dim2=-1).clamp_min(1e-30).sqrt()
        acc = torch.zeros_like(own)
        lo, hy, hx = fr.r, fr.h - fr.r - 1, fr.w - fr.r - 1
        for dy, dx in zip(oy.tolist(), ox.tolist(), strict=True):
            qy, qx = (iy + dy).clamp(lo, hy), (ix + dx).clamp(lo, hx)
            s = _sample(fr.patches(qy, qx)[0])
            if kind == "corr":
                sd = torch.diagonal(s, dim1=-2, dim2=-1).clamp_min(1e-30).sqrt()
                s = s / (sd[:, :, None] * sd[:, None, :])
            acc += s
        s = acc / len(oy)
        if kind == "corr":
            s = sd_own[:, :, None] * s * sd_own[:, None, :]
        diag = torch.diagonal(s, dim1=-2, dim2=-1)
        c = shrunk_covariance(s, float(pt.shape[1]))
        c = c + jitter * diag.mean(-1)[:, None, None] * torch.eye(c.shape[-1], dtype=c.dtype)
        return pt.mean(1), torch.linalg.inv(c).float()

    return stats


def snr(fr: _Frames, angles, xs, ys, method: str) -> torch.Tensor:
    stats = None
    if method != "PACO":
        _, kind, radius = method.split()
        stats = local_statistics(fr, kind, float(radius))
    return hook_snr(fr, angles, xs, ys, statistics=stats)


def main() -> None:
    cli(METHODS, snr, null_mean=False)


if __name__ == "__main__":
    main()
