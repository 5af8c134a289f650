"""Bayer colour filter arrays: patterns, masks, mosaicking and per-channel sub-images.

A Bayer pattern is named by the colours of its 2x2 tile read row by row: ``RGGB`` puts red
at (0, 0), green at (0, 1) and (1, 0), blue at (1, 1). The raw value at pixel (i, j) is

.. math::  y[i, j] = x[c(i \\bmod 2, j \\bmod 2), i, j]

The four *sub-images* (``pack``) are the half-resolution planes ``y[dy::2, dx::2]`` in
tile order, which is how denoisers and noise estimators look at a raw frame. Cropping a
mosaic at an odd offset changes its pattern (``crop_pattern``).
"""

from __future__ import annotations

import torch

from inversa.errors import InputError
from inversa.operators.mosaic import PATTERNS, cfa_masks

__all__ = ["PATTERNS", "cfa_masks", "check_pattern", "crop_pattern", "mosaic", "pack",
           "pattern_from_indices", "unpack"]


def check_pattern(pattern: str, source: str | None = None) -> str:
    """The pattern in upper case, or :class:`InputError` if it is not a Bayer pattern."""
    p = str(pattern).upper()
    if p not in PATTERNS:
        raise InputError(f"CFA pattern {pattern!r} is not a Bayer pattern; expected one of "
                         f"{', '.join(PATTERNS)}", source=source, field="cfa")
    return p


def crop_pattern(pattern: str, top: int, left: int) -> str:
    """Pattern of a mosaic cropped from row ``top`` and column ``left``.

    >>> crop_pattern("RGGB", 1, 0)
    'GBRG'
    """
    p = check_pattern(pattern)
    tile = [[p[0], p[1]], [p[2], p[3]]]
    return "".join(tile[(top + dy) % 2][(left + dx) % 2] for dy in (0, 1) for dx in (0, 1))


def pattern_from_indices(indices, colors: str) -> str:
    """Pattern name from a 2x2 array of colour indices and the colour letters.

    LibRaw describes a sensor by ``raw_pattern`` (indices) and ``color_desc`` (for example
    ``"RGBG"``, the second green being index 3).

    >>> pattern_from_indices([[1, 0], [2, 3]], "RGBG")
    'GRBG'
    """
    return "".join(colors[int(i)] for row in indices for i in row).upper()


def mosaic(x: torch.Tensor, pattern: str) -> torch.Tensor:
    """Mosaic ``(..., 3, H, W)`` RGB into ``(..., H, W)`` raw.

    >>> mosaic(torch.arange(12.).reshape(3, 2, 2), "RGGB")
    tensor([[ 0.,  5.],
            [ 6., 11.]])
    """
    m = cfa_masks(check_pattern(pattern), *x.shape[-2:], dtype=x.dtype, device=x.device)
    return (x * m).sum(dim=-3)


def pack(raw: torch.Tensor) -> torch.Tensor:
    """Sub-images ``(..., 4, H/2, W/2)`` of a mosaic ``(..., H, W)``, in tile order."""
    h, w = raw.shape[-2:]
    if h % 2 or w % 2:
        raise InputError(f"a Bayer mosaic needs even height and width, got {h}x{w}")
    return torch.stack([raw[..., dy::2, dx::2] for dy in (0, 1) for dx in (0, 1)], dim=-3)


def unpack(planes: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`pack`: ``(..., 4, h, w)`` -> ``(..., 2h, 2w)``."""
    h, w = planes.shape[-2:]
    out = planes.new_zeros((*planes.shape[:-3], 2 * h, 2 * w))
    for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[..., dy::2, dx::2] = planes[..., k, :, :]
    return out
