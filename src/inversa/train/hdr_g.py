"""Recipe: train the learned confidence of HDR bursts (``inversa train hdr-confidence``).

Data: a pool of bracketed raw bursts (:func:`inversa.burst.synth.synthesize_burst`) of
``crop x crop`` crops of the colour training photographs
:data:`inversa.data.images.TRAIN_COLOR` (never the test images) or a user folder: scale 1
or 2, 5 to 14 frames, the exposure patterns of ``inversa train hdr``, highlights at 2 to
4, 0 to 2 lights, and 0, 1 or 2 moving objects (a quarter static). Each is prepared as
at inference (blind noise estimate, exposure-aware alignment, object displacements, the
analytic ``g``), and every sample of frames 1..K-1 gets its features
(:func:`inversa.burst.confidence_net.confidence_features`) and its target for the
estimated motions: ``target = "geometric"`` (the default, the shipped ``hdr_g``) the
samples whose reference point is within half a pixel of the truth
(:func:`inversa.burst.truth.true_confidence`), ``"photometric"`` the samples whose model
error is below their noise (:func:`inversa.burst.truth.photometric_confidence`). The
photometric target looked the better question (it does not ask the network to reject
misplaced samples that show the right value, which no evidence in the data can tell from
good ones), but the network trained on it lost 0.4 dB (x2) and 1.0 dB (x1) in the moving
regions of the training bursts against the geometric one
(``benchmarks/hdr_g_target.py``, output committed).

Loss: binary cross-entropy over the usable samples, one burst per step under a random
horizontal flip. Validation: the mean cross-entropy on bursts of
:data:`~inversa.data.images.VALIDATION` (kept out of training), reported as its negative
(higher is better), beside the analytic ``g``'s.

``loss = "merge"`` trains ``g`` for what it is for instead: each step merges the burst
with the network's ``g`` (:func:`inversa.burst.merge.merge`, as ``prepare_hdr`` starts
the reconstruction; differentiable in the sample weights) and takes the l1 distance
between the mu-law tone maps (mu = 5000) of the merge and the true radiance, validated
the same way; best started from trained weights (``init``). Measured: it lowers the
merge's error but not ``map``'s (``benchmarks/hdr_g_target.py``), so ``hdr_g`` is trained
with the cross-entropy.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from inversa.burst.confidence_net import (
    USABLE,
    ConfidenceNet,
    analytic_evidence,
    load_confidence_net,
    save_confidence_net,
)
from inversa.burst.hdr import HDRConfig
from inversa.burst.local_motion import LocalMotionConfig
from inversa.burst.merge import merge
from inversa.burst.synth import SynthConfig, split_exposures, synthesize_burst
from inversa.burst.truth import photometric_confidence, true_confidence
from inversa.data.images import TRAIN_COLOR, VALIDATION, bundled
from inversa.train.hdr import PATTERNS, _images, mu_l1
from inversa.train.loop import TrainConfig, fit_to, images_record, training_record, write_card


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
    target: str = "geometric"  # or "photometric" (module docstring)
    loss: str = "bce"  # or "merge" (module docstring)
    init: Path | None = None  # start from these weights (a .pt) instead of the analytic g
    # LocalMotionConfig switches of the object displacements the samples are judged with
    # (as inference must then run them: HDRConfig.object_motion)
    object_motion: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = sorted(set(self.object_motion) - set(MOTION_SWITCHES))
        if bad:
            raise ValueError(f"object_motion switches must be among {list(MOTION_SWITCHES)}, "
                             f"got {bad}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {sorted(TARGETS)}, got {self.target!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be 'bce' or 'merge', got {self.loss!r}")


@dataclass(frozen=True)
class MergeInputs:
    """What the merge needs to rebuild a training burst's radiance for a given ``g``."""

    y_n: torch.Tensor  # (K, h, w) frames divided by their exposures
    rel: torch.Tensor  # (K,) exposures relative to the reference
    m_hr: torch.Tensor  # (K, 3, 3) estimated motions, high-resolution pixels
    flow: torch.Tensor | None  # (K, 2, sH, sW) estimated object displacements
    usable: torch.Tensor  # (K, h, w) bool: unclipped, inside the field, frame used
    cfa: str
    scale: int
    gt: torch.Tensor  # (3, sH, sW) true radiance

    def radiance(self, g: torch.Tensor) -> torch.Tensor:
        """``merge`` of the burst with confidence ``g`` (K-1, h, w) for frames 1..K-1
        (frame 0 fully trusted): (1, 3, sH, sW), differentiable in ``g``."""
        full = torch.cat([torch.ones_like(g[:1]), g]) * self.usable.to(g)
        return merge(self.y_n, self.cfa, self.m_hr, self.scale, noise=None, robust=False,
                     frame_weights=self.rel, sample_weights=full, saturated=~self.usable,
                     flow=self.flow)

    def loss(self, g: torch.Tensor) -> torch.Tensor:
        """l1 between the mu-law tone maps of the merge and the truth."""
        return mu_l1(self.radiance(g), self.gt, float(1 / self.rel.min()))


TARGETS = {"photometric": photometric_confidence, "geometric": true_confidence}
LOSSES = ("bce", "merge")
MOTION_SWITCHES = ("relaxed", "trajectories")  # LocalMotionConfig's optional switches


