"""Demosaicking for display: bilinear interpolation of each colour plane.

Each channel is known on its CFA sites; missing values are the normalised convolution

.. math::  \\hat x_c = \\frac{k * (m_c \\odot y)}{k * m_c}, \\qquad
           k = \\tfrac14 [1, 2, 1]^T [1, 2, 1]

(so known samples are kept exactly and every missing one is the average of its nearest
same-colour neighbours). Good enough to look at a raw frame; burst reconstruction does
its own, joint demosaicking.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inversa.camera.cfa import cfa_masks, check_pattern


def demosaic_bilinear(raw: torch.Tensor, pattern: str) -> torch.Tensor:
    """``(..., H, W)`` mosaic -> ``(..., 3, H, W)`` RGB.

    >>> demosaic_bilinear(torch.ones(4, 4), "RGGB").shape
    torch.Size([3, 4, 4])
    """
    lead, (h, w) = raw.shape[:-2], raw.shape[-2:]
    m = cfa_masks(check_pattern(pattern), h, w, dtype=raw.dtype, device=raw.device)
    y = raw.reshape(-1, 1, h, w) * m  # (N, 3, H, W)
    k1 = torch.tensor([1.0, 2.0, 1.0], dtype=raw.dtype, device=raw.device)
    k = (k1[:, None] * k1[None, :]).expand(3, 1, 3, 3)
    num = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="reflect"), k, groups=3)
    den = F.conv2d(F.pad(m[None], (1, 1, 1, 1), mode="reflect"), k, groups=3)
    out = torch.where(m.bool(), y, num / den)
    return out.reshape(*lead, 3, h, w)
