"""Analogue-to-digital conversion: bit depth, black level and white level.

A normalised raw value ``x`` (0 = black, 1 = white) becomes the digital number

.. math::  DN = \\mathrm{clip}(\\mathrm{round}(b + x (w - b)), 0, 2^{bits} - 1)

with black level ``b`` (per Bayer channel or one value) and white level ``w`` (by default
``2^bits - 1``). :func:`normalise` is the reverse map used when reading raw files:
``x = (DN - b) / (w - b)``; values a little below 0 (read noise around the black level)
are kept, as in real raw data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from inversa.errors import InputError


def _black_map(black: float | Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    b = np.asarray(black, dtype=np.float64).reshape(-1)
    if b.size == 1:
        return np.full(shape, b[0])
    if b.size != 4:
        raise InputError(f"black level must be 1 value or 4 (one per Bayer tile position), "
                         f"got {b.size}", field="black")
    tile = b.reshape(2, 2)
    return np.tile(tile, (shape[0] // 2 + 1, shape[1] // 2 + 1))[: shape[0], : shape[1]]


def quantize(x: torch.Tensor | np.ndarray, bits: int = 12, black: float | Sequence[float] = 0,
             white: int | None = None) -> np.ndarray:
    """Normalised raw ``(..., H, W)`` -> digital numbers (uint16).

    >>> quantize(np.array([[0.0, 0.5], [1.0, 2.0]]), bits=10, black=64).tolist()
    [[64, 544], [1023, 1023]]
    """
    if bits not in range(8, 17):
        raise InputError(f"bit depth must be between 8 and 16, got {bits}", field="bits")
    top = 2 ** bits - 1
    white = top if white is None else int(white)
    a = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, float)
    b = _black_map(black, a.shape[-2:])
    if not (b.max() < white <= top):
        raise InputError(f"need black < white <= {top}, got black={b.max()}, white={white}")
    dn = np.rint(b + a * (white - b))
    return np.clip(dn, 0, top).astype(np.uint16)


def normalise(dn: np.ndarray, black: float | Sequence[float], white: float) -> np.ndarray:
    """Digital numbers -> normalised float32 ``(DN - b) / (w - b)``."""
    b = _black_map(black, dn.shape[-2:])
    return ((dn.astype(np.float64) - b) / (float(white) - b)).astype(np.float32)
