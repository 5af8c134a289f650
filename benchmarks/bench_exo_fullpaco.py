"""vip-hci's FullPACO next to inversa PACO on the first cube of bench_exo.py (seed 100).

    python benchmarks/bench_exo_fullpaco.py | tee benchmarks/bench_exo_fullpaco.out.txt

FullPACO computes the same statistics as FastPACO lazily along each trajectory and runs
on one process (vip-hci has no multiprocessing for it), so it is timed on one cube only.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from bench_exo import auc, score

from inversa.exo.paco import paco_map
from inversa.exo.psf import fwhm as psf_fwhm
from inversa.exo.simulate import SimConfig, random_companions, simulate


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    from vip_hci.invprob.paco import FullPACO

    seed = 100
    cfg = SimConfig()
    comps = random_companions(4, (1e-5, 2e-4), cfg.size, 4.1, seed=seed + 1000)
    sim = simulate(cfg, comps, seed=seed)
    truths = [c.xy((cfg.size, cfg.size)) for c in comps]
    f = psf_fwhm(sim.psf)
    t0 = time.perf_counter()
    ours = paco_map(sim.cube, sim.angles, sim.psf).snr.numpy()
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = FullPACO(cube=sim.cube.numpy().astype(np.float64), angles=sim.angles.numpy(),
                    psf=sim.psf.numpy().astype(np.float64), fwhm=f, pixscale=1.0,
                    verbose=False)
    snr_full, _ = full.run(cpu=1)
    t_full = time.perf_counter() - t0
    print("cube seed 100, 48 x 128 x 128, 4 companions")
    print("| Method | AUC | TP @5 | FA @5 | seconds |")
    print("|---|---|---|---|---|")
    for name, snr, t in (("inversa PACO", ours, t_ours), ("VIP FullPACO", snr_full, t_full)):
        pos, neg = score(snr, truths, f)
        pos, neg = np.asarray(pos), np.asarray(neg)
        print(f"| {name} | {auc(pos, neg):.3f} | {int((pos >= 5).sum())} | "
              f"{int((neg[np.isfinite(neg)] >= 5).sum())} | {t:.1f} |")


if __name__ == "__main__":
    main()
