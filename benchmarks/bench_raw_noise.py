"""Accuracy of the single-frame raw noise estimator ``(shot, read)``.

Synthetic raw frames (unprocessed held-out photos, Bayer RGGB, 12-bit, no motion) with
noise levels drawn by the Brooks et al. sampler; for each frame we compare the estimated
noise standard deviation ``sqrt(shot x + read)`` with the truth at three signal levels.
Peer: scikit-image's ``estimate_sigma`` (a single, signal-independent sigma, per Bayer
sub-image, averaged), the usual blind estimator.

Run: python benchmarks/bench_raw_noise.py [--draws 8]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from common import TEST_COLOR, bundled, markdown_table

from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.cfa import pack
from inversa.camera.noise import random_noise_levels
from inversa.camera.noise_estimate import estimate_noise_levels

LEVELS = (0.02, 0.1, 0.4)


def skimage_sigma(raw: torch.Tensor) -> float:
    from skimage.restoration import estimate_sigma

    planes = pack(raw).numpy()
    return float(np.mean([estimate_sigma(p) for p in planes]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--scale", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(2024)
    errs: dict[str, list[list[float]]] = {"inversa": [], "skimage": []}
    by_regime: dict[tuple[str, str], list[float]] = {}
    times = {"inversa": [], "skimage": []}
    rows = []
    for name in TEST_COLOR:
        src = bundled(name)[..., : args.size, : args.size]
        for d in range(args.draws):
            lv = random_noise_levels(g)
            cfg = SynthConfig(scale=args.scale, frames=1, noise=lv)
            raw = synthesize_burst(src, cfg, seed=1000 + d).burst.raw[0]
            t0 = time.perf_counter()
            est = estimate_noise_levels(raw)
            times["inversa"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sk = skimage_sigma(raw)
            times["skimage"].append(time.perf_counter() - t0)
            true = [math.sqrt(lv.shot * x + lv.read) for x in LEVELS]
            e_inv = [math.sqrt(est.shot * x + est.read) / t - 1 for x, t in zip(LEVELS, true)]
            e_sk = [sk / t - 1 for t in true]
            errs["inversa"].append(e_inv)
            errs["skimage"].append(e_sk)
            regime = "high (shot > 1e-3)" if lv.shot > 1e-3 else "low (shot <= 1e-3)"
            for m, e in (("inversa", e_inv), ("skimage", e_sk)):
                by_regime.setdefault((m, regime), []).append(float(np.mean(np.abs(e))))
            rows.append([name, f"{lv.shot:.2e}", f"{lv.read:.2e}", f"{est.shot:.2e}",
                         f"{est.read:.2e}", " / ".join(f"{v:+.0%}" for v in e_inv),
                         " / ".join(f"{v:+.0%}" for v in e_sk)])
    print(f"\nRaw noise estimation, {len(TEST_COLOR)} held-out images x {args.draws} Brooks "
          f"levels, {args.size}x{args.size} RGGB 12-bit frames, torch threads "
          f"{torch.get_num_threads()}")
    header = ["method"] + [f"median abs. std error at x={x}" for x in LEVELS] + [
        "90th pct. (all levels)", "mean s / frame"]
    table = []
    for m in ("inversa", "skimage"):
        a = np.abs(np.array(errs[m]))
        table.append([m + (" (shot, read) fit" if m == "inversa" else " estimate_sigma")]
                     + [f"{np.median(a[:, i]):.1%}" for i in range(len(LEVELS))]
                     + [f"{np.percentile(a, 90):.1%}", f"{np.mean(times[m]):.3f}"])
    print(markdown_table(header, table))
    print()
    regimes = sorted({r for _, r in by_regime})
    print(markdown_table(["method"] + [f"mean abs. std error, {r} (n={len(by_regime[('inversa', r)])})"
                                       for r in regimes],
                         [[m] + [f"{np.mean(by_regime[(m, r)]):.1%}" for r in regimes]
                          for m in ("inversa", "skimage")]))
    print()
    print(markdown_table(["image", "shot", "read", "est. shot", "est. read",
                          "inversa std error at " + "/".join(map(str, LEVELS)),
                          "skimage std error"], rows))


if __name__ == "__main__":
    main()
