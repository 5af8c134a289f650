"""Orthonormal wavelet transform (periodised) and the wavelet l1 prior.

One level along an axis of even length ``N``, with the orthonormal low/high-pass filters
``h, g`` of a Daubechies/Symlet/Coiflet wavelet (coefficients from PyWavelets):

.. math:: a[k] = \\sum_n h[n] x[(2k + n) \\bmod N], \\quad d[k] = \\sum_n g[n] x[(2k + n) \\bmod N]

and the synthesis is its transpose (``W^T W = I``). 2-D levels are separable; ``levels``
levels recurse on the approximation. The prior

.. math:: \\phi(x) = \\sum_{\\text{detail coefficients}} |(W x)_i|

has the exact prox ``W^T soft(W v, tau)`` (approximation coefficients untouched) when ``H`` and
``W`` are multiples of ``2^levels``; other sizes are padded by reflection and cropped (then the
prox is that of the padded problem). ``shifts > 1`` averages the prox over that many
circular shifts (cycle spinning: translation invariance, less blocking).
"""

from __future__ import annotations

import functools

import torch

from inversa.priors.base import Prior


@functools.lru_cache(maxsize=16)
def _filters(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    import pywt

    w = pywt.Wavelet(name)
    if not w.orthogonal:
        raise ValueError(f"wavelet {name!r} is not orthogonal")
    return tuple(w.rec_lo), tuple(w.rec_hi)


def _analysis_1d(x: torch.Tensor, f: tuple[float, ...], dim: int) -> torch.Tensor:
    out = 0
    for n, c in enumerate(f):
        out = out + c * torch.roll(x, -n, dims=dim)
    return out.narrow(dim, 0, x.shape[dim]).index_select(
        dim, torch.arange(0, x.shape[dim], 2, device=x.device))


def _synthesis_1d(a: torch.Tensor, f: tuple[float, ...], dim: int) -> torch.Tensor:
    shape = list(a.shape)
    shape[dim] *= 2
    up = a.new_zeros(shape)
    up.index_copy_(dim, torch.arange(0, shape[dim], 2, device=a.device), a)
    out = 0
    for n, c in enumerate(f):
        out = out + c * torch.roll(up, n, dims=dim)
    return out


class WaveletTransform:
    """Multi-level orthonormal 2-D DWT on the last two dims; coefficients as a list
    ``[approx, (dh, dv, dd)_coarsest, ..., (dh, dv, dd)_finest]``."""

    def __init__(self, wavelet: str = "db4", levels: int = 3):
        self.lo, self.hi = _filters(wavelet)
        self.levels = levels

    def forward(self, x: torch.Tensor) -> list:
        details = []
        a = x
        for _ in range(self.levels):
            if a.shape[-1] % 2 or a.shape[-2] % 2:
                raise ValueError(f"size {tuple(a.shape[-2:])} is not divisible by 2 at this level")
            lo = _analysis_1d(a, self.lo, -1)
            hi = _analysis_1d(a, self.hi, -1)
            a, dh = _analysis_1d(lo, self.lo, -2), _analysis_1d(lo, self.hi, -2)
            dv, dd = _analysis_1d(hi, self.lo, -2), _analysis_1d(hi, self.hi, -2)
            details.insert(0, (dh, dv, dd))
        return [a, *details]

    def adjoint(self, coeffs: list) -> torch.Tensor:
        a = coeffs[0]
        for dh, dv, dd in coeffs[1:]:
            lo = _synthesis_1d(a, self.lo, -2) + _synthesis_1d(dh, self.hi, -2)
            hi = _synthesis_1d(dv, self.lo, -2) + _synthesis_1d(dd, self.hi, -2)
            a = _synthesis_1d(lo, self.lo, -1) + _synthesis_1d(hi, self.hi, -1)
        return a


def soft(x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Soft thresholding ``sign(x) max(|x| - t, 0)``, the prox of ``t ||.||_1``."""
    return torch.sign(x) * torch.clamp(x.abs() - t, min=0)


class WaveletL1(Prior):
    """l1 norm of the detail coefficients of an orthonormal wavelet transform.

    Examples
    --------
    >>> p = WaveletL1("db2", levels=2)
    >>> p.prox(torch.rand(1, 1, 16, 16), 0.05).shape
    torch.Size([1, 1, 16, 16])
    """

    def __init__(self, wavelet: str = "db4", levels: int = 3, shifts: int = 1):
        self.wt = WaveletTransform(wavelet, levels)
        self.shifts = shifts

    def _pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        m = 2 ** self.wt.levels
        h, w = x.shape[-2:]
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            from inversa.operators.padding import pad2d

            x = pad2d(x, (0, pw, 0, ph), "reflect")
        return x, (h, w)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        xp, _ = self._pad(x)
        c = self.wt.forward(xp)
        return sum(d.abs().sum() for band in c[1:] for d in band)

    def _prox_once(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        c = self.wt.forward(v)
        c = [c[0], *[tuple(soft(d, tau) for d in band) for band in c[1:]]]
        return self.wt.adjoint(c)

    def prox(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        vp, (h, w) = self._pad(v)
        if self.shifts <= 1:
            return self._prox_once(vp, tau)[..., :h, :w]
        acc = 0
        step = max(1, 2 ** self.wt.levels // self.shifts)
        offs = [(i * step, j * step) for i in range(self.shifts) for j in range(self.shifts)]
        for dy, dx in offs:
            s = torch.roll(vp, (dy, dx), dims=(-2, -1))
            acc = acc + torch.roll(self._prox_once(s, tau), (-dy, -dx), dims=(-2, -1))
        return (acc / len(offs))[..., :h, :w]
