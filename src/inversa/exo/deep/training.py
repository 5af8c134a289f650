"""Training the deep detector: per observation (minutes, on the cube analysed) or generic
(many simulated cubes, shipped).

Loss: soft Dice over the batch plus a weighted binary cross-entropy,

    L = 1 - (2 sum p t + 1) / (sum p + sum t + 1) + BCE(logit, t; pos_weight),

(``p = sigmoid(logit)``, ``t`` the target discs, undefined pixels excluded): Dice copes
with the extreme imbalance (a few dozen positive pixels among ~10^4), the cross-entropy
keeps the logits ordered far from the sources, which the calibration needs. Batches are
random ``crop`` x ``crop`` windows of the samples (the separation is an input channel,
so a window keeps its place in the field), under one of the 8 flips / quarter turns of
the square (the features are per-pixel statistics of the derotated frame, so any such
map is a valid sample).

Samples are computed once and kept in ``workdir/samples.pt`` beside the training
checkpoint, so an interrupted run resumes without recomputing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from inversa.exo.deep.features import frame_terms
from inversa.exo.deep.model import DeepDetector
from inversa.exo.deep.samples import SampleConfig, efficiency, make_sample, sensitivity
from inversa.exo.paco import PacoConfig
from inversa.train.loop import TrainConfig, fit


@dataclass(frozen=True)
class DeepTrainSpec:
    """Per-observation or generic training settings."""

    samples: int = 40                       # injected samples per cube
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=400, lr=2e-3, lr_min=1e-5, ckpt_every=50, log_every=25, validate_every=10**9))
    batch: int = 8
    crop: int = 64                          # side of the training windows (0: whole maps)
    pos_weight: float = 10.0
    sample: SampleConfig = field(default_factory=SampleConfig)


def augment(x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One of the 8 symmetries of the square (``k`` in 0..7) on (..., H, W) maps."""
    if k >= 4:
        x, y = x.flip(-1), y.flip(-1)
    if x.shape[-1] == x.shape[-2]:
        x, y = torch.rot90(x, k % 4, (-2, -1)), torch.rot90(y, k % 4, (-2, -1))
    elif k % 2:
        x, y = x.flip(-2), y.flip(-2)
    return x, y


def detection_loss(logit: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                   pos_weight: float = 10.0) -> torch.Tensor:
    """Soft Dice + weighted BCE over the valid pixels."""
    p = torch.sigmoid(logit) * valid
    t = target * valid
    dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
    bce = F.binary_cross_entropy_with_logits(
        logit, target, pos_weight=torch.tensor(pos_weight), reduction="none")
    return dice + (bce * valid).sum() / valid.sum().clamp_min(1)


def build_samples(cubes: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], per_cube: int,
                  gen: torch.Generator, config: SampleConfig = SampleConfig(),
                  paco: PacoConfig = PacoConfig(),
                  progress: Callable[[int, int], None] | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, C, H, W) and targets (N, H, W) from ``per_cube`` injected samples of
    each ``(cube, angles, psf)``; the injection levels follow each cube's sensitivity
    (from its reversed-angle terms) and efficiency."""
    xs, ys = [], []
    total = len(cubes) * (per_cube + 1)
    done = 0
    for cube, angles, psf in cubes:
        null = frame_terms(cube, angles.flip(0), psf, paco)
        sens = sensitivity(null)
        sens = sens / efficiency(cube, angles, psf, sens, null, gen, paco)
        done += 1
        if progress:
            progress(done, total)
        for _ in range(per_cube):
            x, y, _ = make_sample(cube, angles, psf, sens, null, gen, config, paco)
            xs.append(x)
            ys.append(y)
            done += 1
            if progress:
                progress(done, total)
    return torch.stack(xs), torch.stack(ys)


def train_detector(model: DeepDetector, x: torch.Tensor, y: torch.Tensor, spec: DeepTrainSpec,
                   workdir: Path, show_progress: bool = True,
                   on_step: Callable[[int, int], None] | None = None) -> dict:
    """Train ``model`` in place on samples ``(x, y)``; checkpoint and log in ``workdir``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    h, w = x.shape[-2:]
    ch, cw = (min(spec.crop, h), min(spec.crop, w)) if spec.crop else (h, w)

    def batch_fn(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(x), (spec.batch,), generator=g)
        ks = torch.randint(8, (spec.batch,), generator=g)
        oy = torch.randint(h - ch + 1, (spec.batch,), generator=g).tolist()
        ox = torch.randint(w - cw + 1, (spec.batch,), generator=g).tolist()
        pairs = [augment(x[i, :, a:a + ch, b:b + cw], y[i, a:a + ch, b:b + cw], int(k))
                 for i, k, a, b in zip(idx.tolist(), ks.tolist(), oy, ox)]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    def loss_fn(m: torch.nn.Module, batch: tuple) -> torch.Tensor:
        xb, yb = batch
        return detection_loss(m.raw(xb), yb, xb[:, -1], spec.pos_weight)

    return fit(model, batch_fn, loss_fn, spec.train, workdir / "checkpoint.pt",
               workdir / "log.jsonl", show_progress=show_progress, on_step=on_step)


def features_key(paco: PacoConfig) -> str:
    """How the features were made, for :func:`cached_samples` (the trend removed and, when
    not PACO's linear shrinkage, the covariance estimate)."""
    key = f"detrend={paco.detrend}"
    return key if paco.covariance == "linear" else f"{key},covariance={paco.covariance}"


def cached_samples(workdir: Path, make: Callable[[], tuple[torch.Tensor, torch.Tensor]],
                   key: str = "detrend=0") -> tuple[torch.Tensor, torch.Tensor]:
    """``make()``'s samples, saved to (or reloaded from) ``workdir/samples.pt``; ``key``
    names how the features were made, and samples made another way are refused."""
    path = Path(workdir) / "samples.pt"
    if path.exists():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        held = blob.get("key", "detrend=0")
        if held != key:
            from inversa.errors import InputError

            raise InputError(f"holds samples made with {held}, this run needs {key}; use "
                             "another work folder", source=str(workdir))
        return blob["x"].float(), blob["y"].float()
    x, y = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("samples.pt.tmp")
    torch.save({"x": x.half(), "y": y.bool(), "key": key}, tmp)
    tmp.replace(path)
    return x, y
