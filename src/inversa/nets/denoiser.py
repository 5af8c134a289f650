"""A small noise-level-conditioned U-Net denoiser (gray and colour).

The network estimates ``x`` from ``v = x + sigma * n`` (``n ~ N(0, I)``) given ``sigma``:

.. math::  \\hat x = v + f_\\theta(\\mathrm{unshuffle}_2(v), \\sigma)

where ``unshuffle_2`` folds each 2x2 block into channels (as in FFDNet, which makes the net
4x cheaper and widens its receptive field) and ``sigma`` enters as an extra channel: a
constant, or (as in FFDNet) a per-pixel noise map for noise that varies across the image
(averaged over each 2x2 block).
Inside, a two-scale U-Net of residual blocks (DRUNet-like, without normalisation).
It is trained on colour images (3 channels); a gray image is denoised by replicating it to
three identical channels (the network also sees such gray samples during training) and
averaging the output channels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DenoiserConfig:
    """Architecture of :class:`UNetDenoiser`."""

    channels: int = 3
    width: int = 64
    blocks: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


class _ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.relu(self.c1(x)))


class UNetDenoiser(nn.Module):
    """Denoiser ``D(v, sigma)`` for images ``(B, C, H, W)`` with C = 1 or ``config.channels``.

    Examples
    --------
    >>> net = UNetDenoiser()
    >>> v = torch.rand(1, 3, 32, 32)
    >>> net(v, 0.1).shape
    torch.Size([1, 3, 32, 32])
    """

    def __init__(self, config: DenoiserConfig = DenoiserConfig()):
        super().__init__()
        self.config = config
        c, w, nb = config.channels, config.width, config.blocks
        self.head = nn.Conv2d(4 * c + 1, w, 3, padding=1)
        self.enc1 = nn.Sequential(*[_ResBlock(w) for _ in range(nb)])
        self.down = nn.Conv2d(w, 2 * w, 2, stride=2)
        self.mid = nn.Sequential(*[_ResBlock(2 * w) for _ in range(nb)])
        self.up = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = nn.Sequential(*[_ResBlock(w) for _ in range(nb)])
        self.tail = nn.Conv2d(w, 4 * c, 3, padding=1)

    def _core(self, v: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        z = F.pixel_unshuffle(v, 2)
        if sigma.dim() == 4:
            s = F.avg_pool2d(sigma.to(v), 2)
        else:
            s = sigma.reshape(-1, 1, 1, 1).to(v) * torch.ones_like(z[:, :1])
        h = self.head(torch.cat([z, s], dim=1))
        e = self.enc1(h)
        m = self.mid(self.down(F.relu(e)))
        d = self.dec1(self.up(m) + e)
        return v + F.pixel_shuffle(self.tail(F.relu(d)), 2)

    def forward(self, v: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """Denoise ``v`` (``(B, C, H, W)``) at noise level ``sigma``: a scalar, ``(B,)``, or
        a per-pixel map ``(B or 1, 1, H, W)``."""
        if v.dim() != 4:
            raise ValueError(f"expected (B, C, H, W), got shape {tuple(v.shape)}")
        b, c, h, w = v.shape
        sig = torch.as_tensor(sigma, dtype=v.dtype, device=v.device)
        if sig.dim() == 4:
            if sig.shape[1] != 1 or sig.shape[-2:] != (h, w) or sig.shape[0] not in (1, b):
                raise ValueError(f"a noise map must be (B or 1, 1, {h}, {w}), got "
                                 f"{tuple(sig.shape)}")
            sig = sig.expand(b, 1, h, w)
        else:
            sig = sig.reshape(-1)
            if sig.numel() == 1:
                sig = sig.expand(b)
        gray = c == 1 and self.config.channels != 1
        if gray:
            v = v.expand(b, self.config.channels, h, w)
        elif c != self.config.channels:
            raise ValueError(f"expected 1 or {self.config.channels} channels, got {c}")
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
            v = F.pad(v, (0, pw, 0, ph), mode=mode)
            if sig.dim() == 4:
                sig = F.pad(sig, (0, pw, 0, ph), mode="replicate")
        out = self._core(v, sig)[..., :h, :w]
        return out.mean(dim=1, keepdim=True) if gray else out
