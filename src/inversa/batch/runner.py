"""Run a manifest on a Dask cluster: skip finished items, keep going past failures,
write a summary and (exo) a combined catalogue.

Resumability rests on three facts: each item writes its folder atomically (a temporary
name renamed at the end, with a ``done.json`` marker listing its files), a finished
item is recognised by that marker and the configuration hash, and the driver only
collects statuses. A worker that dies loses at most the items it was running; Dask's
scheduler reruns them elsewhere. An interrupted run (Ctrl-C) leaves only finished
folders behind; the next run computes the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from inversa.batch.manifest import Item
from inversa.batch.tasks import is_complete, run_item
from inversa.errors import InputError


@dataclass(frozen=True)
class BatchConfig:
    """What to run (``settings``: the command's options, primitives only) and where."""

    kind: str                              # exo | burst
    settings: dict = field(default_factory=dict)
    workers: int | None = None             # local cluster size (default: cores / threads)
    threads: int = 1                       # torch threads per task
    scheduler: str | None = None           # tcp://host:port of an existing cluster
    overwrite: bool = False

    def hash(self) -> str:
        rec = json.dumps({"kind": self.kind, "settings": self.settings}, sort_keys=True)
        return hashlib.sha256(rec.encode()).hexdigest()[:16]


@dataclass
class BatchResult:
    rows: list[dict]
    seconds: float
    dashboard: str | None = None

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)


def prepare_outdir(outdir: Path, config: BatchConfig) -> None:
    """Create ``outdir`` or check that it holds results of the same configuration."""
    if outdir.exists() and not outdir.is_dir():
        raise InputError("exists and is not a folder", source=str(outdir))
    if not outdir.parent.is_dir():
        raise InputError("parent folder does not exist", source=str(outdir.parent))
    outdir.mkdir(exist_ok=True)
    rec_path = outdir / "batch.json"
    rec = {"kind": config.kind, "settings": config.settings, "config": config.hash()}
    if rec_path.exists():
        try:
            old = json.loads(rec_path.read_text())
        except ValueError:
            old = {}
        if old.get("config") != rec["config"] and not config.overwrite:
            raise InputError("holds results of a different configuration "
                             f"({old.get('kind')}, {old.get('settings')}); use --overwrite "
                             "or another folder", source=str(outdir))
    elif any(p for p in outdir.iterdir() if not p.name.startswith(".")):
        raise InputError("exists, is not empty and is not a batch output folder",
                         source=str(outdir))
    tmp = rec_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec, indent=1))
    os.replace(tmp, rec_path)


def check_scheduler(address: str) -> None:
    """Raise :class:`InputError` unless a Dask scheduler answers at ``address``."""
    from distributed import Client

    try:
        Client(address, timeout="5s").close()
    except (OSError, TimeoutError, ValueError) as e:
        raise InputError(f"cannot reach the Dask scheduler ({type(e).__name__})",
                         field="--scheduler") from None


