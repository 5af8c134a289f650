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


_MHC = {  # Malvar, He and Cutler 2004, gradient-corrected bilinear filters (x 1/8)
    "g_at_rb": [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0],
                [0, 0, -1, 0, 0]],
    "row": [[0, 0, 0.5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0],
            [0, 0, 0.5, 0, 0]],  # colour of the horizontal neighbours, at a green site
    "col": [[0, 0, -1, 0, 0], [0, -1, 4, -1, 0], [0.5, 0, 5, 0, 0.5], [0, -1, 4, -1, 0],
            [0, 0, -1, 0, 0]],  # colour of the vertical neighbours, at a green site
    "diag": [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0],
             [0, 0, -1.5, 0, 0]],  # red at blue sites and blue at red sites
}


def demosaic_malvar(raw: torch.Tensor, pattern: str) -> torch.Tensor:
    """Gradient-corrected linear demosaicking (Malvar, He, Cutler 2004): bilinear
    interpolation plus a Laplacian correction from the channel sampled at the pixel.
    ``(..., H, W)`` -> ``(..., 3, H, W)``; known samples are kept.

    >>> x = torch.full((3, 8, 8), 0.4)
    >>> from inversa.camera.cfa import mosaic
    >>> bool(torch.allclose(demosaic_malvar(mosaic(x, "GBRG"), "GBRG"), x))
    True
    """
    p = check_pattern(pattern)
    lead, (h, w) = raw.shape[:-2], raw.shape[-2:]
    y = raw.reshape(-1, 1, h, w)
    k = torch.tensor([_MHC[n] for n in ("g_at_rb", "row", "col", "diag")],
                     dtype=raw.dtype, device=raw.device)[:, None] / 8
    f = F.conv2d(F.pad(y, (2, 2, 2, 2), mode="reflect"), k)  # (N, 4, H, W)
    g_rb, f_row, f_col, f_diag = f.unbind(1)
    yy = y[:, 0]
    out = []
    for ch in "RGB":
        plane = torch.empty_like(yy)
        for dy in (0, 1):
            for dx in (0, 1):
                site = p[2 * dy + dx]
                sl = (slice(None), slice(dy, None, 2), slice(dx, None, 2))
                if site == ch:
                    v = yy[sl]
                elif ch == "G":
                    v = g_rb[sl]
                elif site == "G":
                    row_has = ch in p[2 * dy: 2 * dy + 2]
                    v = (f_row if row_has else f_col)[sl]
                else:
                    v = f_diag[sl]
                plane[sl] = v
        out.append(plane)
    return torch.stack(out, 1).reshape(*lead, 3, h, w)
