"""Candidates: local maxima of an S/N map above a threshold, with sub-pixel positions."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from inversa.exo.geometry import to_polar


@dataclass
class Candidate:
    """One detection, in the derotated frame (x column, y row, pixels)."""

    id: int
    x: float
    y: float
    separation: float
    position_angle: float
    snr: float
    flux: float = math.nan
    flux_err: float = math.nan

    def as_row(self) -> dict:
        return asdict(self)


def local_maxima(snr: torch.Tensor, threshold: float, min_distance: float
                 ) -> list[tuple[int, int]]:
    """``(y, x)`` of pixels that are the maximum within ``min_distance`` and at least
    ``threshold``, brightest first.

    >>> m = torch.zeros(9, 9); m[4, 4] = 6.0; m[4, 5] = 5.5; m[1, 1] = 5.2
    >>> local_maxima(m, 5.0, 2.0)
    [(4, 4), (1, 1)]
    """
    k = 2 * int(math.ceil(min_distance)) + 1
    s = torch.nan_to_num(snr, nan=-math.inf)
    pooled = F.max_pool2d(s[None, None], k, stride=1, padding=k // 2)[0, 0]
    peaks = ((s == pooled) & (s >= threshold) & torch.isfinite(snr)).nonzero()
    vals = s[peaks[:, 0], peaks[:, 1]]
    order = torch.argsort(vals, descending=True)
    kept: list[tuple[int, int]] = []
    for i in order.tolist():
        y, x = int(peaks[i, 0]), int(peaks[i, 1])
        if all((y - a) ** 2 + (x - b) ** 2 > min_distance ** 2 for a, b in kept):
            kept.append((y, x))
    return kept


def peak_near(snr: torch.Tensor, x: float, y: float, radius: float) -> tuple[int, int] | None:
    """The map's largest finite pixel within ``radius`` of ``(x, y)``, as ``(row, col)``
    (``None`` when there is none); a true source's peak in injection-recovery."""
    snr = torch.as_tensor(snr)
    h, w = snr.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    near = ((xx - x) ** 2 + (yy - y) ** 2 <= radius ** 2) & torch.isfinite(snr)
    if not bool(near.any()):
        return None
    idx = int(torch.argmax(torch.where(near, snr, torch.full_like(snr, -math.inf))))
    return divmod(idx, w)


def refine(snr: torch.Tensor, y: int, x: int) -> tuple[float, float]:
    """Sub-pixel peak position: a parabola through the maximum and its neighbours, per
    axis (offsets clipped to half a pixel)."""
    h, w = snr.shape

    def offset(m1: float, c: float, p1: float) -> float:
        den = m1 - 2 * c + p1
        if not all(math.isfinite(v) for v in (m1, c, p1)) or den >= 0:
            return 0.0
        return max(-0.5, min(0.5, 0.5 * (m1 - p1) / den))

    c = float(snr[y, x])
    dx = offset(float(snr[y, x - 1]), c, float(snr[y, x + 1])) if 0 < x < w - 1 else 0.0
    dy = offset(float(snr[y - 1, x]), c, float(snr[y + 1, x])) if 0 < y < h - 1 else 0.0
    return x + dx, y + dy


def located_peak(snr: torch.Tensor, x: float, y: float, radius: float
                 ) -> tuple[tuple[int, int], tuple[float, float]] | None:
    """Where a source near ``(x, y)`` is on this map: the :func:`peak_near` pixel
    ``(row, col)`` and its :func:`refine`-d position ``(x, y)`` (``None`` when no finite
    pixel lies within ``radius``)."""
    snr = torch.as_tensor(snr)
    pk = peak_near(snr, x, y, radius)
    return None if pk is None else (pk, refine(snr, *pk))


def find_candidates(snr: torch.Tensor, threshold: float, fwhm: float,
                    flux: torch.Tensor | None = None, flux_err: torch.Tensor | None = None,
                    position_map: torch.Tensor | None = None) -> list[Candidate]:
    """Candidates at least one FWHM apart, brightest first, with the flux maps' values at
    the peak pixel when given.

    ``position_map`` (e.g. PACO's S/N beside a learned detector's map) separates
    detecting from locating: each candidate keeps its S/N from ``snr`` but takes its
    position from the largest finite pixel of ``position_map`` within one FWHM of its
    peak (parabola-refined there; the flux maps are read at that pixel). Without a finite
    pixel there, the ``snr`` peak is kept."""
    out = []
    for i, (y, x) in enumerate(local_maxima(snr, threshold, fwhm)):
        s = float(snr[y, x])
        xs, ys = refine(snr, y, x)
        at = located_peak(position_map, xs, ys, fwhm) if position_map is not None else None
        if at is not None:
            (y, x), (xs, ys) = at
        sep, pa = to_polar(xs, ys, tuple(snr.shape))
        out.append(Candidate(
            id=i + 1, x=xs, y=ys, separation=float(sep), position_angle=float(pa), snr=s,
            flux=float(flux[y, x]) if flux is not None else math.nan,
            flux_err=float(flux_err[y, x]) if flux_err is not None else math.nan))
    return out
