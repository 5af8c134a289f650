"""Where do the deep detector's false alarms sit? Its local maxima at or above 4 on
companion-free tuning cubes, with PACO's S/N at the same pixel.

    cd benchmarks && python exo_deep_null_peaks.py exo_deep 3014 3010 3012 3001 \
        --model2 /tmp/exo_d60/exo_deep.pt --seeds2 3013 3014 3011 | tee exo_deep_null_peaks.out.txt

Cubes: ``SimConfig()`` without companions, true angles (the null-tail fit's seeds
3000-3039; these are those where the models' S/N was highest,
``exo_null_calibration_tuning.out.txt`` and ``exo_deep_detrend60.out.txt``). Both maps
are calibrated without the null-tail map. For each peak beyond 2 FWHM: the deep S/N and
logit, the separation, the distance to the nearest pixel where the map is undefined, and
PACO's S/N there.
"""

from __future__ import annotations

import argparse
import warnings

import torch

from inversa.exo.candidates import local_maxima
from inversa.exo.deep.detect import DeepConfig, fit_observation
from inversa.exo.geometry import polar_grid
from inversa.exo.paco import PacoConfig, paco_map
from inversa.exo.psf import fwhm
from inversa.exo.simulate import SimConfig, simulate


def peaks(model: str, seed: int) -> None:
    sim = simulate(SimConfig(), [], seed=seed)
    f = fwhm(sim.psf)
    fit = fit_observation(sim.cube, sim.angles, sim.psf,
                          DeepConfig(model=model, seed=seed, null_tail=False))
    dm = fit.apply(sim.cube, sim.angles, sim.psf)
    pm = paco_map(sim.cube, sim.angles, sim.psf, PacoConfig(null_tail=False))
    sep, _ = polar_grid(dm.snr.shape)
    yy, xx = torch.nonzero(~torch.isfinite(dm.snr), as_tuple=True)
    for y, x in local_maxima(torch.nan_to_num(dm.snr, nan=-1e9), 4.0, f):
        if sep[y, x] < 2 * f:
            continue
        edge = float(torch.sqrt((yy - y) ** 2 + (xx - x) ** 2).min())
        print(f"| {model} | {seed} | {dm.snr[y, x]:.2f} | {dm.logit[y, x]:.2f} | "
              f"{sep[y, x]:.1f} ({sep[y, x] / f:.1f}) | {edge:.1f} | {pm.snr[y, x]:.2f} |",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("seeds", type=int, nargs="+")
    ap.add_argument("--model2", default="")
    ap.add_argument("--seeds2", type=int, nargs="*", default=[])
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    print("| model | seed | deep S/N | logit | separation px (FWHM) | px to undefined | "
          "PACO S/N |")
    print("|---|---|---|---|---|---|---|")
    for model, seeds in ((args.model, args.seeds), (args.model2, args.seeds2)):
        for seed in seeds if model else []:
            peaks(model, seed)


if __name__ == "__main__":
    main()
