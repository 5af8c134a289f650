"""Can a better per-cube tail model fix the deep detector's calibration? Tuning cubes.

    cd benchmarks && python exo_null_orders.py --cubes 12 --save /tmp/orders.npz
    python exo_deep_calibrator_tail.py /tmp/orders.npz | tee exo_deep_calibrator_tail.out.txt

On the saved logits of companion-free tuning cubes (seeds 3000+), the true-angle logits
are mapped to S/N-equivalents by calibrators fitted on the cube's own null copies
(reversed + two shuffled, or reversed alone): the shipped ``ScoreCalibrator`` (empirical,
exponential tail beyond the top 2 %, the smaller of the two probabilities) and a
peaks-over-threshold variant (empirical body, generalised Pareto tail over the top ``k``
null pixels of each radial zone). Printed: the ratios of the shares at or above 3 and 4
to the Gaussian tail, the pixels at or above 5 and each cube's maximum.
"""

import sys

import numpy as np
import torch
from scipy.special import ndtri
from scipy.stats import genpareto, norm

from inversa.exo.deep.calibration import ScoreCalibrator
from inversa.exo.geometry import polar_grid

ORDERS = ("true", "reversed", "shuffled 1", "shuffled 2")


def gpd_calibrator(nulls, valid, zones: int = 4, k: int = 200):
    """Per zone: empirical body, generalised Pareto tail over the top ``k`` null pixels."""
    sep = polar_grid(valid.shape)[0].numpy()
    s = sep[valid.numpy()]
    edges = np.quantile(s, np.linspace(0, 1, zones + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    parts = []
    for zi in range(zones):
        m = valid.numpy() & (sep >= edges[zi]) & (sep < edges[zi + 1])
        v = np.sort(np.concatenate([n.numpy()[m].astype(np.float64) for n in nulls]))
        u = v[len(v) - k - 1]
        exc = v[len(v) - k:] - u
        xi, _, scale = genpareto.fit(exc, floc=0)
        if xi < 0:
            xi, scale = 0.0, exc.mean()
        parts.append((v, u, xi, scale))

    def snr(scores: torch.Tensor) -> np.ndarray:
        zone = np.clip(np.searchsorted(edges, sep, side="right") - 1, 0, zones - 1)
        x_all = scores.numpy().astype(np.float64)
        p = np.ones_like(x_all)
        for zi, (v, u, xi, scale) in enumerate(parts):
            mm = zone == zi
            x = x_all[mm]
            body = (len(v) - np.searchsorted(v, x, side="left") + 1) / (len(v) + 1)
            tail = (k / len(v)) * genpareto.sf(x - u, xi, scale=scale)
            p[mm] = np.where(x > u, tail, body)
        return -ndtri(np.clip(p, 1e-300, 1 - 1e-7))

    return snr


def main() -> None:
    z = np.load(sys.argv[1] if len(sys.argv) > 1 else "/tmp/orders.npz")
    print("| calibrator | nulls | >= 3 / Gaussian | >= 4 / Gaussian | pixels >= 5 | max | per-cube max |")
    print("|---|---|---|---|---|---|---|")
    for name, k, only_reversed in (("shipped", 0, False), ("Pareto tail", 200, False),
                                   ("Pareto tail", 100, False), ("Pareto tail", 400, False),
                                   ("Pareto tail", 200, True)):
        vals = []
        for c in range(z["valid"].shape[0]):
            valid = torch.from_numpy(z["valid"][c])
            lg = {o: torch.from_numpy(z[f"logit {o}"][c]) for o in ORDERS}
            nulls = [lg["reversed"]] if only_reversed else [lg[o] for o in ORDERS[1:]]
            if k == 0:
                s = ScoreCalibrator.fit(nulls, valid).snr(lg["true"]).numpy()
            else:
                s = gpd_calibrator(nulls, valid, k=k)(torch.nan_to_num(lg["true"], nan=-np.inf))
            vals.append(s[z["keep"][c]])
        v = np.concatenate(vals)
        label = name if k == 0 else f"{name}, k = {k}"
        print(f"| {label} | {'reversed' if only_reversed else 'reversed + 2 shuffled'} | "
              f"{np.mean(v >= 3) / norm.sf(3):.2f} | {np.mean(v >= 4) / norm.sf(4):.2f} | "
              f"{int((v >= 5).sum())} | {v.max():.2f} | "
              + " ".join(f"{x.max():.1f}" for x in vals) + " |")


if __name__ == "__main__":
    main()
