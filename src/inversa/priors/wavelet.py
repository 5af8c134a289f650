"""Orthonormal wavelet transform (periodised) and the wavelet l1 prior.

One level along an axis of even length ``N``, with the orthonormal low/high-pass filters
``h, g`` of a Daubechies/Symlet/Coiflet wavelet (coefficients from PyWavelets):

.. math:: a[k] = \\sum_n h[n] x[(2k + n) \\bmod N], \\quad d[k] = \\sum_n g[n] x[(2k + n) \\bmod N]

and the synthesis is its transpose (``W^T W = I``). 2-D levels are separable; ``levels``
levels recurse on the approximation. The prior

.. math:: \\phi(x) = \\sum_{\\text{detail coefficients}} |(W x)_i|

has the exact prox ``W^T soft(W v, tau)`` (approximation coefficients untouched) when ``H`` and
``W`` are multiples of ``2^levels``; other sizes are padded by reflection and cropped (then the
prox is that of the padded problem). ``shifts = s > 1`` averages the prox over the ``s x s``
circular shifts by 0..s-1 pixels (cycle spinning: near translation invariance, fewer
artefacts; Coifman & Donoho 1995).
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


_OPP = torch.tensor([[1 / 3 ** 0.5, 1 / 3 ** 0.5, 1 / 3 ** 0.5],
                     [1 / 2 ** 0.5, 0.0, -1 / 2 ** 0.5],
                     [1 / 6 ** 0.5, -2 / 6 ** 0.5, 1 / 6 ** 0.5]], dtype=torch.float64)


def opponent(x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Orthonormal opponent colour transform of ``(B, 3, H, W)`` (its inverse is ``C^T``)."""
    m = _OPP.to(x)
    m = m.T if inverse else m
    return torch.einsum("ij,bjhw->bihw", m, x)


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

    def __init__(self, wavelet: str = "db4", levels: int = 3, shifts: int = 1,
                 color: bool = False, band_weights: list | None = None):
        self.wt = WaveletTransform(wavelet, levels)
        self.shifts = shifts
        self.color = color
        self.band_weights = band_weights

    def _to(self, x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        return opponent(x, inverse) if self.color and x.shape[-3] == 3 else x

    def _weights(self) -> list:
        if self.band_weights is not None:
            return self.band_weights
        return [(1.0, 1.0, 1.0)] * self.wt.levels

    def _pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        m = 2 ** self.wt.levels
        h, w = x.shape[-2:]
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            from inversa.operators.padding import pad2d

            x = pad2d(x, (0, pw, 0, ph), "reflect")
        return x, (h, w)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        xp, _ = self._pad(self._to(x))
        c = self.wt.forward(xp)
        return sum((torch.as_tensor(wb).to(d) * d.abs()).sum()
                   for band, wts in zip(c[1:], self._weights()) for d, wb in zip(band, wts))

    def _prox_once(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        c = self.wt.forward(v)
        c = [c[0], *[tuple(soft(d, tau * torch.as_tensor(wb).to(d)) for d, wb in zip(band, wts))
                     for band, wts in zip(c[1:], self._weights())]]
        return self.wt.adjoint(c)

    def prox(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        return self._to(self._prox_shifts(self._to(v), tau), inverse=True)

    def _prox_shifts(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        vp, (h, w) = self._pad(v)
        if self.shifts <= 1:
            return self._prox_once(vp, tau)[..., :h, :w]
        acc = 0
        offs = [(i, j) for i in range(self.shifts) for j in range(self.shifts)]
        for dy, dx in offs:
            s = torch.roll(vp, (dy, dx), dims=(-2, -1))
            acc = acc + torch.roll(self._prox_once(s, tau), (-dy, -dx), dims=(-2, -1))
        return (acc / len(offs))[..., :h, :w]


def bayes_shrink_weights(prior: WaveletL1, y: torch.Tensor, sigma: float) -> list:
    """BayesShrink thresholds of each detail band of ``y`` (in the prior's colour space):
    ``T_b = sigma^2 / sqrt(max(var(y_b) - sigma^2, eps))`` per band and channel, shaped
    ``(1, C, 1, 1)`` to broadcast. Use as ``band_weights`` with ``tau = 1``."""
    yp, _ = prior._pad(prior._to(y))
    c = prior.wt.forward(yp)
    out = []
    for band in c[1:]:
        ws = []
        for d in band:
            var = (d ** 2).mean(dim=(0, -2, -1), keepdim=True)
            sx = (var - sigma ** 2).clamp(min=1e-12).sqrt()
            ws.append((sigma ** 2 / sx).clamp(max=float(d.abs().max()) + 1.0))
        out.append(tuple(ws))
    return out
