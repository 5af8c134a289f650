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

import math
import sys
import time

import torch
from tune_exo_trend import SEPS

from inversa.exo.geometry import polar_grid, to_xy, trajectory
from inversa.exo.inject import Companion, inject
from inversa.exo.paco import PacoConfig, _ab_terms, _Frames
from inversa.exo.simulate import SimConfig, simulate

CONTRAST = 3e-5
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


def pooled_terms(fr: _Frames, angles, xs, ys, rho: float, pooled, jitter: float = 1e-6):
    """Per-frame ``a_t``, ``b_t`` (N, T) with ``C = (1 - rho) S + rho D^1/2 Rbar D^1/2``."""
    rbar, bins = pooled
    xt, yt = trajectory(xs, ys, angles.cpu(), (fr.h, fr.w))
    ix, iy = torch.round(xt), torch.round(yt)
    fx, fy = (xt - ix).float(), (yt - iy).float()
    ix, iy = ix.long(), iy.long()
    t = ix.shape[1]
    loc = iy * fr.w + ix
    uniq, inv = torch.unique(loc, return_inverse=True)
    pt, _ = fr.patches(uniq // fr.w, uniq % fr.w)  # (U, T, P)
    m = pt.mean(1)
    d = pt - m[:, None]
    s = (d.transpose(1, 2) @ d / t).double()
    sd = torch.diagonal(s, dim1=-2, dim2=-1).clamp_min(1e-30).sqrt()
    f = sd[:, :, None] * rbar[bins[uniq]] * sd[:, None, :]
    c = (1 - rho) * s + rho * f
    c = c + jitter * (sd * sd).mean(-1)[:, None, None] * torch.eye(c.shape[-1], dtype=c.dtype)
    cinv = torch.linalg.inv(c).float()
    h = fr.bank.values(fx, fy)  # (N, T, P)
    v = (cinv[inv] @ h[..., None])[..., 0]
    x = d[inv, torch.arange(t).expand_as(inv)]
    return (h * v).sum(-1), (v * x).sum(-1)


def snr(fr: _Frames, angles, xs, ys, method: str, pooled) -> torch.Tensor:
    if method == "PACO":
        _, a, b, _ = _ab_terms(fr, angles, xs, ys, PacoConfig())
    else:
        a, b = pooled_terms(fr, angles, xs, ys, float(method.split()[-1]), pooled)
    return b.sum(1) / a.sum(1).sqrt()


def main() -> None:
    torch.set_num_threads(2)
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 900
    t0 = time.time()
    sim = simulate(SimConfig(), seed=seed)
    cube, angles, psf = sim.cube, sim.angles, sim.psf
    shape = tuple(cube.shape[-2:])
    methods = ("PACO", *(f"pooled correlation, rho {r}" for r in RHOS))
    plain = _Frames(cube, psf, 4.0, 11)
    plain_pool = pooled_correlation(plain)
    sig = {m: {s: [] for s in SEPS} for m in methods}
    for pas in ((0, 90, 180, 270), (45, 135, 225, 315)):
        comps = [Companion(s, p + 7 * i, CONTRAST) for i, s in enumerate(SEPS) for p in pas]
        injected = _Frames(inject(cube, angles, psf, comps), psf, 4.0, 11)
        inj_pool = pooled_correlation(injected)  # from the data at hand, companions included
        xs = torch.tensor([c.xy(shape)[0] for c in comps], dtype=torch.float64)
        ys = torch.tensor([c.xy(shape)[1] for c in comps], dtype=torch.float64)
        for m in methods:
            d = (snr(injected, angles, xs, ys, m, inj_pool)
                 - snr(plain, angles, xs, ys, m, plain_pool))
            for c, v in zip(comps, d.tolist(), strict=True):
                sig[m][c.sep].append(v)
    print(f"seed {seed} ({time.time() - t0:.0f} s), contrast {CONTRAST}")
    print("| sep (px) | " + " | ".join(f"{m}: null std, eff (mag)" for m in methods) + " |")
    print("|---|" + "---|" * len(methods))
    for sep in SEPS:
        th = torch.linspace(0, 360, int(2 * math.pi * sep), dtype=torch.float64)[:-1]
        nx, ny = to_xy(sep, th, shape)
        row, base = [], None
        for m in methods:
            null = snr(plain, angles, nx, ny, m, plain_pool)
            eff = sum(sig[m][sep]) / len(sig[m][sep]) / float(null.std())
            base = eff if base is None else base
            row.append(f"{float(null.std()):.2f}, {eff:5.2f} "
                       f"({2.5 * math.log10(max(eff, 1e-3) / base):+.2f})")
        print(f"| {sep} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
