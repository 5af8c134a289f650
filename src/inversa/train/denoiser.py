"""Recipe: train the shipped noise-conditioned denoiser (``inversa train denoiser``).

Data: patches of the scikit-image images in :data:`inversa.data.images.TRAIN_IMAGES`
(never the test images), or of a user folder; validation on a fixed noisy crop of
``VAL_IMAGE`` (kept out of training) at sigma 25/255; loss: mean squared error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from inversa.data.images import TRAIN_IMAGES, bundled, load_folder
from inversa.data.patches import NoisyPatchSampler, PatchConfig
from inversa.metrics import psnr
from inversa.nets.denoiser import DenoiserConfig, UNetDenoiser
from inversa.nets.weights import save_weights
from inversa.train.loop import TrainConfig, fit_to, images_record, training_record, write_card

VAL_IMAGE = "rocket"


@dataclass(frozen=True)
class DenoiserTrainSpec:
    out: Path
    net: DenoiserConfig = DenoiserConfig()
    patches: PatchConfig = PatchConfig()
    train: TrainConfig = TrainConfig()
    folder: Path | None = None


def train_denoiser(spec: DenoiserTrainSpec, command: str = "") -> dict:
    """Train, write ``out.pt`` (float16 weights) and the model card ``out.json``."""
    torch.manual_seed(spec.train.seed)
    names = [n for n in TRAIN_IMAGES if n != VAL_IMAGE]
    images = load_folder(spec.folder) if spec.folder else [bundled(n) for n in names]
    sampler = NoisyPatchSampler(images, spec.patches, channels=spec.net.channels)
    val_clean = bundled(VAL_IMAGE)[..., 100:356, 200:456]
    g = torch.Generator().manual_seed(1234)
    val_sigma = 25.0 / 255.0
    val_noisy = val_clean + val_sigma * torch.randn(val_clean.shape, generator=g)

    def loss_fn(model: torch.nn.Module, batch: tuple) -> torch.Tensor:
        noisy, clean, sigma = batch
        return torch.mean((model(noisy, sigma) - clean) ** 2)

    def validate(model: torch.nn.Module) -> float:
        return psnr(model(val_noisy, val_sigma), val_clean)

    out = Path(spec.out)
    model = UNetDenoiser(spec.net)
    res, seconds = fit_to(out, model, sampler.sample, loss_fn, spec.train, validate,
                          lambda m, p: save_weights(m, spec.net.to_dict(), p))
    card = {
        "name": out.stem,
        "task": "Gaussian denoising, noise level sigma in [0, 55/255] given as input; "
                "colour (3 channels) and gray (replicated channel)",
        "architecture": {"class": "inversa.nets.UNetDenoiser", **spec.net.to_dict(),
                         "parameters": sum(p.numel() for p in model.parameters())},
        "data": {"images": images_record(spec.folder, names),
                 "source": "scikit-image bundled images (test images excluded)",
                 "patches": asdict(spec.patches), "validation": f"{VAL_IMAGE} crop, sigma 25"},
        "training": training_record(spec.train, res, command),
        "metrics": {"val_psnr_sigma25": round(res["best_val"], 2)},
        "wall_seconds": round(seconds, 1),
    }
    write_card(out, card)
    return card
