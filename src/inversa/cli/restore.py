"""``inversa restore``: denoise, deblur or super-resolve an image."""

from __future__ import annotations

from pathlib import Path

import typer

from inversa.cli.common import handle_errors
from inversa.errors import InputError


def parse_blur(spec: str | None):
    """``gaussian:SIGMA`` or ``motion:LENGTH:ANGLE`` -> kernel tensor."""
    if spec is None:
        return None
    from inversa.operators import gaussian_kernel, motion_kernel

    parts = spec.split(":")
    try:
        if parts[0] == "gaussian" and len(parts) == 2:
            s = float(parts[1])
            if not s > 0:
                raise ValueError
            return gaussian_kernel(s)
        if parts[0] == "motion" and len(parts) == 3:
            length, angle = float(parts[1]), float(parts[2])
            if not length > 0:
                raise ValueError
            return motion_kernel(length, angle)
    except ValueError:
        pass
    raise InputError(f"bad blur {spec!r}; expected gaussian:SIGMA (> 0) or "
                     "motion:LENGTH:ANGLE", field="--blur")


def resolve_device(name: str) -> torch.device:  # noqa: F821
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise InputError(f"unknown device {name!r}; expected auto, cpu or cuda", field="--device")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA is not available on this machine", field="--device")
    return torch.device(name)


@handle_errors
def restore_cmd(
    image: Path = typer.Argument(..., help="Input image (PNG/TIFF/JPEG/.npy, gray or colour)"),
    out: Path = typer.Option(..., "-o", "--out", help="Output image; format from the extension"),
    noise_sigma: float | None = typer.Option(
        None, "--noise-sigma", help="Noise std in units of the full range (0..1); "
                                    "estimated from the image when omitted"),
    blur: str | None = typer.Option(None, help="Blur model: gaussian:SIGMA or "
                                               "motion:LENGTH:ANGLE"),
    kernel: Path | None = typer.Option(None, help="Blur kernel file (.npy, 2-D)"),
    scale: int = typer.Option(1, help="Super-resolution factor (pixel integration model)"),
    prior: str = typer.Option("pnp", help="tv | wavelet | smooth | pnp | learned"),
    lam: float | None = typer.Option(None, help="Regularisation weight (automatic if omitted)"),
    iterations: int | None = typer.Option(None, help="Solver iterations (default 200, PnP 8)"),
    bits: int = typer.Option(16, help="Output bit depth for PNG/TIFF (8 or 16)"),
    device: str = typer.Option("auto", help="auto (CUDA when present) | cpu | cuda"),
) -> None:
    """Restore IMAGE by solving min_x 1/2||y - A x||^2 + lam phi(x).

    Example: inversa restore noisy.png -o clean.png --noise-sigma 0.1 --prior pnp
    """
    from rich.progress import Progress

    from inversa.restore.image import PRIORS, RestoreConfig, restore
    from inversa.restore.imageio import check_output_path, read_image, read_kernel, write_image

    if prior not in PRIORS:
        raise InputError(f"unknown prior {prior!r}; expected one of {PRIORS}", field="--prior")
    if blur is not None and kernel is not None:
        raise InputError("give --blur or --kernel, not both", field="--kernel")
    if bits not in (8, 16):
        raise InputError(f"bits must be 8 or 16, got {bits}", field="--bits")
    check_output_path(out)
    k = read_kernel(kernel) if kernel is not None else parse_blur(blur)
    data = read_image(image)
    dev = resolve_device(device)
    cfg = RestoreConfig(prior=prior, noise_sigma=noise_sigma, lam=lam, kernel=k, scale=scale,
                        iterations=iterations)
    with Progress(transient=True) as prog:
        task = prog.add_task(f"restoring ({prior})", total=None)
        res = restore(data.image.to(dev), cfg, progress=lambda i, n: prog.update(task, completed=i,
                                                                         total=n))
    write_image(out, res.x, bits=bits)
    how = "estimated" if res.sigma_estimated else "given"
    lam_s = f", lam {res.lam:.4g}" if res.lam is not None else ""
    typer.echo(f"wrote {out} (noise sigma {res.noise_sigma:.4f} {how}{lam_s}, "
               f"{res.iterations} iteration(s))")
