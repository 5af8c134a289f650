"""A PyTorch ``Dataset`` of synthetic raw bursts generated on the fly.

Item ``i`` is a random crop (flipped at random) of one of the source photographs, turned
into a burst by :func:`inversa.burst.synth.synthesize_burst`. Everything about item ``i``
is drawn from ``seed`` and ``i`` alone, so an epoch is reproducible whatever the number of
workers. Sources are the colour training images bundled with scikit-image
(:data:`inversa.data.images.TRAIN_COLOR`) or the images of a user folder; a photograph is
chosen with probability proportional to the square root of its area. The crop includes a
margin so that moving frames see real image content (mirroring only if a photo is smaller
than the crop plus margin).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.errors import InputError


def _as_rgb(x: torch.Tensor) -> torch.Tensor:
    x = x[0] if x.dim() == 4 else x
    return x.expand(3, *x.shape[-2:]) if x.shape[0] == 1 else x[:3]


class SyntheticBurstDataset(Dataset):
    """Synthetic bursts ``(K, crop/s, crop/s)`` with their ground truth ``(3, crop, crop)``.

    Parameters
    ----------
    images : names of bundled images, tensors ``(C, H, W)`` / ``(1, C, H, W)``, a folder, or
        None for :data:`~inversa.data.images.TRAIN_COLOR`.
    crop : ground-truth size (a multiple of ``2 * config.scale``).
    length : number of items of one epoch.

    Examples
    --------
    >>> ds = SyntheticBurstDataset([torch.rand(3, 80, 80)], crop=32,
    ...                            config=SynthConfig(scale=2, frames=3), length=4)
    >>> item = ds[0]
    >>> item["raw"].shape, item["gt"].shape
    (torch.Size([3, 16, 16]), torch.Size([3, 32, 32]))
    """

    def __init__(self, images: Sequence[str | torch.Tensor] | str | None = None,
                 crop: int = 384, config: SynthConfig = SynthConfig(), length: int = 10_000,
                 seed: int = 0):
        from pathlib import Path

        from inversa.data.images import TRAIN_COLOR, bundled, load_folder

        if images is None:
            images = TRAIN_COLOR
        if isinstance(images, str | Path) and Path(images).is_dir():
            srcs = load_folder(images)
        else:
            srcs = [bundled(i) if isinstance(i, str) else i for i in images]
        if not srcs:
            raise InputError("no source image for the burst dataset")
        _check_crop(crop, config)
        self.crop, self.config, self.length, self.seed = crop, config, length, seed
        margin = config.motion.margin(crop, crop)
        need = crop + 2 * margin
        self.images = []
        for x in srcs:
            x = _as_rgb(x).float().contiguous()
            ph, pw = max(0, need - x.shape[-2]), max(0, need - x.shape[-1])
            if ph or pw:  # mirror small photographs (repeatedly if needed)
                while ph or pw:
                    a, b = min(ph, x.shape[-2] - 1), min(pw, x.shape[-1] - 1)
                    x = F.pad(x[None], (b // 2, b - b // 2, a // 2, a - a // 2),
                              mode="reflect")[0]
                    ph, pw = max(0, need - x.shape[-2]), max(0, need - x.shape[-1])
            self.images.append(x)
        self.margin = margin
        w = torch.tensor([math.sqrt(x.shape[-1] * x.shape[-2]) for x in self.images])
        self.weights = w / w.sum()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < self.length:
            raise IndexError(i)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        src = self.images[int(torch.multinomial(self.weights, 1, generator=g))]
        need = self.crop + 2 * self.margin
        hh, ww = src.shape[-2:]
        top = int(torch.randint(0, hh - need + 1, (1,), generator=g))
        left = int(torch.randint(0, ww - need + 1, (1,), generator=g))
        x = src[:, top:top + need, left:left + need]
        flips = torch.rand(3, generator=g)
        if flips[0] < 0.5:
            x = x.flip(-1)
        if flips[1] < 0.5:
            x = x.flip(-2)
        if flips[2] < 0.5:
            x = x.transpose(-1, -2)
        m = self.margin
        sb = synthesize_burst(x, self.config, seed=g, box=(m, m, self.crop, self.crop))
        b = sb.burst
        return {"raw": b.raw, "gt": sb.gt,
                "noise": torch.tensor([b.noise.shot, b.noise.read] if b.noise else [0.0, 0.0],
                                      dtype=torch.float32),
                "motions": sb.motions.float(), "exposure": b.relative_exposure().float(),
                "wb": torch.tensor(b.wb, dtype=torch.float32),
                "ccm": torch.as_tensor(b.ccm).float()}

    def with_config(self, **changes) -> SyntheticBurstDataset:
        """A copy with some :class:`SynthConfig` fields changed (same sources)."""
        new = object.__new__(SyntheticBurstDataset)
        new.__dict__.update(self.__dict__)
        new.config = replace(self.config, **changes)
        _check_crop(new.crop, new.config)
        return new


def _check_crop(crop: int, config: SynthConfig) -> None:
    unit = 2 * config.scale
    if crop % unit:
        raise InputError(f"crop {crop} must be a multiple of {unit}", field="crop")
