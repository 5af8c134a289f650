"""``inversa demo``: the main jobs end to end on built-in data."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from inversa.cli.common import handle_errors


@handle_errors
def demo_cmd(
    out: Path = typer.Option(Path("out/demo"), "-o", "--out", help="Output folder"),
    size: int = typer.Option(256, help="Crop size of the test image"),
) -> None:
    """Restore a held-out test image (denoising, deblurring) and run the spike example.

    Example: inversa demo -o out/demo
    """
    import torch
    from rich.console import Console
    from rich.table import Table

    from inversa.data.images import bundled
    from inversa.operators import Conv2d, gaussian_kernel
    from inversa.restore.examples import plot_spikes, taylor1979
    from inversa.restore.image import RestoreConfig, restore
    from inversa.restore.imageio import write_image
    from inversa.train.denoiser import psnr

    out.mkdir(parents=True, exist_ok=True)
    console = Console()
    clean = bundled("astronaut")[..., :size, 128:128 + size]
    g = torch.Generator().manual_seed(0)
    table = Table(title="inversa demo: astronaut crop (held out of training)")
    for col in ("task", "method", "PSNR (dB)", "seconds", "output"):
        table.add_column(col)

    sigma = 25 / 255
    noisy = clean + sigma * torch.randn(clean.shape, generator=g)
    write_image(out / "clean.png", clean, bits=8)
    write_image(out / "noisy_s25.png", noisy, bits=8)
    table.add_row("denoise s=25/255", "noisy input", f"{psnr(noisy, clean):.2f}", "", "")
    for prior in ("tv", "wavelet", "pnp"):
        t0 = time.time()
        r = restore(noisy, RestoreConfig(prior=prior))  # blind: sigma estimated
        dt = time.time() - t0
        f = out / f"denoise_{prior}.png"
        write_image(f, r.x, bits=8)
        table.add_row("denoise s=25/255", f"{prior} (blind)", f"{psnr(r.x, clean):.2f}",
                      f"{dt:.2f}", f.name)

    k = gaussian_kernel(1.6)
    blurred = Conv2d(k, clean.shape[1:], boundary="reflect")(clean)
    blurred = blurred + 0.01 * torch.randn(clean.shape, generator=g)
    write_image(out / "blurred.png", blurred, bits=8)
    table.add_row("deblur g1.6 + 0.01", "blurred input", f"{psnr(blurred, clean):.2f}", "", "")
    for prior in ("tv", "pnp"):
        t0 = time.time()
        r = restore(blurred, RestoreConfig(prior=prior, noise_sigma=0.01, kernel=k))
        dt = time.time() - t0
        f = out / f"deblur_{prior}.png"
        write_image(f, r.x, bits=8)
        table.add_row("deblur g1.6 + 0.01", prior, f"{psnr(r.x, clean):.2f}", f"{dt:.2f}", f.name)

    t0 = time.time()
    exp = taylor1979()
    plot_spikes(exp, out / "spikes.png")
    err = float((exp.est_fine - exp.truth).norm() / exp.truth.norm())
    table.add_row("spikes 4 ms -> 2 ms", "l1 / FISTA", f"rel. err {err:.3f}",
                  f"{time.time() - t0:.2f}", "spikes.png")
    console.print(table)
    console.print(f"outputs in {out}/")
