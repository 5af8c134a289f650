"""Sensor noise: the heteroscedastic Gaussian model of shot + read noise.

Photon arrival is Poisson and the read-out adds Gaussian noise; for the signal levels of a
camera the sum is well approximated by a Gaussian whose variance is affine in the signal:

.. math::  y = x + \\sqrt{\\lambda_{shot} x + \\lambda_{read}} \\; n, \\qquad n \\sim N(0, 1)

with ``x`` the clean raw value normalised to [0, 1]. ``lambda_shot`` grows linearly with
the analogue gain (ISO), ``lambda_read`` roughly quadratically. Brooks et al. (2019,
"Unprocessing images for learned raw denoising") fitted real sensors and sample

.. math::  \\log \\lambda_{shot} \\sim U(\\log 10^{-4}, \\log 1.2 \\cdot 10^{-2}), \\quad
           \\log \\lambda_{read} \\sim N(2.18 \\log \\lambda_{shot} + 1.20, 0.26^2)

which :func:`random_noise_levels` reproduces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from inversa.errors import InputError

SHOT_RANGE = (1e-4, 1.2e-2)


@dataclass(frozen=True)
class NoiseLevels:
    """Variance model ``var(x) = shot * x + read`` (both in normalised raw units)."""

    shot: float
    read: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.shot) and math.isfinite(self.read)) \
                or self.shot < 0 or self.read < 0:
            raise InputError(f"noise levels must be finite and >= 0, got shot={self.shot}, "
                             f"read={self.read}", field="noise")

    def variance(self, x: torch.Tensor) -> torch.Tensor:
        """``shot * max(x, 0) + read``."""
        return self.shot * x.clamp(min=0) + self.read

    def std(self, x: torch.Tensor) -> torch.Tensor:
        return self.variance(x).sqrt()

    @classmethod
    def parse(cls, text: str) -> NoiseLevels:
        """From ``"SHOT,READ"``.

        >>> NoiseLevels.parse("1e-3,2e-6")
        NoiseLevels(shot=0.001, read=2e-06)
        """
        try:
            shot, read = (float(v) for v in text.split(","))
        except ValueError:
            raise InputError(f"expected SHOT,READ (two numbers), got {text!r}",
                             field="noise") from None
        return cls(shot, read)


def random_noise_levels(generator: torch.Generator | None = None) -> NoiseLevels:
    """Draw ``(shot, read)`` with the sampler of Brooks et al. 2019 (see module docstring).

    >>> lv = random_noise_levels(torch.Generator().manual_seed(0))
    >>> 1e-4 <= lv.shot <= 1.2e-2
    True
    """
    lo, hi = math.log(SHOT_RANGE[0]), math.log(SHOT_RANGE[1])
    u = float(torch.rand((), generator=generator, dtype=torch.float64))
    log_shot = lo + (hi - lo) * u
    log_read = 2.18 * log_shot + 1.20 + 0.26 * float(
        torch.randn((), generator=generator, dtype=torch.float64))
    return NoiseLevels(math.exp(log_shot), math.exp(log_read))


def add_noise(x: torch.Tensor, levels: NoiseLevels,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """``x + sqrt(shot * x + read) * n`` with ``n`` standard normal (no clipping)."""
    n = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + levels.std(x) * n
