"""A small U-Net for dense prediction (segmentation, score maps).

``levels`` resolutions; at each, two 3x3 convolutions with ReLU (and group norm); strided
2x2 convolutions down, transposed ones up, skip connections by concatenation. The input
size need not be a multiple of ``2^(levels-1)``: it is padded (replicate) and cropped back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of :class:`UNet`."""

    in_channels: int = 8
    out_channels: int = 1
    width: int = 32
    levels: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


def _block(cin: int, cout: int) -> nn.Sequential:
    groups = 8 if cout % 8 == 0 else 1
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(groups, cout),
                         nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1),
                         nn.GroupNorm(groups, cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    >>> net = UNet(UNetConfig(in_channels=3, out_channels=1, width=8, levels=3))
    >>> net(torch.zeros(2, 3, 30, 37)).shape
    torch.Size([2, 1, 30, 37])
    """

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = config
        w, n = config.width, config.levels
        widths = [w * 2 ** i for i in range(n)]
        self.enc = nn.ModuleList([_block(config.in_channels, widths[0])] +
                                 [_block(widths[i], widths[i]) for i in range(1, n)])
        self.down = nn.ModuleList([nn.Conv2d(widths[i], widths[i + 1], 2, stride=2)
                                   for i in range(n - 1)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in range(n - 1)])
        self.dec = nn.ModuleList([_block(2 * widths[i], widths[i]) for i in range(n - 1)])
        self.tail = nn.Conv2d(widths[0], config.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2 ** (self.config.levels - 1)
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for i, enc in enumerate(self.enc):
            x = enc(x)
            if i < len(self.down):
                skips.append(x)
                x = self.down[i](x)
        for i in reversed(range(len(self.up))):
            x = self.dec[i](torch.cat([self.up[i](x), skips[i]], dim=1))
        return self.tail(x)[..., :h, :w]
