"""How well do 40 companion-free cubes pin a null tail? The fitted map from two disjoint
sets of 40 cubes, and from both together.

    cd benchmarks && python exo_null_calibration.py --cubes 80 --seed0 3000 --model "" \
        --no-tail --paco-covariance nonlinear --save /tmp/null80.npz
    cd benchmarks && python exo_null_tail_size.py /tmp/null80.npz --cubes 80 \
        | tee exo_null_tail_size.out.txt

The shipped tails (``src/inversa/weights/exo_null_tail.json``) were fitted on the calibrated
S/N (null tail off) of 40 cubes, seeds 3000-3039, with the generalised Pareto tail beyond
the 300 highest pixels (:func:`inversa.exo.null_tail.fit_tail`). Above that threshold the
map is an extrapolation whose shape ``xi`` rests on those 300 pixels, which lie within a
few dozen speckle-sized peaks. Here the saved values of 80 cubes (seeds 3000-3079; every
cube has the same number of pixels, so they split by cube) are fitted three ways: the
first 40 cubes (the shipped fit's data, which it should reproduce), the other 40, and all
80 (with 300 and with 600 exceedances, the latter the same tail share as 300 of 40
cubes). Printed per key: the threshold ``u``, ``xi``, ``sigma`` and the
Gaussian-equivalent that the map gives a calibrated S/N of 5, 6 and 7.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from inversa.exo.null_tail import fit_tail, load_tail


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", help=".npz of exo_null_calibration.py --save (null tail off)")
    ap.add_argument("--cubes", type=int, default=80)
    args = ap.parse_args()
    levels = torch.tensor([5.0, 6.0, 7.0], dtype=torch.float64)
    with np.load(args.samples) as z:
        data = {k: z[k] for k in z.files}
    print(f"{args.samples}: {args.cubes} cubes; map of a calibrated S/N of 5 / 6 / 7")
    print("| key | fit on | exceedances | u | xi | sigma | 5 -> | 6 -> | 7 -> |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, v in data.items():
        if len(v) % args.cubes:
            raise SystemExit(f"{key}: {len(v)} values do not split into {args.cubes} cubes")
        per = v.reshape(args.cubes, -1)
        half = args.cubes // 2
        shipped = load_tail(key)
        fits = [("shipped", None, shipped)] if shipped is not None else []
        fits += [(f"cubes 1-{half}", 300, fit_tail(per[:half].ravel(), 300)),
                 (f"cubes {half + 1}-{args.cubes}", 300, fit_tail(per[half:].ravel(), 300)),
                 (f"cubes 1-{args.cubes}", 300, fit_tail(per.ravel(), 300)),
                 (f"cubes 1-{args.cubes}", 600, fit_tail(per.ravel(), 600))]
        for name, exc, t in fits:
            g = t(levels).tolist()
            print(f"| {key} | {name} | {exc or ''} | {t.knots[-1]:.2f} | {t.xi:.3f} | "
                  f"{t.sigma:.3f} | " + " | ".join(f"{x:.2f}" for x in g) + " |")


if __name__ == "__main__":
    main()