def burst_sample(img: torch.Tensor, crop: int, g: torch.Generator, target: str = "geometric",
                 object_motion: tuple[str, ...] = (),
                 ) -> tuple[torch.Tensor, torch.Tensor, MergeInputs] | None:
    """Features (K-1, 12, h, w), true confidence (K-1, h, w) and merge inputs of one random
    bracketed burst of ``img``, prepared as at inference (object displacements with the
    :class:`~inversa.burst.local_motion.LocalMotionConfig` switches ``object_motion``
    turned on); None when the image is too small."""
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
    lm = LocalMotionConfig(**{v: True for v in object_motion})
    f, res, m_hr = analytic_evidence(sb.burst, HDRConfig(scale=s, method="merge",
                                                         object_motion=lm))
    f[:, USABLE] *= res.used.reshape(-1, 1, 1).to(f)  # frames left out teach nothing
    truth = TARGETS[target](sb, m_hr, res.flow)
    usable = f[:, USABLE] > 0  # the features' own mask, with the frames left out
    mi = MergeInputs(sb.burst.raw.float() / res.exposures.reshape(-1, 1, 1).float(),
                     res.exposures.float(), m_hr, res.flow, usable, sb.burst.cfa, s, sb.gt)
    return f[1:], truth[1:].float(), mi


def _pool(images: list[torch.Tensor], n: int, crop: int, seed: int, label: str,
          target: str, object_motion: tuple[str, ...] = ()) -> list:
    g = torch.Generator().manual_seed(seed)
    out: list = []
    t0 = time.time()
    while len(out) < n:
        sample = burst_sample(images[int(torch.randint(len(images), (1,), generator=g))],
                              crop, g, target, object_motion)
        if sample is not None:
            out.append(sample)
            if len(out) % 20 == 0 or len(out) == n:
                print(f"{label}: {len(out)}/{n} bursts, {time.time() - t0:.0f} s",
                      file=sys.stderr, flush=True)
    return out


def _bce(logits: torch.Tensor, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m = f[:, USABLE:USABLE + 1] > 0
    return F.binary_cross_entropy_with_logits(logits[m], y[:, None][m])


def train_confidence(spec: ConfidenceTrainSpec, command: str = "") -> dict:
    """Train, write ``out.pt`` (float16 weights) and the model card ``out.json``."""
    torch.manual_seed(spec.train.seed)
    images = _images(spec.folder)
    t0 = time.time()
    pool = _pool(images, spec.bursts, spec.crop, spec.train.seed, "training bursts",
                 spec.target, spec.object_motion)
    val = _pool([bundled(VALIDATION)], spec.val_bursts, spec.crop, 777, "validation bursts",
                spec.target, spec.object_motion)
    pool_seconds = time.time() - t0

    def batch_fn(gen: torch.Generator) -> tuple:
        f, y, mi = pool[int(torch.randint(len(pool), (1,), generator=gen))]
        if spec.loss == "bce" and float(torch.rand((), generator=gen)) < 0.5:
            f, y = f.flip(-1), y.flip(-1)
        return f, y, mi

    def loss_fn(model: ConfidenceNet, batch: tuple) -> torch.Tensor:
        f, y, mi = batch
        return _bce(model(f), f, y) if spec.loss == "bce" else mi.loss(model.confidence(f))

    def val_bce(model: ConfidenceNet) -> float:
        with torch.no_grad():
            return sum(float(_bce(model(f), f, y)) for f, y, _ in val) / len(val)

    def val_merge(model: ConfidenceNet) -> float:
        with torch.no_grad():
            return sum(float(mi.loss(model.confidence(f))) for f, _, mi in val) / len(val)

    def validate(model: ConfidenceNet) -> float:
        return -(val_bce if spec.loss == "bce" else val_merge)(model)

    model = ConfidenceNet(spec.width)  # the last layer starts at zero: the analytic g
    start = {"val_bce_analytic": round(val_bce(model), 4),
             "val_merge_l1_analytic": round(val_merge(model), 5)}
    if spec.init is not None:
        model.load_state_dict({k: v.float() for k, v in
                               load_confidence_net(spec.init).state_dict().items()})
        start |= {"val_bce_init": round(val_bce(model), 4),
                  "val_merge_l1_init": round(val_merge(model), 5)}
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
        "data": {"images": images_record(spec.folder, TRAIN_COLOR),
                 "source": "scikit-image bundled colour photographs (test images excluded), "
                           "bracketed synthetic bursts (inversa.burst.synth: scale 1-2, "
                           "5-14 frames, hdr_peak 2-4, 0-2 lights, 0-2 moving objects, "
                           f"exposure patterns {list(PATTERNS)})",
                 "bursts": spec.bursts, "crop": spec.crop,
                 "target": f"inversa.burst.truth.{TARGETS[spec.target].__name__} for the "
                           "estimated motions" if spec.loss == "bce" else
                           "the true radiance, through the merge of the burst with g",
                 "loss": "binary cross-entropy" if spec.loss == "bce" else
                         "l1 of the mu-law tone maps (mu = 5000) of the merge",
                 "init": str(spec.init) if spec.init else "the analytic g",
                 "object_motion": list(spec.object_motion) or "default",
                 "validation": f"{VALIDATION}, {spec.val_bursts} bursts"},
        "training": training_record(spec.train, res, command),
        "metrics": {**start, "val_bce": round(val_bce(model), 4),
                    "val_merge_l1": round(val_merge(model), 5)},
        "pool_seconds": round(pool_seconds, 1),
        "wall_seconds": round(seconds + pool_seconds, 1),
    }
    write_card(out, card)
    return card


__all__ = ["ConfidenceTrainSpec", "MergeInputs", "burst_sample", "train_confidence"]
