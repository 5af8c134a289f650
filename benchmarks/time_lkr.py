"""Wall time of the learned burst reconstruction on the first x4 burst of bench_lkr.py
(astronaut, 14 frames of 96x96 -> 384x384, blind, 2 torch threads): one warm-up run, then
two timed runs. To tell a slower machine from slower code, run it on an older commit's
code with today's weights:

    git worktree add /tmp/wt REV && cp src/inversa/weights/burst_lkr.pt /tmp/wt/src/inversa/weights/
    PYTHONPATH=/tmp/wt/src python benchmarks/time_lkr.py /tmp/wt
    git worktree remove --force /tmp/wt

Run: python benchmarks/time_lkr.py [REPO (default: this one)]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


def main() -> None:
    repo = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(repo / "benchmarks"))
    from bench_lkr import METHODS, bursts, run

    import inversa

    torch.set_num_threads(2)
    print(f"inversa from {Path(inversa.__file__).parent}")
    _, sb = next(bursts(1, 4, 7000))  # the first burst of the x4 table
    run(sb.burst, METHODS["learned"], 4)
    times = [run(sb.burst, METHODS["learned"], 4)[1] for _ in range(2)]
    print("learned x4, seconds: " + ", ".join(f"{t:.2f}" for t in times))


if __name__ == "__main__":
    main()
