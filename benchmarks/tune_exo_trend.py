"""Which temporal model of PACO's mean: constant (as published), linear or quadratic in time?
Tuning cubes only (seeds 900+).

    cd benchmarks && for s in 900 901 902 903; do python tune_exo_trend.py $s; done \
        | tee tune_exo_trend.out.txt

PACO models the patches at a location as ``N(m, C)`` with ``m`` constant in time. Here
the mean at each location is a least-squares polynomial of degree ``d`` in time (the
frame index scaled to [-1, 1]), ``C`` the shrinkage covariance of the residuals, and the
per-frame terms ``b_t = h^T C^-1 (r_t - m_t)`` are summed as PACO does (uncalibrated).
Companions of contrast 3e-5 are injected at 7 separations (2-8 lambda/D), 4 position
angles, twice (8 per separation), each time into the companion-free cube with its true
angles. Printed per separation and model: the null S/N's mean and spread over the
pixels of the ring (true angles, no companion), and the companions' S/N gain over that
spread ("eff": the mean S/N difference with and without the companion, divided by the
null spread), with its ratio to the constant mean's in magnitudes.
"""

from __future__ import annotations

import math
import sys
import time

import torch

from inversa.exo.geometry import to_xy, trajectory
from inversa.exo.inject import Companion, inject
from inversa.exo.paco import PacoConfig, _ab_terms, _Frames, shrunk_covariance
from inversa.exo.simulate import SimConfig, simulate

SEPS = (8, 12, 16, 20, 24, 28, 32)
CONTRAST = 3e-5


def trend_terms(fr: _Frames, angles: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor,
                order: int, jitter: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame ``a_t``, ``b_t`` (N, T) with a mean polynomial of degree ``order`` in time."""
    xt, yt = trajectory(xs, ys, angles.cpu(), (fr.h, fr.w))
    ix, iy = torch.round(xt), torch.round(yt)
    fx, fy = (xt - ix).float(), (yt - iy).float()
    ix, iy = ix.long(), iy.long()
    t = ix.shape[1]
    uniq, inv = torch.unique(iy * fr.w + ix, return_inverse=True)
    pt, _ = fr.patches(uniq // fr.w, uniq % fr.w)  # (U, T, P)
    tau = torch.linspace(-1, 1, t)
    x = torch.stack([tau ** k for k in range(order + 1)], 1)  # (T, order + 1)
    resid = pt - torch.einsum("st,utp->usp", x @ torch.linalg.pinv(x), pt)
    s = (resid.transpose(1, 2) @ resid / (t - order - 1)).double()
    diag = torch.diagonal(s, dim1=-2, dim2=-1)
    c = shrunk_covariance(s, float(t - order - 1))
    c = c + jitter * diag.mean(-1)[:, None, None] * torch.eye(c.shape[-1], dtype=c.dtype)
    cinv = torch.linalg.inv(c).float()
    h = fr.bank.values(fx, fy)  # (N, T, P)
    v = (cinv[inv] @ h[..., None])[..., 0]
    r = resid[inv, torch.arange(t).expand_as(inv)]
    return (h * v).sum(-1), (v * r).sum(-1)


def snr(fr: _Frames, angles, xs, ys, method: str) -> torch.Tensor:
    if method == "constant (PACO)":
        return hook_snr(fr, angles, xs, ys)
    a, b = trend_terms(fr, angles, xs, ys, {"linear": 1, "quadratic": 2}[method])
    return b.sum(1) / a.sum(1).sqrt()


def run(seed: int, methods: tuple[str, ...], snr, null_mean: bool = True) -> None:
    """The protocol above on the tuning cube ``seed`` for ``snr(frames, angles, xs, ys,
    method)`` (each method's S/N at the positions, (N,)); prints the table, the first
    method the reference of the magnitudes (``null_mean``: also the null S/N's mean)."""
    torch.set_num_threads(2)
    t0 = time.time()
    sim = simulate(SimConfig(), seed=seed)
    cube, angles, psf = sim.cube, sim.angles, sim.psf
    shape = tuple(cube.shape[-2:])
    plain = _Frames(cube, psf, 4.0, 11)
    sig = {m: {s: [] for s in SEPS} for m in methods}
    for pas in ((0, 90, 180, 270), (45, 135, 225, 315)):
        comps = [Companion(s, p + 7 * i, CONTRAST) for i, s in enumerate(SEPS) for p in pas]
        injected = _Frames(inject(cube, angles, psf, comps), psf, 4.0, 11)
        xs = torch.tensor([c.xy(shape)[0] for c in comps], dtype=torch.float64)
        ys = torch.tensor([c.xy(shape)[1] for c in comps], dtype=torch.float64)
        for m in methods:
            d = snr(injected, angles, xs, ys, m) - snr(plain, angles, xs, ys, m)
            for c, v in zip(comps, d.tolist(), strict=True):
                sig[m][c.sep].append(v)
    label = "null mean / std" if null_mean else "null std"
    print(f"seed {seed} ({time.time() - t0:.0f} s), contrast {CONTRAST}")
    print("| sep (px) | " + " | ".join(f"{m}: {label}, eff (mag)" for m in methods) + " |")
    print("|---|" + "---|" * len(methods))
    for sep in SEPS:
        th = torch.linspace(0, 360, int(2 * math.pi * sep), dtype=torch.float64)[:-1]
        nx, ny = to_xy(sep, th, shape)
        row, base = [], None
        for m in methods:
            null = snr(plain, angles, nx, ny, m)
            eff = sum(sig[m][sep]) / len(sig[m][sep]) / float(null.std())
            base = eff if base is None else base
            spread = (f"{float(null.mean()):+.2f} / {float(null.std()):.2f}" if null_mean
                      else f"{float(null.std()):.2f}")
            row.append(f"{spread}, {eff:5.2f} "
                       f"({2.5 * math.log10(max(eff, 1e-3) / base):+.2f})")
        print(f"| {sep} | " + " | ".join(row) + " |", flush=True)


def hook_snr(fr: _Frames, angles: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor,
             cfg: PacoConfig = PacoConfig(), statistics=None) -> torch.Tensor:
    """PACO's uncalibrated S/N ``b / sqrt(a)`` at the positions with ``cfg``, or with the
    mean and inverse covariance ``statistics`` gives (:func:`_ab_terms`'s hook)."""
    _, a, b, _ = _ab_terms(fr, angles, xs, ys, cfg, statistics=statistics)
    return b.sum(1) / a.sum(1).sqrt()


def cli(methods: tuple[str, ...], snr, null_mean: bool = True) -> None:
    """``python SCRIPT [SEED]`` (default 900): :func:`run` on that tuning cube."""
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 900, methods, snr, null_mean)


def main() -> None:
    cli(("constant (PACO)", "linear", "quadratic"), snr)


if __name__ == "__main__":
    main()
