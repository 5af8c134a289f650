"""Does a threshold on the S/N mean what it says? False-alarm rates on companion-free cubes.

    cd benchmarks && python exo_null_calibration.py --cubes 24 --seed0 2000 | tee exo_null_calibration.out.txt

Cubes: ``SimConfig()`` (48 x 128 x 128) with no companion, seeds ``seed0``.. (2000+ are
used by no other benchmark, by training (10000+) or by tuning (900+)). Every pixel
beyond 2 FWHM of the star where the map is finite counts. For each method and threshold
t in 3, 4, 5: the number of pixels at or above t, their share, the Gaussian tail
``P(N(0,1) >= t)`` and the ratio; also the number of distinct peaks (local maxima one
FWHM apart) at or above t, since pixels within one PSF are not independent. The ratio's
95 % interval counts peaks as the independent events (Poisson, exact).
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
import torch
from scipy.stats import chi2, norm

from inversa.exo.candidates import local_maxima
from inversa.exo.deep.model import has_detector
from inversa.exo.null_tail import null_maps
from inversa.exo.paco import COVARIANCES, PacoConfig, tail_key

THRESHOLDS = (3.0, 4.0, 5.0)


def poisson_interval(k: int) -> tuple[float, float]:
    """Exact (Garwood) 95 % interval of a Poisson mean from ``k`` events."""
    lo = 0.0 if k == 0 else chi2.ppf(0.025, 2 * k) / 2
    return lo, chi2.ppf(0.975, 2 * k + 2) / 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubes", type=int, default=24)
    ap.add_argument("--seed0", type=int, default=2000)
    ap.add_argument("--save", default="", help="write every method's S/N values (.npz)")
    ap.add_argument("--model", default="exo_deep", help="deep model: shipped name or .pt")
    ap.add_argument("--no-tail", action="store_true", help="without the shipped null tail")
    ap.add_argument("--paco-detrend", type=int, default=0,
                    help="also PACO with each pixel's trend of this degree removed")
    ap.add_argument("--paco-covariance", nargs="*", default=[], choices=COVARIANCES[1:],
                    help="also PACO with these covariance estimates (inversa.exo.covariance)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    detrended = f"inversa PACO (detrend {args.paco_detrend})"
    shrunk = {tail_key(PacoConfig(covariance=c)): f"inversa PACO ({c} shrinkage)"
              for c in args.paco_covariance}
    methods = ["inversa PACO"] + list(shrunk.values()) \
        + ([detrended] if args.paco_detrend else []) \
        + (["deep (generic model)"] if has_detector(args.model) else [])
    stats = {m: {"pixels": 0, "above": {t: 0 for t in THRESHOLDS},
                 "peaks": {t: 0 for t in THRESHOLDS}, "max": [], "time": [], "values": []}
             for m in methods}
    keys = {"paco": "inversa PACO", "paco_detrend": detrended, args.model: "deep (generic model)",
            **shrunk}
    deep = args.model if "deep (generic model)" in stats else None
    runs = null_maps(args.cubes, args.seed0, deep, null_tail=not args.no_tail,
                     paco_detrend=args.paco_detrend,
                     covariances=("linear", *args.paco_covariance))
    for k, (seed, f, sep, by_key, seconds) in enumerate(runs):
        maps = {keys[key]: snr for key, snr in by_key.items()}
        for key, sec in seconds.items():
            stats[keys[key]]["time"].append(sec)
        line = []
        for m, snr in maps.items():
            keep = torch.isfinite(snr) & (sep >= 2 * f)
            v = snr[keep]
            s = stats[m]
            s["pixels"] += int(v.numel())
            s["values"].append(v.numpy().astype(np.float32))
            s["max"].append(float(v.max()))
            masked = torch.where(keep, snr, torch.full_like(snr, -math.inf))
            for t in THRESHOLDS:
                s["above"][t] += int((v >= t).sum())
                s["peaks"][t] += len(local_maxima(masked, t, f))
            line.append(f"{m}: max {float(v.max()):.2f} ({s['time'][-1]:.1f}s)")
        print(f"cube {k + 1}/{args.cubes} (seed {seed}): " + "  ".join(line), flush=True)

    print(f"\n{args.cubes} companion-free cubes, 48 x 128 x 128, pixels beyond 2 FWHM")
    print("| Method | t | pixels >= t | share | Gaussian | ratio | peaks >= t | ratio 95 % (peaks) |")
    print("|---|---|---|---|---|---|---|---|")
    for m in methods:
        s = stats[m]
        for t in THRESHOLDS:
            g = float(norm.sf(t))
            share = s["above"][t] / s["pixels"]
            n_pk = s["peaks"][t]
            # pixels per peak, measured where there are peaks, else from the lowest threshold
            per = s["above"][t] / n_pk if n_pk else s["above"][3.0] / max(s["peaks"][3.0], 1)
            lo, hi = poisson_interval(n_pk)
            lo_r, hi_r = lo * per / s["pixels"] / g, hi * per / s["pixels"] / g
            print(f"| {m} | {t:.0f} | {s['above'][t]} | {share:.1e} | {g:.1e} | "
                  f"{share / g:.2f} | {n_pk} | {lo_r:.2f} - {hi_r:.2f} |")
    if args.save:
        names = {"inversa PACO": "paco", detrended: "paco_detrend",
                 "deep (generic model)": "exo_deep", **{v: k for k, v in shrunk.items()}}
        np.savez_compressed(args.save, **{names[m]: np.concatenate(stats[m]["values"])
                                          for m in methods})
    for m in methods:
        s = stats[m]
        print(f"{m}: {s['pixels']} pixels, max S/N {max(s['max']):.2f}, "
              f"{np.mean(s['time']):.1f} s / cube")


if __name__ == "__main__":
    main()
