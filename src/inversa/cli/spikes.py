"""``inversa spikes``: l1 spike-train deconvolution of a seismic trace."""

from __future__ import annotations

from pathlib import Path

import typer

from inversa.cli.common import handle_errors
from inversa.errors import InputError


def load_wavelet(spec: str, dt: float) -> torch.Tensor:  # noqa: F821
    import torch

    from inversa.restore.spikes import read_signal, ricker

    if spec.startswith("ricker:"):
        try:
            f = float(spec.split(":", 1)[1])
        except ValueError:
            raise InputError(f"bad wavelet {spec!r}; expected ricker:PEAK_HZ",
                             field="--wavelet") from None
        return ricker(f, dt)
    return torch.from_numpy(read_signal(spec, "wavelet")).float()


@handle_errors
def spikes_cmd(
    trace: Path = typer.Argument(..., help="Coarse trace: CSV (one column) or .npy"),
    out: Path = typer.Option(..., "-o", "--out", help="Output spike train (.csv or .npy)"),
    wavelet: str = typer.Option(..., help="Wavelet at the fine interval: file (CSV/.npy) or "
                                          "ricker:PEAK_HZ"),
    upsample: int = typer.Option(2, help="Fine samples per coarse sample"),
    dt: float = typer.Option(0.002, help="Fine sample interval in seconds"),
    lam: float | None = typer.Option(None, help="l1 weight (automatic if omitted)"),
    noise_sigma: float | None = typer.Option(None, "--noise-sigma",
                                             help="Noise std of the trace (for automatic lam)"),
    iterations: int = typer.Option(2000, help="FISTA iterations at most"),
) -> None:
    """Recover a sparse spike train at the fine interval from a coarse trace.

    Example: inversa spikes trace.csv -o spikes.csv --wavelet ricker:25 --upsample 2 --dt 0.002
    """
    import numpy as np

    from inversa.restore.imageio import atomic_write
    from inversa.restore.spikes import SpikeConfig, deconvolve_spikes, read_signal

    if out.suffix.lower() not in (".csv", ".npy", ".txt"):
        raise InputError("output must be .csv, .txt or .npy", source=str(out))
    if dt <= 0:
        raise InputError(f"dt must be > 0, got {dt}", field="--dt")
    if not out.parent.is_dir():
        raise InputError("output folder does not exist", source=str(out.parent))
    t = read_signal(str(trace))
    w = load_wavelet(wavelet, dt)
    s, lam_used = deconvolve_spikes(np.asarray(t), w, SpikeConfig(
        upsample=upsample, lam=lam, noise_sigma=noise_sigma, iterations=iterations))
    a = s.numpy().astype(np.float64)
    if out.suffix.lower() == ".npy":
        atomic_write(out, lambda p: np.save(p, a))
    else:
        atomic_write(out, lambda p: np.savetxt(p, a, header=f"spike train, dt={dt} s",
                                               fmt="%.8g"))
    typer.echo(f"wrote {out}: {a.size} samples at dt={dt} s, {int((np.abs(a) > 1e-6).sum())} "
               f"non-zero, lam {lam_used:.4g}")
