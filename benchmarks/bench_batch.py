"""`inversa batch` on this machine: throughput against the single-item times, a killed
worker, an interrupted run.

    python benchmarks/bench_batch.py | tee benchmarks/bench_batch.out.txt

* 40 simulated 48 x 128 x 128 cubes (3 companions each, 4 AO realisations per frame to
  keep the simulation short) with PACO, and 40 synthetic x4 bursts (14 frames of 96 x 96,
  crops of the held-out images at least 448 pixels on a side) with `map`.
* Single-item time: the same task function the workers run (read, process, write the
  item's folder), one item after the other in this process, with 1 and with 2 torch
  threads. Batch: a local Dask cluster of 2 worker processes, 1 torch thread each.
* Fault test: 20 cubes, one worker process killed (SIGKILL) after the first item
  finished; outputs compared byte for byte (except report.json and done.json, which hold
  timings) with a clean run, attempts counted.
* Resume test: 20 cubes, the run interrupted after 10 items, then run again.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from inversa.batch.manifest import Item
from inversa.batch.runner import BatchConfig, run_batch
from inversa.batch.tasks import run_item


def make_cubes(folder: Path, n: int) -> list[Item]:
    from astropy.io import fits

    from inversa.exo.simulate import SimConfig, random_companions, simulate

    items = []
    for i in range(n):
        comps = random_companions(3, (2e-5, 2e-4), 128, 4.1, seed=2000 + i)
        sim = simulate(SimConfig(subframes=4), comps, seed=3000 + i)
        paths = {}
        for name, data in (("cube", sim.cube), ("angles", sim.angles), ("psf", sim.psf)):
            p = folder / f"{name}_{i:03d}.fits"
            fits.PrimaryHDU(data.numpy()).writeto(p)
            paths[name] = str(p)
        items.append(Item(id=f"obs{i:03d}", paths=paths))
    return items


def make_bursts(folder: Path, n: int) -> list[Item]:
    from inversa.burst.synth import SynthConfig, synthesize_burst
    from inversa.camera.burstio import write_npz
    from inversa.data.images import TEST_COLOR, bundled

    names = [nm for nm in TEST_COLOR if min(bundled(nm).shape[-2:]) >= 448]
    items = []
    for i in range(n):
        src = bundled(names[i % len(names)])
        h, w = src.shape[-2:]
        g = np.random.default_rng(i)
        y0, x0 = int(g.integers(0, h - 448 + 1)), int(g.integers(0, w - 448 + 1))
        img = src[..., y0:y0 + 448, x0:x0 + 448]  # 32-pixel margins for the motion
        sb = synthesize_burst(img, SynthConfig(scale=4, frames=14), seed=i,
                              box=(32, 32, 384, 384))
        p = folder / f"burst_{i:03d}.npz"
        write_npz(sb.burst, p)
        items.append(Item(id=f"burst{i:03d}", paths={"burst": str(p)}))
    return items


def single_times(kind: str, items: list[Item], settings: dict, out: Path, threads: int
                 ) -> list[float]:
    out.mkdir()
    times = []
    for it in items:
        t0 = time.perf_counter()
        row = run_item(kind, it, settings, str(out), "single", threads)
        times.append(time.perf_counter() - t0)
        assert row["status"] == "done", row
    return times


def throughput(kind: str, items: list[Item], settings: dict, tmp: Path) -> None:
    t1 = single_times(kind, items, settings, tmp / f"{kind}_single1", 1)
    t2 = single_times(kind, items, settings, tmp / f"{kind}_single2", 2)
    cfg = BatchConfig(kind=kind, settings=settings, workers=2, threads=1)
    t0 = time.perf_counter()
    res = run_batch(items, tmp / f"{kind}_batch", cfg)
    wall = time.perf_counter() - t0
    assert res.count("done") == len(items), res.rows
    cores = 2
    print(f"{kind}: {len(items)} items")
    print("| | seconds |")
    print("|---|---|")
    print(f"| single-item, 1 torch thread: sum (mean per item) | {sum(t1):.1f} "
          f"({np.mean(t1):.2f}) |")
    print(f"| single-item, 2 torch threads: sum (mean per item) | {sum(t2):.1f} "
          f"({np.mean(t2):.2f}) |")
    print(f"| batch, 2 workers x 1 thread, wall (cluster start included) | {wall:.1f} |")
    print(f"ratio wall / (sum 1-thread / {cores} cores) = {wall / (sum(t1) / cores):.3f}; "
          f"wall / (sum 2-thread / {cores}) = {wall / (sum(t2) / cores):.3f}\n", flush=True)


def attempts(out: Path) -> list[str]:
    return [line.split("\t")[0] for line in (out / "attempts.log").read_text().splitlines()]


def data_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.name not in ("report.json", "done.json")}


def fault_and_resume(items: list[Item], tmp: Path) -> None:
    settings = {"method": "paco", "threshold": 5.0, "ncomp": 5}
    cfg = BatchConfig(kind="exo", settings=settings, workers=2, threads=1)
    run_batch(items, tmp / "clean", cfg)
    killed = []

    def monitor(client, finished):
        if finished == len(items) // 2 and not killed:
            pid = sorted(client.run(os.getpid).values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    t0 = time.perf_counter()
    res = run_batch(items, tmp / "killed", cfg, monitor=monitor)
    wall = time.perf_counter() - t0
    same = all(data_files(tmp / "killed" / it.id) == data_files(tmp / "clean" / it.id)
               for it in items)
    att = attempts(tmp / "killed")
    extra = len(att) - len(items)
    print(f"fault test: {len(items)} cubes, worker {killed[0]} killed after "
          f"{len(items) // 2} items; {res.count('done')} done, outputs identical to a clean "
          f"run: {same}; {len(att)} attempts ({extra} recomputed), {wall:.1f} s")
    out = tmp / "resume"
    try:
        run_batch(items, out, cfg, stop_after=len(items) // 2)
    except KeyboardInterrupt:
        pass
    first = attempts(out)
    finished = {p.name for p in out.iterdir() if (p / "done.json").exists()}
    res = run_batch(items, out, cfg)
    second = attempts(out)[len(first):]
    print(f"resume test: interrupted after {len(items) // 2} items ({len(finished)} folders "
          f"finished, {len(first)} started); second run computed {len(second)}, skipped "
          f"{res.count('skipped')}, recomputed finished ones: "
          f"{len(set(second) & finished)}", flush=True)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--skip-bursts", action="store_true")
    ap.add_argument("--skip-cubes", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "cubes").mkdir()
        (tmp / "bursts").mkdir()
        t0 = time.perf_counter()
        if not args.skip_cubes:
            cubes = make_cubes(tmp / "cubes", args.items)
            print(f"simulated {args.items} cubes in {time.perf_counter() - t0:.0f} s", flush=True)
            throughput("exo", cubes, {"method": "paco", "threshold": 5.0, "ncomp": 5}, tmp)
            fault_and_resume(cubes[:20], tmp)
        if args.skip_bursts:
            return
        t0 = time.perf_counter()
        bursts = make_bursts(tmp / "bursts", args.items)
        print(f"synthesised {args.items} bursts in {time.perf_counter() - t0:.0f} s", flush=True)
        throughput("burst", bursts, {"scale": 4, "method": "map", "prior": "pnp"}, tmp)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
