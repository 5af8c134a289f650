"""Image quality metrics."""

from __future__ import annotations

import torch


def psnr(x: torch.Tensor, ref: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for signals in [0, 1]: ``-10 log10(mse)``, with ``x``
    clipped to [0, 1] first.

    Examples
    --------
    >>> round(psnr(torch.full((4, 4), 0.1), torch.zeros(4, 4)), 2)
    20.0
    """
    mse = float(torch.mean((x.clamp(0, 1) - ref) ** 2))
    return -10.0 * torch.log10(torch.tensor(max(mse, 1e-20))).item()
