"""How well does each estimate of PACO's patch covariance whiten? Its efficiency against the
true covariance, location by location. Tuning cubes only (seeds 900+).

    cd benchmarks && python exo_covariance_efficiency.py --seeds 900 901 902 903 \
        --realisations 16 | tee exo_covariance_efficiency.out.txt

PACO's per-frame statistic at a location is ``b = h^T C^-1 (r - m)`` with ``C`` the
covariance estimated from the cube's own patches there. If the true covariance of the
patches is ``Sigma``, the matched filter ``C^-1 h`` reaches the S/N

    SNR(C) = (h^T C^-1 h) f / sqrt(h^T C^-1 Sigma C^-1 h)

for a source of flux ``f``, and the best filter (``C = Sigma``) reaches
``f sqrt(h^T Sigma^-1 h)``. Their squared ratio, the efficiency

    eta(C) = (h^T C^-1 h)^2 / ((h^T C^-1 Sigma C^-1 h) (h^T Sigma^-1 h))  <= 1,

is the share of the best S/N^2 an estimate keeps (Cauchy-Schwarz). A calibrated detector's
S/N scales as ``sqrt(eta)``, so two estimates compare in depth by
``1.25 log10(eta_1 / eta_2)`` magnitudes (S/N linear in flux). The measure ignores that
the estimate comes from the same frames as the data (the source's share absorbed, which
the benchmark's injections count): it is about the whitening alone.

The truth: ``--realisations`` companion-free cubes of the same seed (same aberrations, new
AO residuals and noise, as in ``exo_oracle.py``); ``Sigma`` is the covariance of their
patches around the time-averaged mean (PACO's model: a mean constant in time, the drift
taken as noise), pooled over frames and realisations. The estimates use the cube of the
seed itself (48 frames). ``h`` is the PSF stamp centred on the patch.

Printed per separation band (lambda/D = 4 px): the mean gain over PACO's linear shrinkage
in magnitudes, ``1.25 mean log10(eta / eta_linear)``, and PACO's own loss against the
truth, ``-1.25 mean log10(eta_linear)``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from inversa.exo.geometry import polar_grid
from inversa.exo.paco import PacoConfig, _Frames, _geometry, shrunk_covariance
from inversa.exo.simulate import SimConfig, simulate

BANDS = ((8, 12), (12, 16), (16, 24), (24, 33))  # px; 2-3, 3-4, 4-6, 6-8 lambda/D


def sample_stats(pt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample covariance (U, P, P) (float64, around the temporal mean) and its diagonal."""
    d = (pt - pt.mean(1, keepdim=True)).double()
    s = d.transpose(1, 2) @ d / pt.shape[1]
    return s, torch.diagonal(s, dim1=-2, dim2=-1)


def linear(s: torch.Tensor, n: int) -> torch.Tensor:
    return shrunk_covariance(s, float(n))


def nonlinear(s: torch.Tensor, n: int) -> torch.Tensor:
    return shrunk_covariance(s, float(n), "nonlinear")


