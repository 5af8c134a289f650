"""The deep detector's flux network against PACO's unbiased flux, on the same companions.

    cd benchmarks && python exo_flux_head.py --fresh 40 \
        --save ../tests/exo/data/exo_flux_fresh.json | tee exo_flux_head.out.txt

Two sets of cubes never used to train the network (its cubes: seeds 20000-20099):

* the six held-out benchmark cubes (seeds 100-105, 4 companions each, contrasts 1e-5 to
  2e-4, ``bench_exo.held_out_cube``);
* ``--fresh`` more cubes of the simulator's defaults (seeds 22000+), 8 companions each at
  contrasts log-uniform in 4e-6 to 4e-4, for counts large enough to read a coverage;
* ``--small`` small cubes unlike the training ones (24 frames of 64 x 64, seeds 23000+,
  3 companions each at 3e-5 to 2e-4), the kind the test suite simulates.

Every companion whose PACO S/N peak (within one FWHM of the truth) reaches ``--snr`` is
measured at the parabola-refined peak, as ``inversa exo detect`` does; both estimators see
the same measure (:func:`inversa.exo.deep.flux.measure`). Printed: the median relative
flux error, the share of companions with ``|flux - true| <= error`` (nominal 68 %), and
the mean and spread of ``z = (flux - true) / error``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from bench_exo import held_out_cube

from inversa.exo.deep.flux import DEFAULT_FLUX_MODEL, load_flux_head
from inversa.exo.simulate import SimConfig, random_companions, simulate
from inversa.train.exo_flux import measured_companions, scores


def measured(sim, min_snr: float) -> list[tuple[float, object]]:
    """(true flux, measure) of the companions PACO finds at ``min_snr`` in ``sim``."""
    return [(c.flux, m) for c, m, _ in measured_companions(sim, min_snr)]


def table(name: str, rows: list[tuple[float, object]], head) -> None:
    if not rows:
        print(f"| {name} | 0 | | | | |")
        return
    truth = np.array([t for t, _ in rows])
    ms = [m for _, m in rows]
    for label, est in (("PACO unbiased", [(m.flux, m.flux_err) for m in ms]),
                       ("flux network", head.estimate(ms))):
        s = scores(est, truth)
        print(f"| {name} | {s['n']} | {label} | {100 * s['median_rel_error']:.1f} % | "
              f"{100 * s['coverage_68']:.0f} % | {s['z_mean']:+.2f} / {s['z_std']:.2f} |",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fresh", type=int, default=40)
    ap.add_argument("--fresh-seed0", type=int, default=22000)
    ap.add_argument("--small", type=int, default=12)
    ap.add_argument("--small-seed0", type=int, default=23000)
    ap.add_argument("--snr", type=float, default=5.0)
    ap.add_argument("--model", default=DEFAULT_FLUX_MODEL)
    ap.add_argument("--save", default="", help="write the fresh cubes' measured companions "
                                               "here (.json: the measure and the truth)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    head = load_flux_head(args.model)
    t0 = time.perf_counter()
    bench = []
    for k in range(6):
        _, comps, sim, _, _ = held_out_cube(100 + k, k, 6)
        bench += measured(sim, args.snr)
    fresh = []
    cfg = SimConfig()
    for k in range(args.fresh):
        seed = args.fresh_seed0 + k
        comps = random_companions(8, (4e-6, 4e-4), cfg.size, 4.1, seed=seed + 50000)
        fresh += measured(simulate(cfg, comps, seed=seed), args.snr)
    if args.save:
        Path(args.save).write_text(json.dumps(
            [{**asdict(m), "true": t} for t, m in fresh], indent=0))
    small = []
    scfg = SimConfig(frames=24, size=64, subframes=4, rotation=60.0)
    for k in range(args.small):
        seed = args.small_seed0 + k
        comps = random_companions(3, (3e-5, 2e-4), 64, 4.1, seed=seed + 100, min_sep=10)
        small += measured(simulate(scfg, comps, seed=seed), args.snr)
    print(f"\nflux network {args.model}: coverage factor {float(head.coverage):.3f}; "
          f"companions at PACO S/N >= {args.snr:g}; {time.perf_counter() - t0:.0f} s\n")
    print("| cubes | n | estimator | median relative error | 68 % coverage | z mean / std |")
    print("|---|---|---|---|---|---|")
    table("benchmark 100-105", bench, head)
    table(f"fresh {args.fresh_seed0}+ ({args.fresh})", fresh, head)
    for lo, hi in ((0, 20), (20, 35), (35, 99)):
        part = [r for r in fresh if lo <= r[1].separation < hi]
        table(f"fresh, {lo}-{hi} px", part, head)
    for lo, hi in ((5, 8), (8, 15), (15, 1e9)):
        part = [r for r in fresh if lo <= r[1].flux / r[1].flux_err < hi]
        table(f"fresh, unbiased S/N {lo:g}-{hi:g}", part, head)
    table(f"small {args.small_seed0}+ ({args.small}; 24 x 64 x 64)", small, head)


if __name__ == "__main__":
    main()
