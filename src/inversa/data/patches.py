"""Random noisy/clean patch pairs for training denoisers.

Each batch draws images with probability proportional to the square root of their area
(so that a few very large, mostly dark images such as ``retina`` or ``hubble_deep_field``
do not dominate), a random crop, a random flip/rot90, and a colour augmentation: a random
permutation of the channels of colour images, and a random colourisation
``x_c = g_c x^{gamma_c}`` (``g_c ~ U[0.5, 1]``, ``gamma_c ~ U[0.7, 1.4]``) of gray source
images used as colour patches. Then it adds white Gaussian noise ``v = x + sigma n`` with
``sigma ~ U[0, sigma_max]`` per patch. A fraction ``gray_fraction`` of the patches is gray:
one luminance channel replicated to all channels, with the *same* noise in every channel,
which is how a gray image is fed to a colour denoiser.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PatchConfig:
    size: int = 64
    batch: int = 16
    sigma_max: float = 55.0 / 255.0
    gray_fraction: float = 0.3


class NoisyPatchSampler:
    """Sample ``(noisy, clean, sigma)`` batches from a list of ``(1, C, H, W)`` images."""

    def __init__(self, images: list[torch.Tensor], config: PatchConfig = PatchConfig(),
                 channels: int = 3):
        s = config.size
        kept = [im for im in images if im.shape[-1] >= s and im.shape[-2] >= s]
        if not kept:
            raise ValueError(f"no image is at least {s}x{s}")
        self.gray_source = [im.shape[1] == 1 and channels > 1 for im in kept]
        self.images = [im[0] if im.shape[1] == channels else im[0].expand(channels, -1, -1)
                       for im in kept]
        area = torch.tensor([float(im.shape[-1] * im.shape[-2]) for im in self.images])
        self.weights = area.sqrt() / area.sqrt().sum()
        self.config = config
        self.channels = channels

    def sample(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cfg, s = self.config, self.config.size
        idx = torch.multinomial(self.weights, cfg.batch, replacement=True, generator=gen)
        out = []
        for i in idx.tolist():
            im = self.images[i]
            y = int(torch.randint(0, im.shape[-2] - s + 1, (1,), generator=gen))
            x = int(torch.randint(0, im.shape[-1] - s + 1, (1,), generator=gen))
            p = im[:, y:y + s, x:x + s]
            k = int(torch.randint(0, 8, (1,), generator=gen))
            p = torch.rot90(p, k % 4, dims=(1, 2))
            p = p.flip(2) if k >= 4 else p
            if self.channels == 3:
                if self.gray_source[i]:
                    gain = 0.5 + 0.5 * torch.rand(3, 1, 1, generator=gen)
                    gamma = 0.7 + 0.7 * torch.rand(3, 1, 1, generator=gen)
                    p = gain * p.clamp(min=0) ** gamma
                else:
                    p = p[torch.randperm(3, generator=gen)]
            out.append(p)
        clean = torch.stack(out)
        b, c = clean.shape[:2]
        gray = torch.rand(b, generator=gen) < cfg.gray_fraction
        lum = torch.tensor([0.2126, 0.7152, 0.0722])[:c].reshape(1, c, 1, 1) if c == 3 else None
        if lum is not None and gray.any():
            g = (clean[gray] * lum).sum(1, keepdim=True)
            clean[gray] = g.expand(-1, c, -1, -1)
        sigma = torch.rand(b, generator=gen) * cfg.sigma_max
        noise = torch.randn(clean.shape, generator=gen)
        noise[gray] = noise[gray][:, :1].expand(-1, c, -1, -1)
        noisy = clean + sigma.reshape(-1, 1, 1, 1) * noise
        return noisy, clean, sigma
