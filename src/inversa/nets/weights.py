"""Loading shipped weights by name from ``inversa/weights/`` (never from the network).

Each ``NAME.pt`` holds ``{"config": dict, "state_dict": ...}`` (float16 tensors to keep the
file small) and sits beside a model card ``NAME.json`` (data, command, metrics).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from inversa.errors import InputError
from inversa.nets.denoiser import DenoiserConfig, UNetDenoiser

DEFAULT_DENOISER = "denoiser_unet"


def weights_path(name: str) -> Path:
    """Path of the shipped weight file ``name`` (without extension)."""
    return Path(str(resources.files("inversa") / "weights" / f"{name}.pt"))


def save_weights(model: torch.nn.Module, config: dict, path: Path, half: bool = True) -> None:
    """Save ``model`` (optionally as float16) with its architecture ``config``, atomically."""
    sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in
          model.state_dict().items()}
    tmp = Path(str(path) + ".tmp")
    torch.save({"config": config, "state_dict": sd}, tmp)
    tmp.replace(path)


def load_denoiser(name_or_path: str | Path = DEFAULT_DENOISER,
                  device: str | torch.device = "cpu") -> UNetDenoiser:
    """Load a :class:`UNetDenoiser` from shipped weights (by name) or from a file path,
    ready for inference (eval mode, no parameter gradients; ``requires_grad_(True)`` to
    fine-tune)."""
    p = Path(name_or_path)
    path = p if p.suffix == ".pt" else weights_path(str(name_or_path))
    if not path.exists():
        raise InputError("weights not found; train them with `inversa train denoiser`",
                         source=str(path))
    blob = torch.load(path, map_location="cpu", weights_only=True)
    net = UNetDenoiser(DenoiserConfig(**blob["config"]))
    net.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return net.eval().requires_grad_(False).to(device)
