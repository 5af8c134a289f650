"""PACO's covariance with nonlinear shrinkage of its eigenvalues: with 49 pixels per patch
and 48 frames the sample covariance sits where linear shrinkage is weakest (p / n ~ 1).
Tuning cubes only (900+).

    cd benchmarks && for s in 900 901 902 903; do python tune_exo_nonlinear_shrinkage.py $s; \\
        done | tee tune_exo_nonlinear_shrinkage.out.txt

PACO shrinks the sample covariance ``S`` of the T frames at a location linearly towards its
diagonal, ``C = (1 - rho) S + rho diag(S)``: every eigenvalue is pulled by the same
fraction. Ledoit and Wolf's analytical nonlinear shrinkage (Annals of Statistics 2020)
keeps the sample eigenvectors and replaces each eigenvalue by a kernel estimate of its
oracle value (``inversa.exo.covariance``): it raises the small ones, which the sample
underestimates most, far more than it moves the large ones. Two forms, and a blend:

- "nonlinear, covariance": on ``S`` itself;
- "nonlinear, correlation": on ``R = D^-1/2 S D^-1/2`` (``D = diag(S)``), rescaled after,
  so the pixels' own variances are kept as PACO's diagonal target keeps them
  (``PacoConfig(covariance="nonlinear")``);
- "blend": the mean of PACO's covariance and the correlation form's
  (``PacoConfig(covariance="blend")``; added after the held-out run of the correlation
  form, whose null S/N has a heavier far tail).

Protocol of ``tune_exo_trend.py`` (the mean stays PACO's): "eff" = the companions' mean
S/N gain over the null spread, and its ratio to PACO's in magnitudes.
"""

from __future__ import annotations

import torch
from tune_exo_trend import cli, hook_snr

from inversa.exo.covariance import analytical_shrinkage
from inversa.exo.paco import PacoConfig, _Frames

METHODS = ("PACO", "nonlinear, covariance", "nonlinear, correlation", "blend")


def covariance_statistics(jitter: float = 1e-6):
    """PACO's temporal mean and the inverse of :func:`analytical_shrinkage` of ``S``."""

    def stats(uniq, pt, wt):
        m = pt.mean(1)
        d = pt - m[:, None]
        n = pt.shape[1] - 1
        c = analytical_shrinkage((d.transpose(1, 2) @ d / n).double(), n)
        diag = torch.diagonal(c, dim1=-2, dim2=-1)
        c = c + jitter * diag.mean(-1)[:, None, None] * torch.eye(c.shape[-1], dtype=c.dtype)
        return m, torch.linalg.inv(c).float()

    return stats


def snr(fr: _Frames, angles, xs, ys, method: str) -> torch.Tensor:
    """PACO, the nonlinear shrinkage of ``S`` (a statistics hook), or of the correlation
    (``PacoConfig(covariance="nonlinear")``, the shipped form)."""
    stats, cfg = None, PacoConfig()
    if method.endswith("covariance"):
        stats = covariance_statistics()
    elif method.endswith("correlation"):
        cfg = PacoConfig(covariance="nonlinear")
    elif method == "blend":
        cfg = PacoConfig(covariance="blend")
    return hook_snr(fr, angles, xs, ys, cfg, statistics=stats)


def main() -> None:
    cli(METHODS, snr, null_mean=False)


if __name__ == "__main__":
    main()
