"""The deep detector: a U-Net from the per-pixel features to a detection logit map.

Saved as ``{"config": {...}, "state_dict": ...}`` (float16, a few hundred kB) with the
U-Net's architecture, the feature version and the number of spectral channels of the
cubes it was trained on; loading checks all three against the input and never touches
the network.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from inversa.errors import InputError
from inversa.exo.deep.features import CHANNELS, FEATURE_VERSION
from inversa.exo.paco import PacoConfig
from inversa.nets.unet import UNet, UNetConfig
from inversa.nets.weights import save_weights, weights_path

DEFAULT_MODEL = "exo_deep"


class DeepDetector(nn.Module):
    """Features (B, CHANNELS, H, W) -> detection logits (B, H, W); ``channels`` is the
    number of spectral channels of the cubes it is meant for (1: plain ADI).

    ``logit = alpha S + beta + U(x)``: PACO's standardised S/N (input channel 0) plus a
    U-Net correction whose last layer starts at zero, so an untrained detector ranks
    pixels exactly as PACO does, and training learns what PACO's model misses.

    ``detrend`` and ``covariance``: how the PACO statistics its features come from are
    estimated (``PacoConfig.detrend``, the degree of the pixels' trend in time removed, 0:
    none; ``PacoConfig.covariance``). They travel with the weights, so the features are
    computed the same way at detection.

    ``bound``: when positive, the correction is ``bound tanh(U(x) / bound)``, so the
    network can reorder pixels near PACO's threshold but cannot call a PACO S/N of 2 a
    certain source (0: unbounded, as the shipped model)."""

    def __init__(self, unet: UNetConfig = UNetConfig(in_channels=CHANNELS), channels: int = 1,
                 detrend: int = 0, covariance: str = "linear", bound: float = 0.0):
        super().__init__()
        if unet.in_channels != CHANNELS or unet.out_channels != 1:
            raise ValueError(f"the detector takes {CHANNELS} channels and gives 1")
        self.unet_config = unet
        self.channels = channels
        self.detrend = detrend
        self.covariance = PacoConfig(covariance=covariance).covariance  # refuses unknown ones
        if not bound >= 0:
            raise ValueError("bound must be >= 0")
        self.bound = float(bound)
        self.net = UNet(unet)
        nn.init.zeros_(self.net.tail.weight)
        nn.init.zeros_(self.net.tail.bias)
        self.alpha = nn.Parameter(torch.tensor(1.5))
        self.beta = nn.Parameter(torch.tensor(-6.0))

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, H, W) everywhere (training)."""
        u = self.net(x)[:, 0]
        if self.bound > 0:
            u = self.bound * torch.tanh(u / self.bound)
        return self.alpha * x[:, 0] + self.beta + u

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        valid = x[:, -1]
        logit = self.raw(x)
        return torch.where(valid > 0, logit, torch.full_like(logit, -20.0))

    def meta(self) -> dict:
        return {"unet": self.unet_config.to_dict(), "feature_version": FEATURE_VERSION,
                "channels": self.channels, "kind": "exo_deep", "detrend": self.detrend,
                "covariance": self.covariance, "bound": self.bound}


def model_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    return p if p.suffix == ".pt" else weights_path(str(name_or_path))


def save_detector(model: DeepDetector, path: str | Path) -> None:
    save_weights(model, model.meta(), Path(path))


def load_detector(name_or_path: str | Path = DEFAULT_MODEL, channels: int | None = None
                  ) -> DeepDetector:
    """Load a shipped (by name) or saved (by path) detector for cubes with ``channels``
    spectral channels; one-line :class:`InputError` on a missing, corrupted or
    mismatched file."""
    path = model_path(name_or_path)
    if not path.exists():
        raise InputError("no such model; train one with `inversa exo train`", source=str(path))
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta = blob["config"]
        if meta.get("kind") != "exo_deep":
            raise KeyError("kind")
        model = DeepDetector(UNetConfig(**meta["unet"]), int(meta["channels"]),
                             int(meta.get("detrend", 0)), str(meta.get("covariance", "linear")),
                             float(meta.get("bound", 0.0)))
        model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    except Exception as e:
        raise InputError(f"not a valid deep-detector weights file ({type(e).__name__})",
                         source=str(path)) from None
    if meta["feature_version"] != FEATURE_VERSION:
        raise InputError(f"model made for feature version {meta['feature_version']}, this "
                         f"inversa computes version {FEATURE_VERSION}; retrain it",
                         source=str(path))
    if channels is not None and channels != model.channels:
        def kind(n: int) -> str:
            return f"spectral cubes with {n} channels" if n > 1 else "plain ADI cubes"

        raise InputError(f"model trained on {kind(model.channels)}, the input is "
                         f"{kind(channels)}; use per-observation training (no --model) or "
                         f"`inversa exo train` on matching data", source=str(path))
    return model.eval().requires_grad_(False)


def has_detector(name_or_path: str | Path = DEFAULT_MODEL) -> bool:
    return model_path(name_or_path).exists()
