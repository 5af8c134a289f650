"""Apply an image-to-image function on overlapping tiles (bounded memory on big images).

Tiles of ``tile x tile`` pixels overlap by ``overlap`` pixels; each output pixel is the
weighted mean of the tiles covering it, with weights that ramp linearly over the overlap
(no seams). Images no larger than one tile are processed whole.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _starts(n: int, tile: int, step: int) -> list[int]:
    if n <= tile:
        return [0]
    s = list(range(0, n - tile, step))
    return [*s, n - tile]


def _ramp(n: int, overlap: int, device, dtype) -> torch.Tensor:
    w = torch.ones(n, device=device, dtype=dtype)
    if overlap > 0 and n > 2 * overlap:
        r = (torch.arange(overlap, device=device, dtype=dtype) + 1) / (overlap + 1)
        w[:overlap] = r
        w[-overlap:] = r.flip(0)
    return w


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int = 512,
          overlap: int = 32) -> torch.Tensor:
    """``fn(x)`` computed tile by tile (``fn`` must preserve the spatial shape).

    Examples
    --------
    >>> x = torch.rand(1, 1, 300, 200)
    >>> torch.allclose(tiled(lambda t: 2 * t, x, tile=128, overlap=16), 2 * x)
    True
    """
    h, w = x.shape[-2:]
    if h <= tile and w <= tile:
        return fn(x)
    step = tile - 2 * overlap
    if step <= 0:
        raise ValueError(f"tile {tile} too small for overlap {overlap}")
    out = torch.zeros_like(x)
    norm = torch.zeros((h, w), device=x.device, dtype=x.dtype)
    for y0 in _starts(h, tile, step):
        for x0 in _starts(w, tile, step):
            th, tw = min(tile, h), min(tile, w)
            patch = fn(x[..., y0:y0 + th, x0:x0 + tw])
            wgt = (_ramp(th, overlap, x.device, x.dtype)[:, None]
                   * _ramp(tw, overlap, x.device, x.dtype)[None, :])
            out[..., y0:y0 + th, x0:x0 + tw] += patch * wgt
            norm[y0:y0 + th, x0:x0 + tw] += wgt
    return out / norm