def _client(config: BatchConfig, n_items: int):
    import dask
    from distributed import Client, LocalCluster

    if config.scheduler:
        try:
            return Client(config.scheduler, timeout="5s"), None
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError(f"cannot reach the Dask scheduler ({type(e).__name__})",
                             field="--scheduler") from None
    cores = os.cpu_count() or 1
    n = config.workers or max(1, cores // max(1, config.threads))
    n = max(1, min(n, n_items))
    import importlib.util

    dash = ":0" if importlib.util.find_spec("bokeh") else None
    # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in the workers, which returns every
    # freed block to the system: the large temporaries of PACO and of the burst solver
    # are then paid in page faults (tasks ran 1.5x slower); glibc's default is restored.
    with dask.config.set({"distributed.worker.daemon": False,
                          "distributed.scheduler.allowed-failures": 3,
                          "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=dash, silence_logs=logging.ERROR,
                               env={"OMP_NUM_THREADS": str(config.threads),
                                    "MKL_NUM_THREADS": str(config.threads),
                                    # the statistical profiler samples every task's
                                    # stack every 10 ms: off, it is for the dashboard
                                    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"})
    return Client(cluster), cluster


def run_batch(items: list[Item], outdir: Path, config: BatchConfig,
              progress: Callable[[dict], None] | None = None,
              monitor: Callable[[object, int], None] | None = None,
              stop_after: int | None = None) -> BatchResult:
    """Process ``items`` into ``outdir``; returns one status row per item (``done``,
    ``skipped`` (already finished), ``failed`` with its one-line error).

    ``progress(counts)`` gets ``{"done", "failed", "skipped", "total", "eta"}`` after each
    item; ``monitor(client, finished)`` is called likewise (tests kill workers there);
    ``stop_after`` raises ``KeyboardInterrupt`` after that many items (tests)."""
    from distributed import as_completed

    outdir = Path(outdir)
    prepare_outdir(outdir, config)
    h = config.hash()
    rows: dict[str, dict] = {}
    todo = []
    for it in items:
        folder = outdir / it.id
        if is_complete(folder, h):
            rec = json.loads((folder / "done.json").read_text())
            rows[it.id] = {"id": it.id, "status": "skipped", "seconds": rec.get("seconds", 0.0),
                           "error": "", "worker": ""}
        else:
            if folder.exists():  # unfinished, damaged, or of another configuration
                shutil.rmtree(folder, ignore_errors=True)
            todo.append(it)
    t0 = time.perf_counter()
    counts = {"done": 0, "failed": 0, "skipped": len(rows), "total": len(items),
              "eta": math.nan}
    if progress:
        progress(dict(counts))
    dashboard = None
    if todo:
        client, cluster = _client(config, len(todo))
        try:
            import importlib.util

            if config.scheduler or importlib.util.find_spec("bokeh"):
                dashboard = getattr(client, "dashboard_link", None)
            futures = [client.submit(run_item, config.kind, it, config.settings, str(outdir),
                                     h, config.threads, key=f"item-{h}-{it.id}", pure=False)
                       for it in todo]
            finished = 0
            pending = as_completed(futures)
            del futures  # as_completed holds them; each is released once read, so a
            # worker that dies later does not make the scheduler recompute finished items
            for fut in pending:
                try:
                    row = fut.result()
                except Exception as e:
                    key = str(fut.key).split("-", 2)[-1]
                    row = {"id": key, "status": "failed", "seconds": math.nan,
                           "error": f"{type(e).__name__}: {e}".splitlines()[0], "worker": ""}
                fut.release()
                rows[row["id"]] = row
                finished += 1
                counts[row["status"]] = counts.get(row["status"], 0) + 1
                el = time.perf_counter() - t0
                counts["eta"] = el / finished * (len(todo) - finished)
                if progress:
                    progress(dict(counts))
                if monitor:
                    monitor(client, finished)
                if stop_after is not None and finished >= stop_after:
                    raise KeyboardInterrupt
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    ordered = [rows[it.id] for it in items if it.id in rows]
    res = BatchResult(rows=ordered, seconds=time.perf_counter() - t0, dashboard=dashboard)
    write_summary(outdir, items, res)
    if config.kind == "exo":
        write_catalogue(outdir, items, h)
    return res


def write_summary(outdir: Path, items: list[Item], res: BatchResult) -> None:
    """summary.ecsv: id, status, seconds, error, worker, and the item's inputs."""
    from astropy.table import Table

    from inversa.atomic import atomic_write

    by_id = {it.id: it for it in items}
    rows = [[r["id"], r["status"], float(r.get("seconds", math.nan)), r.get("error", ""),
             r.get("worker", ""), json.dumps(by_id[r["id"]].paths)] for r in res.rows]
    t = Table(rows=rows or None, names=["id", "status", "seconds", "error", "worker", "inputs"],
              dtype=[str, str, float, str, str, str])
    t.meta["wall_seconds"] = res.seconds
    atomic_write(outdir / "summary.ecsv", lambda p: t.write(p, format="ascii.ecsv",
                                                           overwrite=True))


def write_catalogue(outdir: Path, items: list[Item], config_hash: str) -> int:
    """catalogue.ecsv and catalogue.parquet: every candidate of every finished item."""
    from astropy.table import Table, vstack

    from inversa.atomic import Staged

    tables = []
    for it in items:
        folder = outdir / it.id
        if not is_complete(folder, config_hash):
            continue
        t = Table.read(folder / "candidates.ecsv", format="ascii.ecsv")
        import numpy as np

        t.add_column(np.full(len(t), it.id, dtype="U64"), name="obs_id", index=0)
        t.meta = {}
        tables.append(t)
    cat = vstack(tables) if tables else Table(names=["obs_id", "id", "x", "y", "separation",
                                                     "position_angle", "snr", "flux",
                                                     "flux_err"],
                                              dtype=[str, int] + [float] * 7)
    with Staged() as st:
        st.stage(outdir / "catalogue.ecsv", lambda p: cat.write(p, format="ascii.ecsv",
                                                                 overwrite=True))
        st.stage(outdir / "catalogue.parquet", lambda p: cat.write(p, format="parquet",
                                                                    overwrite=True))
        st.commit()
    return len(cat)
