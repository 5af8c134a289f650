"""``inversa batch``: the detection and burst pipelines over an archive, on Dask."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from inversa.cli.common import handle_errors
from inversa.errors import InputError

app = typer.Typer(help="Process many observations or bursts on a Dask cluster, resumably.",
                  no_args_is_help=True)


@contextlib.contextmanager
def _progress(total_label: str) -> Iterator:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(total_label), BarColumn(),
                   TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                   TextColumn("ETA {task.fields[eta]}"), console=Console(stderr=True))
    task = bar.add_task(total_label, total=None, counts="", eta="?")
    with bar:
        def update(c: dict) -> None:
            finished = c["done"] + c["failed"] + c["skipped"]
            eta = c["eta"]
            bar.update(task, completed=finished, total=c["total"],
                       counts=f"done {c['done']} · skipped {c['skipped']} · failed "
                              f"{c['failed']} · remaining {c['total'] - finished}",
                       eta=f"{eta:.0f}s" if eta == eta else "?")

        yield update


def _run(kind: str, manifest: str, out: Path, settings: dict, workers: int | None,
         scheduler: str | None, threads: int, overwrite: bool) -> None:
    from rich.console import Console

    from inversa.batch.manifest import read_manifest
    from inversa.batch.runner import BatchConfig, check_scheduler, prepare_outdir, run_batch

    if workers is not None and workers < 1:
        raise InputError("must be >= 1", field="--workers")
    if threads < 1:
        raise InputError("must be >= 1", field="--threads")
    if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://",
                                                           "ws://")):
        raise InputError(f"expected an address such as tcp://HOST:PORT, got {scheduler!r}",
                         field="--scheduler")
    items = read_manifest(manifest, kind)
    if scheduler is not None:
        check_scheduler(scheduler)
    config = BatchConfig(kind=kind, settings=settings, workers=workers, threads=threads,
                         scheduler=scheduler, overwrite=overwrite)
    prepare_outdir(out, config)  # refuses another configuration before anything starts
    console = Console(stderr=True)
    with _progress(f"{kind} batch") as bar:
        res = run_batch(items, out, config, progress=bar)
    if res.dashboard:
        console.print(f"Dask dashboard was at {res.dashboard}")
    for r in res.rows:
        if r["status"] == "failed":
            console.print(f"[red]failed[/] {r['id']}: {r['error']}")
    print(f"{res.count('done')} done, {res.count('skipped')} skipped (already finished), "
          f"{res.count('failed')} failed in {res.seconds:.1f} s; summary in {out}/summary.ecsv"
          + (f", catalogue in {out}/catalogue.ecsv and .parquet" if kind == "exo" else ""))


@app.command("exo-detect")
@handle_errors
def exo_detect_cmd(
    manifest: str = typer.Argument(..., help="CSV/ECSV with columns id, cube, angles, psf "
                                             "(or a glob of multi-extension FITS files)"),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (OUT/<id>/ per row)"),
    method: str = typer.Option("paco", help="paco | pca | cadi | deep (a 'method' column "
                                            "overrides)"),
    threshold: float = typer.Option(5.0, help="Detection threshold (S/N)"),
    ncomp: int = typer.Option(5, help="PCA components"),
    model: str | None = typer.Option(None, help="deep: a shipped model (exo_deep) or a .pt "
                                                "file; default: train on each observation"),
    workers: int | None = typer.Option(None, help="Local Dask workers (default: cores / "
                                                  "threads)"),
    threads: int = typer.Option(1, help="Torch threads per task"),
    scheduler: str | None = typer.Option(None, help="Attach to a running dask.distributed "
                                                    "scheduler, tcp://HOST:PORT"),
    overwrite: bool = typer.Option(False, help="Replace results of another configuration"),
) -> None:
    """Detect companions in every observation of MANIFEST.

    Each row's outputs (those of `inversa exo detect`) go to OUT/<id>/, atomically; OUT
    also gets summary.ecsv (status, time, error per row) and catalogue.ecsv/.parquet (every
    candidate with its observation id). Re-running skips finished rows and retries failed
    ones.

    Example: inversa batch exo-detect archive.csv -o results --method paco --workers 2
    """
    from inversa.exo.detect import METHODS

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}",
                         field="--method")
    settings = {"method": method, "threshold": threshold, "ncomp": ncomp}
    if model is not None:
        if method != "deep":
            raise InputError("only with --method deep", field="--model")
        from inversa.exo.deep.model import load_detector

        load_detector(model)  # missing or corrupted: fail before any work
        settings["model"] = model
    _run("exo", manifest, out, settings, workers, scheduler, threads, overwrite)


@app.command("burst")
@handle_errors
def burst_cmd(
    manifest: str = typer.Argument(..., help="CSV/ECSV with columns id, burst (or a glob "
                                             "of .npz bursts)"),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (OUT/<id>/ per row)"),
    scale: int = typer.Option(4, help="Super-resolution factor"),
    method: str = typer.Option("map", help="single | merge | map | learned"),
    prior: str = typer.Option("pnp", help="tv | wavelet | pnp"),
    workers: int | None = typer.Option(None, help="Local Dask workers"),
    threads: int = typer.Option(1, help="Torch threads per task"),
    scheduler: str | None = typer.Option(None, help="tcp://HOST:PORT of a running scheduler"),
    overwrite: bool = typer.Option(False, help="Replace results of another configuration"),
) -> None:
    """Reconstruct every burst of MANIFEST: OUT/<id>/result.tiff (float32 linear camera
    RGB), preview.png (rendered) and report.json; summary.ecsv in OUT.

    Example: inversa batch burst bursts.csv -o results --scale 4 --method map
    """
    if method not in ("single", "merge", "map", "learned"):
        raise InputError(f"unknown method {method!r}; choose single, merge, map or learned",
                         field="--method")
    if scale not in (1, 2, 3, 4):
        raise InputError("scale must be 1, 2, 3 or 4", field="--scale")
    _run("burst", manifest, out, {"scale": scale, "method": method, "prior": prior},
         workers, scheduler, threads, overwrite)
