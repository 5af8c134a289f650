"""Recipe: train the learned burst reconstruction (``inversa train burst``).

Data: synthetic raw bursts generated on the fly (:class:`inversa.burst.SyntheticBurstDataset`,
the DBSR protocol: unprocessed photographs, random handheld motion, Bayer mosaic, Brooks
et al. shot + read noise, 12-bit quantisation) from the colour training photographs
:data:`inversa.data.images.TRAIN_COLOR` (or the wider
:data:`~inversa.data.images.TRAIN_COLOR_WIDE`; never the test images) or a user folder. Every
sample draws its scale (from ``scales``) and its number of frames (``1..max_frames``,
K = 1 included); the motions come from the aligner run on the burst (as at inference),
the noise levels are the true ones times a log-normal error (the blind estimator's,
about 15 %). Loss: l1 in linear camera RGB, 8-pixel border excluded. Validation: PSNR on
fixed bursts of :data:`~inversa.data.images.VALIDATION` (kept out of training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from inversa.burst.align import align_burst
from inversa.burst.dataset import SyntheticBurstDataset
from inversa.burst.lkr import LKRConfig, LKRNet, save_lkr, trainable_lkr
from inversa.burst.synth import SynthConfig
from inversa.camera.noise import NoiseLevels
from inversa.data.images import TRAIN_COLOR, VALIDATION, bundled
from inversa.metrics import psnr
from inversa.nets.weights import load_denoiser
from inversa.train.loop import TrainConfig, fit_to, images_record, training_record, write_card

FRAME_CHOICES = (1, 2, 3, 4, 6, 8, 10, 14, 14, 14)  # 14 (the benchmark) weighted x3


@dataclass(frozen=True)
class BurstTrainSpec:
    out: Path
    net: LKRConfig = LKRConfig()
    train: TrainConfig = TrainConfig(steps=2000, lr=2e-4, lr_min=1e-6, validate_every=100,
                                     ckpt_every=25, log_every=10)
    crop: int = 128  # ground-truth side of a training sample
    batch: int = 4
    max_frames: int = 14
    noise_jitter: float = 0.15  # log-normal error on the noise levels given to the model
    folder: Path | None = None
    images: tuple[str, ...] = TRAIN_COLOR  # bundled sources when no folder is given
    init: str | None = None  # weights to fine-tune (name or .pt; None: a fresh model whose
    #                          prior starts from the shipped denoiser)


def prepare(item: dict, scale: int, frames: int, jitter: float, g: torch.Generator):
    """One training sample: raw (K, h, w), motions, jittered noise levels, ground truth."""
    raw = item["raw"][:frames]
    al = align_burst(raw)
    keep = al.ok.clone()
    keep[0] = True
    shot, read = (float(v) for v in item["noise"])
    f = math.exp(jitter * float(torch.randn((), generator=g)))
    return raw[keep], al.to_hr(scale)[keep], NoiseLevels(shot * f, read * f), item["gt"]


def l1_loss(x: torch.Tensor, gt: torch.Tensor, border: int = 8) -> torch.Tensor:
    b = border
    return (x[..., b:-b, b:-b] - gt[None, :, b:-b, b:-b]).abs().mean()


def train_burst(spec: BurstTrainSpec, command: str = "") -> dict:
    """Train, write ``out.pt`` (float16 weights) and the model card ``out.json``."""
    torch.manual_seed(spec.train.seed)
    images = str(spec.folder) if spec.folder else list(spec.images)
    base = SyntheticBurstDataset(images, crop=spec.crop, length=10**9, seed=spec.train.seed,
                                 config=SynthConfig(scale=spec.net.scales[0],
                                                    frames=spec.max_frames))
    sets = {s: base.with_config(scale=s) for s in spec.net.scales}
    choices = [min(f, spec.max_frames) for f in FRAME_CHOICES]

    def batch_fn(g: torch.Generator) -> list:
        out = []
        for _ in range(spec.batch):
            s = spec.net.scales[int(torch.randint(len(spec.net.scales), (1,), generator=g))]
            k = choices[int(torch.randint(len(choices), (1,), generator=g))]
            i = int(torch.randint(10**9, (1,), generator=g))
            out.append((s, prepare(sets[s][i], s, k, spec.noise_jitter, g)))
        return out

    def loss_fn(model: LKRNet, batch: list) -> torch.Tensor:
        loss = 0.0
        for s, (raw, m, lv, gt) in batch:
            loss = loss + l1_loss(model(raw, "RGGB", m, s, lv), gt)
        return loss / len(batch)

    val_src = bundled(VALIDATION)
    val = []
    for j, s in enumerate(spec.net.scales):
        vs = SyntheticBurstDataset([val_src], crop=spec.crop, length=4, seed=777 + j,
                                   config=SynthConfig(scale=s, frames=spec.max_frames))
        gv = torch.Generator().manual_seed(99)
        val += [(s, prepare(vs[i], s, spec.max_frames, 0.0, gv)) for i in range(2)]

    def validate(model: LKRNet) -> float:
        return sum(psnr(model(raw, "RGGB", m, s, lv)[..., 8:-8, 8:-8],
                        gt[None, :, 8:-8, 8:-8]) for s, (raw, m, lv, gt) in val) / len(val)

    out = Path(spec.out)
    if spec.init:
        model = trainable_lkr(spec.init, scales=spec.net.scales)
    else:
        model = LKRNet(spec.net)
        model.init_prior(load_denoiser())
        model.requires_grad_(True)
    res, seconds = fit_to(out, model, batch_fn, loss_fn, spec.train, validate, save_lkr)
    card = {
        "name": out.stem,
        "task": "raw burst (Bayer RGGB, any number of frames) -> demosaicked, denoised, "
                f"super-resolved linear camera RGB, scales {list(spec.net.scales)}",
        "architecture": {"class": "inversa.burst.lkr.LKRNet", **model.config.to_dict(),
                         "parameters": sum(p.numel() for p in model.parameters()),
                         **({"init": spec.init} if spec.init
                            else {"prior_init": "denoiser_unet (shipped)"})},
        "data": {"images": images_record(spec.folder, spec.images),
                 "source": "bundled photographs (inversa.data.images: scikit-image, "
                           "matplotlib's grace_hopper, 'tinted:' grey textures; test images "
                           "excluded), synthetic bursts (DBSR protocol, inversa.burst.synth)",
                 "crop": spec.crop, "batch": spec.batch, "frames": sorted(set(choices)),
                 "noise": "Brooks et al. sampler; levels given to the model with a "
                          f"log-normal error of {spec.noise_jitter}",
                 "validation": f"{VALIDATION}, {len(val)} bursts of 14 frames"},
        "training": training_record(spec.train, res, command),
        "metrics": {"val_psnr": round(res["best_val"], 2)},
        "wall_seconds": round(seconds, 1),
    }
    write_card(out, card)
    return card
