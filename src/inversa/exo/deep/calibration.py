"""From network scores to false-alarm probabilities and an S/N-equivalent.

The detector's logits have no physical scale, so they are calibrated against their own
distribution where there is no source: the same cube processed with the frame order of
the angles reversed and shuffled (no real source adds up; :func:`null_angles`). Per
radial zone (equal numbers of pixels), the false-alarm probability of a score ``s`` is

    p(s) = (#{null >= s} + 1) / (N + 1)                   for s below the zone's top-q quantile
    p(s) = q exp(-(s - s_q) / beta)                       beyond it,

an exponential tail fitted by maximum likelihood (``beta`` = mean excess over ``s_q``) so
that probabilities far below ``1 / N`` (5 sigma: 2.9e-7) can be stated. The
S/N-equivalent is ``Phi^-1(1 - p)``: a threshold of 5 on it means the same per-pixel
false-alarm probability as PACO's 5 sigma.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtri

from inversa.exo.geometry import polar_grid


def null_angles(angles: torch.Tensor, count: int, seed: int = 0) -> list[torch.Tensor]:
    """``count`` pseudo-angle sequences: reversed, then random permutations."""
    out = [angles.flip(0)]
    g = torch.Generator().manual_seed(seed)
    while len(out) < count:
        out.append(angles[torch.randperm(len(angles), generator=g)])
    return out[:count]


@dataclass
class ScoreCalibrator:
    """Per-zone null samples (sorted), tail thresholds and scales."""

    edges: np.ndarray          # zone boundaries in separation (pixels), len zones + 1
    nulls: list[np.ndarray]    # sorted null scores per zone
    tail_q: float
    s_q: np.ndarray
    beta: np.ndarray

    @classmethod
    def fit(cls, null_scores: list[torch.Tensor], valid: torch.Tensor, zones: int = 4,
            tail_q: float = 0.02) -> ScoreCalibrator:
        """From null score maps (each (H, W)) over the ``valid`` pixels (H, W)."""
        sep, _ = polar_grid(valid.shape)
        s = sep[valid].numpy()
        edges = np.quantile(s, np.linspace(0, 1, zones + 1))
        edges[0], edges[-1] = -np.inf, np.inf
        nulls, s_q, beta = [], [], []
        for z in range(zones):
            m = valid & torch.from_numpy((sep.numpy() >= edges[z]) & (sep.numpy() < edges[z + 1]))
            v = np.sort(np.concatenate([n[m].numpy().astype(np.float64) for n in null_scores]))
            q = np.quantile(v, 1 - tail_q)
            exc = v[v > q] - q
            nulls.append(v)
            s_q.append(q)
            beta.append(max(float(exc.mean()) if len(exc) else 1.0, 1e-6))
        return cls(edges=edges, nulls=nulls, tail_q=tail_q, s_q=np.array(s_q),
                   beta=np.array(beta))

    def pfa(self, scores: torch.Tensor) -> torch.Tensor:
        """False-alarm probability of each pixel's score (H, W)."""
        sep, _ = polar_grid(scores.shape)
        zone = np.clip(np.searchsorted(self.edges, sep.numpy(), side="right") - 1, 0,
                       len(self.nulls) - 1)
        sc = scores.numpy().astype(np.float64)
        out = np.ones_like(sc)
        for z, v in enumerate(self.nulls):
            m = zone == z
            x = sc[m]
            body = (len(v) - np.searchsorted(v, x, side="left") + 1) / (len(v) + 1)
            tail = self.tail_q * np.exp(-(x - self.s_q[z]) / self.beta[z])
            out[m] = np.where(x > self.s_q[z], np.minimum(tail, body), body)
        return torch.from_numpy(out)

    def snr(self, scores: torch.Tensor) -> torch.Tensor:
        """S/N-equivalent ``Phi^-1(1 - p)`` (H, W), NaN where the score is NaN."""
        p = self.pfa(torch.nan_to_num(scores, nan=-math.inf)).clamp(1e-300, 1 - 1e-7)
        out = torch.from_numpy(-ndtri(p.numpy())).to(torch.float32)
        return torch.where(torch.isfinite(scores), out, torch.full_like(out, math.nan))
