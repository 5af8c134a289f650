"""``inversa train ...``: train the learned models shipped with the package."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from inversa.cli.common import handle_errors

app = typer.Typer(help="Train learned models (weights + model card).", no_args_is_help=True)


@app.command("denoiser")
@handle_errors
def denoiser(
    out: Path = typer.Option(Path("denoiser_unet"), "-o", "--out",
                             help="Output stem: writes OUT.pt, OUT.json, OUT.ckpt, OUT.log.jsonl"),
    steps: int = typer.Option(12000, help="Optimisation steps"),
    batch: int = typer.Option(16, help="Patches per step"),
    patch: int = typer.Option(64, help="Patch size (pixels)"),
    width: int = typer.Option(64, help="Network width (channels at full scale)"),
    lr: float = typer.Option(1e-3, help="Initial learning rate (cosine decay)"),
    seed: int = typer.Option(0, help="Random seed"),
    max_minutes: float = typer.Option(0.0, help="Stop after this many minutes (0: no limit)"),
    folder: Path | None = typer.Option(None, help="Train on this image folder instead of the "
                                                  "bundled scikit-image images"),
    threads: int = typer.Option(0, help="Torch CPU threads (0: default)"),
) -> None:
    """Train the noise-conditioned denoiser (resumes from OUT.ckpt if present).

    Example: inversa train denoiser -o src/inversa/weights/denoiser_unet --steps 12000
    """
    import torch

    from inversa.data.patches import PatchConfig
    from inversa.nets.denoiser import DenoiserConfig
    from inversa.train.denoiser import DenoiserTrainSpec, train_denoiser
    from inversa.train.loop import TrainConfig

    if threads:
        torch.set_num_threads(threads)
    spec = DenoiserTrainSpec(
        out=out, net=DenoiserConfig(width=width), patches=PatchConfig(size=patch, batch=batch),
        train=TrainConfig(steps=steps, lr=lr, seed=seed, max_minutes=max_minutes),
        folder=folder)
    card = train_denoiser(spec, command="inversa " + " ".join(map(shlex.quote, sys.argv[1:])))
    typer.echo(f"validation PSNR (sigma 25): {card['metrics']['val_psnr_sigma25']:.2f} dB; "
               f"wrote {out.with_suffix('.pt')}")


@app.command("burst")
@handle_errors
def burst(
    out: Path = typer.Option(Path("burst_lkr"), "-o", "--out",
                             help="Output stem: writes OUT.pt, OUT.json, OUT.ckpt, OUT.log.jsonl"),
    scale: list[int] = typer.Option([2, 4], "--scale",
                                    help="Scales to train for (repeat: --scale 2 --scale 4); "
                                         "one model conditioned on the scale"),
    steps: int = typer.Option(2000, help="Optimisation steps"),
    batch: int = typer.Option(4, help="Bursts per step"),
    crop: int = typer.Option(128, help="Ground-truth side of a training burst (pixels; a "
                                       "multiple of twice every scale)"),
    max_frames: int = typer.Option(14, help="Largest number of frames per burst (K is "
                                            "drawn from 1..max)"),
    stages: int = typer.Option(5, help="Unrolled stages T"),
    cg_iter: int = typer.Option(5, help="Conjugate-gradient steps of the data update per stage"),
    lr: float = typer.Option(2e-4, help="Initial learning rate (cosine decay)"),
    seed: int = typer.Option(0, help="Random seed"),
    max_minutes: float = typer.Option(0.0, help="Stop after this many minutes (0: no limit)"),
    folder: Path | None = typer.Option(None, help="Train on this image folder instead of the "
                                                  "bundled scikit-image photographs"),
    images: str = typer.Option("color", help="Bundled sources: 'color' (the colour training "
                                             "photographs) or 'wide' (plus a matplotlib "
                                             "portrait and three tinted grey textures)"),
    threads: int = typer.Option(0, help="Torch CPU threads (0: default)"),
    init: str | None = typer.Option(None, help="Fine-tune these weights (a shipped name or a "
                                               ".pt path; their stages and CG steps are kept) "
                                               "instead of a fresh model"),
) -> None:
    """Train the learned burst reconstruction ("Lucas-Kanade reloaded"; resumes from
    OUT.ckpt if present).

    Example: inversa train burst -o src/inversa/weights/burst_lkr --steps 2000 --max-minutes 100
    """
    import torch

    from inversa.burst.lkr import LKRConfig
    from inversa.errors import InputError
    from inversa.train.burst import BurstTrainSpec, train_burst
    from inversa.train.loop import TrainConfig

    if any(s not in (1, 2, 3, 4) for s in scale):
        raise InputError(f"scales must be 1, 2, 3 or 4, got {scale}", field="scale")
    if threads:
        torch.set_num_threads(threads)
    spec = BurstTrainSpec(
        out=out, net=LKRConfig(stages=stages, cg_iter=cg_iter, scales=tuple(sorted(set(scale)))),
        train=TrainConfig(steps=steps, lr=lr, lr_min=lr / 100, seed=seed,
                          max_minutes=max_minutes, validate_every=100, ckpt_every=25,
                          log_every=10),
        crop=crop, batch=batch, max_frames=max_frames, folder=folder, init=init,
        images=_image_set(images))
    card = train_burst(spec, command="inversa " + " ".join(map(shlex.quote, sys.argv[1:])))
    typer.echo(f"validation PSNR: {card['metrics']['val_psnr']:.2f} dB; "
               f"wrote {out.with_suffix('.pt')}")


@app.command("hdr")
@handle_errors
def hdr(
    out: Path = typer.Option(Path("hdr_lkr"), "-o", "--out",
                             help="Output stem: writes OUT.pt, OUT.json, OUT.ckpt, OUT.log.jsonl"),
    init: str = typer.Option("burst_lkr", help="Weights to start from: a shipped name or a "
                                               ".pt path"),
    scale: list[int] = typer.Option([1, 2], "--scale", help="Scales to train for (repeat)"),
    steps: int = typer.Option(400, help="Optimisation steps"),
    batch: int = typer.Option(2, help="Bursts per step"),
    crop: int = typer.Option(64, help="Ground-truth side of a training burst (pixels; a "
                                      "multiple of twice every scale)"),
    lr: float = typer.Option(5e-5, help="Initial learning rate (cosine decay)"),
    seed: int = typer.Option(0, help="Random seed"),
    max_minutes: float = typer.Option(0.0, help="Stop after this many minutes (0: no limit)"),
    folder: Path | None = typer.Option(None, help="Train on this image folder instead of the "
                                                  "bundled scikit-image photographs"),
    threads: int = typer.Option(0, help="Torch CPU threads (0: default)"),
    tone: float = typer.Option(200.0, help="mu of the companded domain of the prior step "
                                          "(0: linear)"),
    max_frames: int = typer.Option(14, help="Frames per training burst: 3 to this"),
) -> None:
    """Fine-tune the learned burst reconstruction for HDR on bracketed static and dynamic
    synthetic bursts (mu-law l1 loss; resumes from OUT.ckpt if present).

    Example: inversa train hdr -o src/inversa/weights/hdr_lkr --max-minutes 30
    """
    import torch

    from inversa.errors import InputError
    from inversa.train.hdr import HDRTrainSpec, train_hdr
    from inversa.train.loop import TrainConfig

    if any(s not in (1, 2, 3, 4) for s in scale):
        raise InputError(f"scales must be 1, 2, 3 or 4, got {scale}", field="scale")
    if any(crop % (2 * s) for s in scale) or crop < 32:
        raise InputError(f"crop must be >= 32 and a multiple of twice every scale, got {crop}",
                         field="crop")
    if tone < 0:
        raise InputError(f"--tone must be >= 0, got {tone}", field="tone")
    if max_frames < 3:
        raise InputError(f"--max-frames must be >= 3, got {max_frames}", field="max-frames")
    if threads:
        torch.set_num_threads(threads)
    spec = HDRTrainSpec(
        out=out, init=init, scales=tuple(sorted(set(scale))),
        train=TrainConfig(steps=steps, lr=lr, lr_min=lr / 100, seed=seed,
                          max_minutes=max_minutes, validate_every=25, ckpt_every=5,
                          log_every=5),
        crop=crop, batch=batch, folder=folder, tone=tone, max_frames=max_frames)
    card = train_hdr(spec, command="inversa " + " ".join(map(shlex.quote, sys.argv[1:])))
    typer.echo(f"validation mu-law PSNR: {card['metrics']['val_mu_psnr_start']:.2f} -> "
               f"{card['metrics']['val_mu_psnr']:.2f} dB; wrote {out.with_suffix('.pt')}")


@app.command("hdr-confidence")
@handle_errors
def hdr_confidence(
    out: Path = typer.Option(Path("hdr_g"), "-o", "--out",
                             help="Output stem: writes OUT.pt, OUT.json, OUT.ckpt, OUT.log.jsonl"),
    bursts: int = typer.Option(240, help="Synthetic bracketed bursts in the training pool"),
    crop: int = typer.Option(128, help="Side of a training burst's scene crop (pixels, >= 64)"),
    steps: int = typer.Option(3000, help="Optimisation steps (one burst each)"),
    lr: float = typer.Option(2e-3, help="Initial learning rate (cosine decay)"),
    seed: int = typer.Option(0, help="Random seed"),
    max_minutes: float = typer.Option(0.0, help="Stop after this many minutes (0: no limit)"),
    folder: Path | None = typer.Option(None, help="Train on this image folder instead of the "
                                                  "bundled scikit-image photographs"),
    threads: int = typer.Option(0, help="Torch CPU threads (0: default)"),
    target: str = typer.Option("geometric", help="What a good sample is: 'geometric' (its "
                               "reference point is within half a pixel of the truth; the "
                               "shipped hdr_g) or 'photometric' (its model error is below "
                               "its noise)"),
    loss: str = typer.Option("bce", help="'bce': cross-entropy against the target; 'merge': "
                             "the l1 error of the merged radiance (mu-law), through the "
                             "merge of each burst with g"),
    init: Path | None = typer.Option(None, help="Start from these weights (.pt) instead of "
                                                "the analytic g"),
    object_motion: str = typer.Option("", help="Comma-separated LocalMotionConfig switches "
                                      "(relaxed, trajectories) for the object displacements "
                                      "the samples are judged with; inference must run the "
                                      "same"),
) -> None:
    """Train the learned alignment confidence of `inversa hdr` against the true confidence
    of synthetic bracketed bursts (resumes from OUT.ckpt if present; the pool of bursts is
    made again, from the seed).

    Example: inversa train hdr-confidence -o src/inversa/weights/hdr_g
    """
    import torch

    from inversa.errors import InputError
    from inversa.train.hdr_g import (
        LOSSES,
        MOTION_SWITCHES,
        TARGETS,
        ConfidenceTrainSpec,
        train_confidence,
    )
    from inversa.train.loop import TrainConfig

    if bursts < 2 or steps < 1:
        raise InputError("--bursts must be >= 2 and --steps >= 1", field="bursts")
    if crop < 64 or crop % 8:
        raise InputError(f"--crop must be >= 64 and a multiple of 8, got {crop}", field="crop")
    if target not in TARGETS:
        raise InputError(f"--target must be one of {sorted(TARGETS)}, got {target!r}",
                         field="target")
    if loss not in LOSSES:
        raise InputError(f"--loss must be one of {list(LOSSES)}, got {loss!r}", field="loss")
    if init is not None and not init.exists():
        raise InputError("initial weights not found", source=str(init))
    switches = tuple(v.strip() for v in object_motion.split(",") if v.strip())
    bad = sorted(set(switches) - set(MOTION_SWITCHES))
    if bad:
        raise InputError(f"--object-motion takes {', '.join(MOTION_SWITCHES)}, got "
                         f"{', '.join(bad)}", field="object_motion")
    if threads:
        torch.set_num_threads(threads)
    spec = ConfidenceTrainSpec(
        out=out, bursts=bursts, crop=crop, folder=folder, target=target, loss=loss, init=init,
        object_motion=switches,
        train=TrainConfig(steps=steps, lr=lr, lr_min=lr / 100, seed=seed,
                          max_minutes=max_minutes, validate_every=250, ckpt_every=250,
                          log_every=50))
    card = train_confidence(spec, command="inversa " + " ".join(map(shlex.quote, sys.argv[1:])))
    m = card["metrics"]
    typer.echo(f"validation cross-entropy: analytic g {m['val_bce_analytic']:.4f}, learned "
               f"{m['val_bce']:.4f}; merge l1: analytic {m['val_merge_l1_analytic']:.5f}, "
               f"learned {m['val_merge_l1']:.5f}; wrote {out.with_suffix('.pt')}")


def _image_set(name: str) -> tuple[str, ...]:
    from inversa.data.images import TRAIN_COLOR, TRAIN_COLOR_WIDE
    from inversa.errors import InputError

    sets = {"color": TRAIN_COLOR, "wide": TRAIN_COLOR_WIDE}
    if name not in sets:
        raise InputError(f"--images must be one of {sorted(sets)}, got {name!r}", field="images")
    return sets[name]
