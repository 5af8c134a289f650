"""Recipe: fine-tune the learned HDR reconstruction (``inversa train hdr``).

Data: bracketed raw bursts generated on the fly (:func:`inversa.burst.synth.synthesize_burst`
with ``hdr_peak``, light sources and moving objects) from the colour training photographs
:data:`inversa.data.images.TRAIN_COLOR` (never the test images) or a user folder. Every
sample draws its scale (from ``scales``), its number of frames (3 to ``max_frames``, 14 by
default), its exposure pattern (1, 4, 1/4 or 1, 1/4, 4 or 1, 2, 1/2, 4, 1/4, repeated:
ratios up to 16), its highlight radiance (2 to 4), 0 to 2 light sources and 0 to 2
moving objects (half of the bursts are static), with Brooks et al. noise. The inputs are
prepared exactly as at inference (:func:`inversa.burst.hdr.prepare_hdr`: exposure-aware
alignment, saturation masks, confidence ``g``, ``merge`` start), with the true noise
levels times a log-normal error of 15 % (the blind estimator's).

Model: :class:`inversa.burst.lkr.LKRNet` started from the shipped ``burst_lkr`` (or a
given ``.pt``), its prior step moved to the companded domain (``tone``, mu = 200:
:mod:`inversa.burst.companding`). Loss: l1 between the mu-law tone maps (mu = 5000) of
the estimate and the ground truth, both normalised by the largest radiance the burst can
record (``1 / min_k e_k``), 8-pixel border excluded: the metric of the benchmark, which
weighs shadows and highlights alike. Validation: mu-law PSNR on fixed bursts of
:data:`~inversa.data.images.VALIDATION` (kept out of training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from inversa.burst.hdr import HDRConfig, finish, learned_solve, mu_law, mu_psnr, prepare_hdr
from inversa.burst.lkr import LKRNet, save_lkr, trainable_lkr
from inversa.burst.synth import SynthConfig, split_exposures, synthesize_burst
from inversa.camera.noise import NoiseLevels
from inversa.data.images import TRAIN_COLOR, VALIDATION, bundled
from inversa.train.loop import TrainConfig, fit_to, images_record, training_record, write_card

PATTERNS = ("1,4,1/4...", "1,1/4,4...", "1,2,1/2,4,1/4...")
NOISE_JITTER = 0.15  # log-normal error on the noise levels (the blind estimator's)


@dataclass(frozen=True)
class HDRTrainSpec:
    out: Path
    init: str = "burst_lkr"  # weights to start from (name or .pt)
    scales: tuple[int, ...] = (1, 2)
    train: TrainConfig = TrainConfig(steps=400, lr=5e-5, lr_min=5e-7, validate_every=50,
                                     ckpt_every=10, log_every=5)
    crop: int = 64  # ground-truth side of a training sample
    batch: int = 2
    folder: Path | None = None
    tone: float | None = 200.0  # companding of the prior step (None: the init's; 0: linear)
    max_frames: int = 14  # frames per burst: 3 to this (stages 1-3 of hdr_lkr: 9)


def _images(folder: Path | None) -> list[torch.Tensor]:
    if folder is None:
        return [bundled(n) for n in TRAIN_COLOR]
    from inversa.data.images import load_folder

    return load_folder(folder)


def make_sample(images: list[torch.Tensor], scale: int, crop: int, g: torch.Generator,
                max_frames: int):
    """One bracketed burst (3 to ``max_frames`` frames), prepared as at inference, and
    its ground truth."""
    def ri(n: int) -> int:
        return int(torch.randint(n, (1,), generator=g))

    img = images[ri(len(images))]
    hh, ww = img.shape[-2:]
    unit = 2 * scale
    top, left = ri(hh - crop + 1) // unit * unit, ri(ww - crop + 1) // unit * unit
    frames = 3 + ri(max_frames - 2)
    pattern = PATTERNS[ri(len(PATTERNS))]
    cfg = SynthConfig(scale=scale, frames=frames, exposures=split_exposures(pattern, frames),
                      hdr_peak=2.0 + 2.0 * float(torch.rand((), generator=g)),
                      lights=ri(3), moving_objects=ri(2) * (1 + ri(2)))
    sb = synthesize_burst(img, cfg, seed=ri(2 ** 31), box=(top, left, crop, crop))
    lv = sb.burst.noise
    f = math.exp(NOISE_JITTER * float(torch.randn((), generator=g)))
    inp = prepare_hdr(sb.burst, HDRConfig(scale=scale, method="learned"),
                      noise=NoiseLevels(lv.shot * f, lv.read * f))
    return inp, sb.gt


def mu_l1(x: torch.Tensor, gt: torch.Tensor, peak: float, border: int = 8) -> torch.Tensor:
    b = border
    return (mu_law(x[0], peak) - mu_law(gt, peak))[:, b:-b, b:-b].abs().mean()


def train_hdr(spec: HDRTrainSpec, command: str = "") -> dict:
    """Fine-tune, write ``out.pt`` (float16 weights) and the model card ``out.json``."""
    torch.manual_seed(spec.train.seed)
    images = _images(spec.folder)

    def batch_fn(gen: torch.Generator) -> list:
        out = []
        for _ in range(spec.batch):
            s = spec.scales[int(torch.randint(len(spec.scales), (1,), generator=gen))]
            out.append(make_sample(images, s, spec.crop, gen, spec.max_frames))
        return out

    def loss_fn(model: LKRNet, batch: list) -> torch.Tensor:
        loss = 0.0
        for inp, gt in batch:
            peak = float(1 / inp.gain.min())
            loss = loss + mu_l1(finish(learned_solve(model, inp), inp), gt, peak)
        return loss / len(batch)

    gv = torch.Generator().manual_seed(777)
    val_src = [bundled(VALIDATION)]
    val = [make_sample(val_src, spec.scales[j % len(spec.scales)], spec.crop, gv,
                       spec.max_frames) for j in range(4)]

    def validate(model: LKRNet) -> float:
        with torch.no_grad():
            return sum(mu_psnr(finish(learned_solve(model, inp), inp), gt,
                               float(1 / inp.gain.min()), border=8)
                       for inp, gt in val) / len(val)

    out = Path(spec.out)
    model = trainable_lkr(spec.init, scales=tuple(sorted(set(spec.scales))),
                          **({} if spec.tone is None else {"tone": spec.tone}))
    cfg = model.config
    with torch.no_grad():
        val_start = validate(model)
    res, seconds = fit_to(out, model, batch_fn, loss_fn, spec.train, validate, save_lkr)
    card = {
        "name": out.stem,
        "task": "exposure-bracketed raw burst (Bayer RGGB, exposure times) -> HDR radiance "
                "of the reference frame's scene, linear camera RGB in units of the "
                f"reference exposure, scales {list(cfg.scales)} (inversa hdr --method "
                "learned)",
        "architecture": {"class": "inversa.burst.lkr.LKRNet", **cfg.to_dict(),
                         "parameters": sum(p.numel() for p in model.parameters()),
                         "init": spec.init,
                         "data_term": "exposure-normalised frames, weights "
                                      "e_k^2/v * saturation mask * confidence g"},
        "data": {"images": images_record(spec.folder, TRAIN_COLOR),
                 "source": "scikit-image bundled colour photographs (test images excluded), "
                           "bracketed synthetic bursts (inversa.burst.synth: hdr_peak 2-4, "
                           "0-2 lights, 0-2 moving objects, exposure patterns "
                           f"{list(PATTERNS)}, 3-{spec.max_frames} frames)",
                 "crop": spec.crop, "batch": spec.batch,
                 "validation": f"{VALIDATION}, {len(val)} bursts"},
        "training": training_record(spec.train, res, command),
        "metrics": {"val_mu_psnr_start": round(val_start, 2),
                    "val_mu_psnr": round(res["best_val"], 2)},
        "wall_seconds": round(seconds, 1),
    }
    write_card(out, card)
    return card


__all__ = ["HDRTrainSpec", "make_sample", "mu_l1", "train_hdr"]
