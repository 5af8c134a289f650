"""Sampling an image at arbitrary pixel coordinates (``x`` the column, ``y`` the row,
pixel centres at integers), the one place that converts them to ``grid_sample``'s
normalised ``[-1, 1]`` coordinates (``align_corners=True``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_at(img: torch.Tensor, px: torch.Tensor, py: torch.Tensor, mode: str = "bilinear",
              padding: str = "zeros") -> torch.Tensor:
    """Samples of ``img`` (N, C, h, w) at ``(px, py)`` of shape (N, ...): (N, C, ...).

    >>> img = torch.arange(12.).reshape(1, 1, 3, 4)
    >>> sample_at(img, torch.tensor([[1.5]]), torch.tensor([[1.0]]))
    tensor([[[5.5000]]])
    """
    h, w = img.shape[-2:]
    n = px.shape[0]
    grid = torch.stack([2 * px / max(w - 1, 1) - 1, 2 * py / max(h - 1, 1) - 1], dim=-1)
    out = F.grid_sample(img, grid.reshape(n, 1, -1, 2).to(img.dtype), mode=mode,
                        padding_mode=padding, align_corners=True)
    return out.reshape(n, img.shape[1], *px.shape[1:])
