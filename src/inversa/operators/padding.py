"""Boundary extension as an explicit linear map (and its exact adjoint).

``pad(x)`` extends the last two dimensions by ``(left, right, top, bottom)`` pixels with a
``circular``, ``reflect`` (mirror without repeating the edge: ``d c b | a b c d | c b a``),
``replicate`` or ``zero`` boundary. Padding is a gather ``x_pad[i] = x[idx[i]]``, so its
adjoint is the scatter-add ``x[idx[i]] += y[i]`` (``index_add``), exact by construction.
"""

from __future__ import annotations

import torch

MODES = ("circular", "reflect", "replicate", "zero")


def pad_index(n: int, before: int, after: int, mode: str) -> torch.Tensor:
    """Indices into a length-``n`` axis for a padded axis of length ``n + before + after``."""
    i = torch.arange(-before, n + after)
    if mode == "circular":
        return i % n
    if mode == "replicate":
        return i.clamp(0, n - 1)
    if mode == "reflect":
        if n == 1:
            return torch.zeros_like(i)
        period = 2 * (n - 1)
        j = i % period
        return torch.where(j < n, j, period - j)
    raise ValueError(f"unknown boundary mode {mode!r}; expected one of {MODES}")


def pad2d(x: torch.Tensor, pads: tuple[int, int, int, int], mode: str) -> torch.Tensor:
    left, right, top, bottom = pads
    if mode == "zero":
        return torch.nn.functional.pad(x, (left, right, top, bottom))
    h, w = x.shape[-2:]
    iy = pad_index(h, top, bottom, mode).to(x.device)
    ix = pad_index(w, left, right, mode).to(x.device)
    return x.index_select(-2, iy).index_select(-1, ix)


def pad2d_adjoint(y: torch.Tensor, pads: tuple[int, int, int, int], mode: str,
                  shape: tuple[int, int]) -> torch.Tensor:
    left, right, top, bottom = pads
    h, w = shape
    if mode == "zero":
        return y[..., top:top + h, left:left + w]
    iy = pad_index(h, top, bottom, mode).to(y.device)
    ix = pad_index(w, left, right, mode).to(y.device)
    z = y.new_zeros((*y.shape[:-1], w)).index_add(-1, ix, y)
    return z.new_zeros((*z.shape[:-2], h, w)).index_add(-2, iy, z)
