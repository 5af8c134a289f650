"""Throughput of on-the-fly synthetic burst generation (the training-data pipeline).

14 frames at x4 from 384x384 ground-truth crops of the bundled colour training images,
with the default settings (random Brooks noise, 12-bit, random translation <= 24 px and
rotation <= 1 degree), in this process and through a torch DataLoader with workers.
Target of issue 3: >= 10 bursts per second on 2 cores.

Run: python benchmarks/bench_burst_dataset.py [--n 60]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import markdown_table
from torch.utils.data import DataLoader

from inversa.burst.dataset import SyntheticBurstDataset
from inversa.burst.synth import SynthConfig


def rate_single(ds, n: int) -> float:
    ds[0]
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        ds[i]
    return n / (time.perf_counter() - t0)


def rate_loader(ds, n: int, workers: int, batch: int = 4) -> float:
    dl = DataLoader(ds, batch_size=batch, num_workers=workers)
    it = iter(dl)
    next(it)  # start-up (worker spawn, image loading) not counted
    t0 = time.perf_counter()
    seen = 0
    for b in it:
        seen += b["raw"].shape[0]
        if seen >= n:
            break
    return seen / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = []
    for interp in ("bilinear", "bicubic"):
        ds = SyntheticBurstDataset(crop=384, config=SynthConfig(scale=4, frames=14,
                                                                interpolation=interp),
                                   length=10 * args.n + 10)
        rows.append([interp, "in process (2 threads)", f"{rate_single(ds, args.n):.1f}"])
        rows.append([interp, "DataLoader, 2 workers", f"{rate_loader(ds, args.n, 2):.1f}"])
    print("\nSynthetic bursts: 14 frames, x4, 384x384 ground truth -> 96x96 RGGB frames")
    print(markdown_table(["warp interpolation", "how", "bursts / s"], rows))


if __name__ == "__main__":
    main()
