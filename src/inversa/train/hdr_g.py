"""Recipe: train the learned confidence of HDR bursts (``inversa train hdr-confidence``).

Data: a pool of bracketed raw bursts (:func:`inversa.burst.synth.synthesize_burst`) of
``crop x crop`` crops of the colour training photographs
:data:`inversa.data.images.TRAIN_COLOR` (never the test images) or a user folder: scale 1
or 2, 5 to 14 frames, the exposure patterns of ``inversa train hdr``, highlights at 2 to
4, 0 to 2 lights, and 0, 1 or 2 moving objects (a quarter static). Each is prepared as
at inference (blind noise estimate, exposure-aware alignment, object displacements, the
analytic ``g``), and every sample of frames 1..K-1 gets its features
(:func:`inversa.burst.confidence_net.confidence_features`) and its target, the true
confidence for the estimated motions (:func:`inversa.burst.truth.true_confidence`).

Loss: binary cross-entropy over the usable samples, one burst per step under a random
horizontal flip. Validation: the mean cross-entropy on bursts of
:data:`~inversa.data.images.VALIDATION` (kept out of training), reported as its negative
(higher is better), beside the analytic ``g``'s.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from inversa.burst.confidence_net import ConfidenceNet, analytic_evidence, save_confidence_net
from inversa.burst.hdr import HDRConfig
from inversa.burst.synth import SynthConfig, split_exposures, synthesize_burst
from inversa.burst.truth import true_confidence
from inversa.data.images import TRAIN_COLOR, VALIDATION, bundled
from inversa.train.hdr import PATTERNS, _images
from inversa.train.loop import TrainConfig, fit_to, training_record, write_card


@dataclass(frozen=True)
class ConfidenceTrainSpec:
    out: Path
    bursts: int = 240
    val_bursts: int = 12
    crop: int = 128
    train: TrainConfig = TrainConfig(steps=3000, lr=2e-3, lr_min=2e-5, validate_every=250,
                                     ckpt_every=250, log_every=50)
    width: int = 24
    folder: Path | None = None


def burst_sample(img: torch.Tensor, crop: int, g: torch.Generator,
                 ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Features (K-1, 12, h, w) and true confidence (K-1, h, w) of one random bracketed
    burst of ``img``, prepared as at inference; None when the image is too small."""
    def ri(n: int) -> int:
        return int(torch.randint(n, (1,), generator=g))

    hh, ww = img.shape[-2:]
    if min(hh, ww) < crop + 8:
        return None
    s = 1 + ri(2)
    top, left = ri(hh - crop + 1) // 8 * 8, ri(ww - crop + 1) // 8 * 8
    frames = 5 + ri(10)
    pattern = PATTERNS[ri(len(PATTERNS))]
    cfg = SynthConfig(scale=s, frames=frames, exposures=split_exposures(pattern, frames),
                      hdr_peak=2.0 + 2.0 * float(torch.rand((), generator=g)),
                      lights=ri(3), moving_objects=(0, 1, 2, 2)[ri(4)])
    sb = synthesize_burst(img, cfg, seed=ri(2 ** 31), box=(top, left, crop, crop))
    f, res, m_hr = analytic_evidence(sb.burst, HDRConfig(scale=s, method="merge"))
    f[:, 9] *= res.used.reshape(-1, 1, 1).to(f)  # frames left out teach nothing
    target = true_confidence(sb, m_hr, res.flow)
    return f[1:], target[1:].float()


def _pool(images: list[torch.Tensor], n: int, crop: int, seed: int, label: str) -> list:
    g = torch.Generator().manual_seed(seed)
    out: list = []
    t0 = time.time()
    while len(out) < n:
        sample = burst_sample(images[int(torch.randint(len(images), (1,), generator=g))],
                              crop, g)
        if sample is not None:
            out.append(sample)
            if len(out) % 20 == 0 or len(out) == n:
                print(f"{label}: {len(out)}/{n} bursts, {time.time() - t0:.0f} s",
                      file=sys.stderr, flush=True)
    return out


def _bce(logits: torch.Tensor, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m = f[:, 9:10] > 0
    return F.binary_cross_entropy_with_logits(logits[m], y[:, None][m])


def train_confidence(spec: ConfidenceTrainSpec, command: str = "") -> dict:
    """Train, write ``out.pt`` (float16 weights) and the model card ``out.json``."""
    torch.manual_seed(spec.train.seed)
    images = _images(spec.folder)
    t0 = time.time()
    pool = _pool(images, spec.bursts, spec.crop, spec.train.seed, "training bursts")
    val = _pool([bundled(VALIDATION)], spec.val_bursts, spec.crop, 777, "validation bursts")
    pool_seconds = time.time() - t0

    def batch_fn(gen: torch.Generator) -> tuple:
        f, y = pool[int(torch.randint(len(pool), (1,), generator=gen))]
        if float(torch.rand((), generator=gen)) < 0.5:
            f, y = f.flip(-1), y.flip(-1)
        return f, y

    def loss_fn(model: ConfidenceNet, batch: tuple) -> torch.Tensor:
        f, y = batch
        return _bce(model(f), f, y)

    def val_bce(model: ConfidenceNet) -> float:
        with torch.no_grad():
            return sum(float(_bce(model(f), f, y)) for f, y in val) / len(val)

    def validate(model: ConfidenceNet) -> float:
        return -val_bce(model)

    model = ConfidenceNet(spec.width)
    analytic = val_bce(model)  # the last layer starts at zero: the analytic g
    out = Path(spec.out)
    res, seconds = fit_to(out, model, batch_fn, loss_fn, spec.train, validate,
                          save_confidence_net)
    model.eval()
    card = {
        "name": out.stem,
        "task": "learned alignment confidence g of bracketed raw bursts (inversa hdr): "
                "per-sample correction of the analytic test",
        "architecture": {"class": "inversa.burst.confidence_net.ConfidenceNet",
                         "width": spec.width,
                         "parameters": sum(p.numel() for p in model.parameters())},
        "data": {"images": "user folder " + str(spec.folder) if spec.folder
                 else list(TRAIN_COLOR),
                 "source": "scikit-image bundled colour photographs (test images excluded), "
                           "bracketed synthetic bursts (inversa.burst.synth: scale 1-2, "
                           "5-14 frames, hdr_peak 2-4, 0-2 lights, 0-2 moving objects, "
                           f"exposure patterns {list(PATTERNS)})",
                 "bursts": spec.bursts, "crop": spec.crop,
                 "target": "inversa.burst.truth.true_confidence for the estimated motions",
                 "validation": f"{VALIDATION}, {spec.val_bursts} bursts"},
        "training": training_record(spec.train, res, command),
        "metrics": {"val_bce_analytic": round(analytic, 4),
                    "val_bce": round(val_bce(model), 4)},
        "pool_seconds": round(pool_seconds, 1),
        "wall_seconds": round(seconds + pool_seconds, 1),
    }
    write_card(out, card)
    return card


__all__ = ["ConfidenceTrainSpec", "burst_sample", "train_confidence"]
