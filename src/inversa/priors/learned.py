"""A denoiser network used in place of a prox (plug-and-play).

``prox(v, tau) = D(v, sigma = scale * sqrt(tau))``: a MAP denoiser at noise level ``sigma``
is the prox of ``sigma^2 phi`` for its implicit prior, so a prox with step ``tau`` on
``phi`` corresponds to denoising at ``sigma = sqrt(tau)``. ``value`` is not available (NaN).
Outside autograd, images larger than ``tile`` are denoised on overlapping tiles.
"""

from __future__ import annotations

import math

import torch

from inversa.priors.base import Prior


class LearnedPrior(Prior):
    """Plug-and-play prior from a denoiser ``D(v, sigma)`` (default: the shipped one).

    Examples
    --------
    >>> p = LearnedPrior()
    >>> p.prox(torch.rand(1, 3, 16, 16), (15 / 255) ** 2).shape
    torch.Size([1, 3, 16, 16])
    """

    def __init__(self, denoiser: torch.nn.Module | None = None, scale: float = 1.0,
                 tile: int = 1024):
        if denoiser is None:
            from inversa.nets.weights import load_denoiser

            denoiser = load_denoiser()
        self.denoiser = denoiser
        self.scale = scale
        self.tile = tile

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_tensor(math.nan)

    def denoise(self, v: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        p = next(self.denoiser.parameters(), None)
        if p is not None and p.device != v.device:
            self.denoiser.to(v.device)
        if (torch.is_tensor(sigma) and sigma.numel() > 1) or torch.is_grad_enabled():
            return self.denoiser(v, sigma)
        from inversa.nets.tiling import tiled

        return tiled(lambda t: self.denoiser(t, sigma), v, tile=self.tile, overlap=32)

    def prox(self, v: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
        tau_t = torch.as_tensor(tau, dtype=v.dtype, device=v.device)
        return self.denoise(v, self.scale * tau_t.clamp(min=0).sqrt())
