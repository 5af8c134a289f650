"""A 100 x 512 x 512 ADI cube through `inversa exo detect` (PACO): wall time and peak memory.

    python benchmarks/bench_exo_large.py | tee benchmarks/bench_exo_large.out.txt

The cube is simulated first by `inversa exo simulate` in its own process; the detection
then runs in a second process whose peak resident memory (ru_maxrss) is reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys
from inversa.cli.main import app
try:
    app(sys.argv[1:])
except SystemExit as e:
    if e.code:
        raise
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--subframes", type=int, default=4)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("inversa"))
    with tempfile.TemporaryDirectory() as tmp:
        sim = Path(tmp) / "sim"
        t0 = time.perf_counter()
        subprocess.run([exe, "exo", "simulate", "-o", str(sim), "--frames", str(args.frames),
                        "--size", str(args.size), "--planets", "6", "--contrast",
                        "3e-5..2e-4", "--subframes", str(args.subframes), "--seed", "7"],
                       check=True, stdout=subprocess.DEVNULL)
        t_sim = time.perf_counter() - t0
        cli = ["exo", "detect", str(sim / "cube.fits"), "--angles", str(sim / "angles.fits"),
               "--psf", str(sim / "psf.fits"), "-o", str(Path(tmp) / "det")]
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, *cli], check=True,
                             capture_output=True, text=True).stdout
        t_det = time.perf_counter() - t0
        peak = int(out.strip().splitlines()[-1])
        rep = json.loads((Path(tmp) / "det" / "report.json").read_text())
        truth = json.loads((sim / "truth.json").read_text())["companions"]
        from astropy.table import Table

        cands = Table.read(Path(tmp) / "det" / "candidates.ecsv")
        found = sum(any((r["x"] - t["x"]) ** 2 + (r["y"] - t["y"]) ** 2 < 4 for r in cands)
                    for t in truth)
    print(f"cube {args.frames} x {args.size} x {args.size} "
          f"({args.frames * args.size ** 2 * 4 / 2**20:.0f} MiB float32)")
    print(f"simulation: {t_sim:.0f} s")
    print(f"inversa exo detect (PACO, calibrated, unbiased flux): {t_det:.0f} s wall, "
          f"maps {rep['seconds']['maps']:.0f} s")
    print(f"peak resident memory of the detection process: {peak / 2**20:.2f} GiB")
    print(f"companions found: {found}/{len(truth)}, candidates: {len(cands)}")


if __name__ == "__main__":
    main()
