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