def pair_offsets(dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """For a patch of offsets ``(dy, dx)`` (P,), the id (P * P,) of each pixel pair's
    displacement, so pairs displaced alike share an id."""
    oy = (dy[:, None] - dy[None, :]).reshape(-1)
    ox = (dx[:, None] - dx[None, :]).reshape(-1)
    half = int(2 * max(dy.abs().max(), dx.abs().max()))
    return (oy + half) * (2 * half + 1) + (ox + half)


def stationary_correlation(s: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The sample correlation averaged over the pixel pairs with the same displacement
    (a correlation that depends on the displacement only, within the patch)."""
    d = torch.diagonal(s, dim1=-2, dim2=-1).clamp_min(1e-300).sqrt()
    r = (s / d[:, :, None] / d[:, None, :]).reshape(s.shape[0], -1)
    k = int(ids.max()) + 1
    sums = torch.zeros(s.shape[0], k, dtype=s.dtype).index_add_(1, ids, r)
    counts = torch.zeros(k, dtype=s.dtype).index_add_(0, ids, torch.ones_like(ids, dtype=s.dtype))
    rs = (sums / counts.clamp_min(1))[:, ids].reshape(s.shape)
    return rs * d[:, :, None] * d[:, None, :]


ORACLE_RE = "oracle: sample eigenvectors of the correlation, true variances along them"


def oracle_eigenvalues(s: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The best estimate with the sample correlation's eigenvectors ``u_i`` (what nonlinear
    shrinkage estimates): ``D^1/2 (sum_i (u_i^T R_true u_i) u_i u_i^T) D^1/2`` with ``D`` the
    sample variances and ``R_true = D^-1/2 Sigma D^-1/2``."""
    d = torch.diagonal(s, dim1=-2, dim2=-1).clamp_min(1e-300).sqrt()
    r = s / d[:, :, None] / d[:, None, :]
    rt = sigma / d[:, :, None] / d[:, None, :]
    _, u = torch.linalg.eigh(r)
    lam = (u.transpose(1, 2) @ rt @ u).diagonal(dim1=-2, dim2=-1)
    return (u * lam[:, None, :]) @ u.transpose(1, 2) * d[:, :, None] * d[:, None, :]


def efficiency(c: torch.Tensor, sigma: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``eta(C)`` (U,) for estimates ``c`` and truths ``sigma`` (U, P, P), stamp ``h`` (P,)."""
    eye = torch.eye(c.shape[-1], dtype=c.dtype)
    c = c + 1e-6 * torch.diagonal(c, dim1=-2, dim2=-1).mean(-1)[:, None, None] * eye
    hh = h.to(c.dtype).expand(c.shape[0], -1)[..., None]
    v = torch.linalg.solve(c, hh)
    num = (hh * v).sum((1, 2)) ** 2
    den = (v.transpose(1, 2) @ sigma @ v)[:, 0, 0]
    best = (hh * torch.linalg.solve(sigma, hh)).sum((1, 2))
    return num / (den * best)


def estimators(ids: torch.Tensor) -> dict[str, Callable[[torch.Tensor, int], torch.Tensor]]:
    def toward_stationary(w: float, base: Callable) -> Callable:
        return lambda s, n: (1 - w) * base(s, n) + w * stationary_correlation(s, ids)

    out: dict[str, Callable] = {"linear (PACO)": linear, "nonlinear": nonlinear,
                                "blend": lambda s, n: shrunk_covariance(s, float(n), "blend")}
    for w in (0.3, 0.5, 0.7, 0.9):
        out[f"S -> stationary, w {w}"] = toward_stationary(w, lambda s, n: s)
    for w in (0.3, 0.5):
        out[f"linear -> stationary, w {w}"] = toward_stationary(w, linear)
        out[f"nonlinear -> stationary, w {w}"] = toward_stationary(w, nonlinear)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[900, 901, 902, 903])
    ap.add_argument("--realisations", type=int, default=16)
    ap.add_argument("--locations", type=int, default=400, help="per cube, 2-8 lambda/D")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    cfg = SimConfig()
    gains: dict[str, list[torch.Tensor]] = {}
    loss, seps = [], []
    for seed in args.seeds:
        t0 = time.time()
        sim = simulate(cfg, [], seed=seed)
        reals = torch.stack([simulate(cfg, [], seed=seed, realisation=r).cube
                             for r in range(args.realisations)])
        _, radius, _ = _geometry(sim.psf[None], PacoConfig())
        fr = _Frames(sim.cube, sim.psf, radius, PacoConfig().bank_steps)
        _, t_count, h, w = reals.shape
        truth = _Frames((reals - reals.mean((0, 1), keepdim=True)).reshape(-1, h, w), sim.psf,
                        radius, PacoConfig().bank_steps)
        sep, _ = polar_grid((h, w))
        pool = torch.nonzero((sep.reshape(-1) >= BANDS[0][0]) & (sep.reshape(-1) < BANDS[-1][1])
                             )[:, 0]
        pick = pool[torch.randperm(len(pool))[:args.locations]]
        iy, ix = pick // w, pick % w
        pt, _ = fr.patches(iy, ix)
        s, _ = sample_stats(pt)
        qt, _ = truth.patches(iy, ix)
        sigma = (qt.transpose(1, 2) @ qt).double() / qt.shape[1]
        stamp = fr.bank.values(torch.zeros(1), torch.zeros(1))[0].double()
        ids = pair_offsets(fr.dy, fr.dx)
        eta_lin = efficiency(linear(s, t_count), sigma, stamp)
        loss.append(-1.25 * torch.log10(eta_lin))
        seps.append(sep.reshape(-1)[pick])
        for name, est in estimators(ids).items():
            eta = efficiency(est(s, t_count), sigma, stamp)
            gains.setdefault(name, []).append(1.25 * torch.log10(eta / eta_lin))
        eta = efficiency(oracle_eigenvalues(s, sigma), sigma, stamp)
        gains.setdefault(ORACLE_RE, []).append(1.25 * torch.log10(eta / eta_lin))
        print(f"seed {seed}: {len(pick)} locations, {time.time() - t0:.0f} s", flush=True)
    sep_all = torch.cat(seps)
    heads = [f"{a / 4:g}-{b / 4:g}" if b < 33 else f"{a / 4:g}-8" for a, b in BANDS]
    print(f"\n{len(args.seeds)} cubes (seeds {args.seeds[0]}-{args.seeds[-1]}), "
          f"{args.realisations} realisations for the truth; gain over PACO's linear "
          f"shrinkage in magnitudes, 1.25 mean log10(eta / eta_linear), per band (lambda/D)")
    print("| estimate | " + " | ".join(heads) + " | 2-8 |")
    print("|---|" + "---|" * (len(BANDS) + 1))

    def row(name: str, vals: torch.Tensor) -> str:
        cells = [float(vals[(sep_all >= a) & (sep_all < b)].mean()) for a, b in BANDS]
        return (f"| {name} | " + " | ".join(f"{c:+.3f}" for c in cells)
                + f" | {float(vals.mean()):+.3f} |")

    print(row("true covariance (PACO's loss)", torch.cat(loss)))
    for name, vals in gains.items():
        print(row(name, torch.cat(vals)))


if __name__ == "__main__":
    main()
