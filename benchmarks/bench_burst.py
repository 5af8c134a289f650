"""Burst super-resolution on synthetic raw bursts from held-out photos (DBSR protocol).

x4, 14 frames, 384x384 ground truth -> 96x96 RGGB frames (chelsea, 300 pixels high: 288 ->
72), random translation <= 24 high-resolution pixels and rotation <= 1 degree, noise
levels drawn by the Brooks et al. sampler, 12-bit. PSNR in linear camera RGB against the
ground truth with a 16-pixel border excluded; wall time per burst (2 torch threads).
Methods run side by side on the same bursts; everything is blind (noise estimated from
the reference frame) except "map, true motion", which gets the true motions.

Also: PSNR against the number of frames (1, 2, 4, 8, 14) and against the noise level,
plotted to docs/figures/burst_psnr.png, and a side-by-side figure of one burst
(docs/figures/burst_compare.png).

Run: python benchmarks/bench_burst.py [--per-image 4] [--sweep-bursts 3]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import TEST_COLOR, bundled, isp_panels, markdown_table

from inversa.burst.reconstruct import ReconConfig, reconstruct
from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.demosaic import demosaic_bilinear
from inversa.camera.noise import NoiseLevels, random_noise_levels
from inversa.metrics import psnr

FIG = Path(__file__).resolve().parent.parent / "docs" / "figures"
METHODS = {
    "anchor (bilinear demosaic + bicubic)": dict(method="anchor"),
    "single (reference only, TV)": dict(method="single"),
    "merge (kernel regression)": dict(method="merge"),
    "map, TV prior": dict(method="map", prior="tv"),
    "map, PnP prior": dict(method="map", prior="pnp"),
}


def make_burst(src: torch.Tensor, g: torch.Generator, seed: int, noise, frames: int = 14):
    hh, ww = src.shape[-2:]
    size = min(384, (min(hh, ww) - 12) // 8 * 8)
    ch, cw = min(size + 64, hh), min(size + 64, ww)
    top = int(torch.randint(0, hh - ch + 1, (1,), generator=g))
    left = int(torch.randint(0, ww - cw + 1, (1,), generator=g))
    img = src[..., top:top + ch, left:left + cw]
    box = ((ch - size) // 2, (cw - size) // 2, size, size)
    return synthesize_burst(img, SynthConfig(scale=4, frames=frames, noise=noise), seed=seed,
                            box=box)


def score(x: torch.Tensor, gt: torch.Tensor) -> float:
    return psnr(x[..., 16:-16, 16:-16], gt[None][..., 16:-16, 16:-16])


def run(sb, cfg: dict, true_motion: bool = False, frames: int | None = None):
    t0 = time.perf_counter()
    r = reconstruct(sb.burst, ReconConfig(scale=4, max_frames=frames, **cfg),
                    motions_hr=sb.motions if true_motion else None)
    return r.x, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-image", type=int, default=4)
    ap.add_argument("--sweep-bursts", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    res: dict[str, list[tuple[float, float]]] = {m: [] for m in METHODS}
    res["map, PnP prior, true motion"] = []
    rows = []
    example = None
    for ii, name in enumerate(TEST_COLOR):
        src = bundled(name)
        for b in range(args.per_image):
            g = torch.Generator().manual_seed(7000 + 100 * ii + b)
            sb = make_burst(src, g, seed=10 * ii + b, noise=random_noise_levels(g))
            row = [name, f"{sb.burst.noise.shot:.1e}"]
            outs = {}
            for label, cfg in METHODS.items():
                x, dt = run(sb, cfg)
                res[label].append((score(x, sb.gt), dt))
                row.append(f"{res[label][-1][0]:.2f}")
                outs[label] = x
            x, dt = run(sb, METHODS["map, PnP prior"], true_motion=True)
            res["map, PnP prior, true motion"].append((score(x, sb.gt), dt))
            row.append(f"{res['map, PnP prior, true motion'][-1][0]:.2f}")
            rows.append(row)
            if example is None:
                example = (sb, outs)
            print(" | ".join(row), flush=True)
    n = len(rows)
    print(f"\nBurst SR x4, 14 frames, {n} bursts from {len(TEST_COLOR)} held-out images, "
          f"random Brooks noise; torch threads {torch.get_num_threads()}")
    anchor = np.array([v[0] for v in res[next(iter(METHODS))]])
    table = []
    for label, v in res.items():
        a = np.array(v)
        table.append([label, f"{a[:, 0].mean():.2f}", f"{(a[:, 0] - anchor).mean():+.2f}",
                      f"{a[:, 1].mean():.2f}"])
    print(markdown_table(["method", "PSNR (dB)", "vs anchor", "seconds / burst"], table))
    print()
    print(markdown_table(["image", "shot", *METHODS, "map PnP, true motion"], rows))

    # -- sweeps: frames and noise ------------------------------------------------------
    frames_list = (1, 2, 4, 8, 14)
    levels = {"low 3e-4": 3e-4, "medium 3e-3": 3e-3, "high 1.2e-2": 1.2e-2}
    sweep_methods = {"merge": dict(method="merge"), "map PnP": dict(method="map", prior="pnp")}
    by_frames = {m: {f: [] for f in frames_list} for m in sweep_methods}
    by_noise = {m: {lv: [] for lv in levels} for m in [*sweep_methods, "anchor"]}
    for ii, name in enumerate(TEST_COLOR):
        src = bundled(name)
        for b in range(args.sweep_bursts):
            for lv, shot in levels.items():
                g = torch.Generator().manual_seed(9000 + 100 * ii + b)
                noise = NoiseLevels(shot, math.exp(2.18 * math.log(shot) + 1.2))
                sb = make_burst(src, g, seed=500 + 10 * ii + b, noise=noise)
                for m, cfg in sweep_methods.items():
                    for f in frames_list if lv.startswith("medium") else (14,):
                        x, _ = run(sb, cfg, frames=f)
                        if lv.startswith("medium"):
                            by_frames[m][f].append(score(x, sb.gt))
                        if f == 14:
                            by_noise[m][lv].append(score(x, sb.gt))
                x, _ = run(sb, dict(method="anchor"))
                by_noise["anchor"][lv].append(score(x, sb.gt))
    print(f"\nPSNR vs number of frames (medium noise, {3 * args.sweep_bursts} bursts)")
    print(markdown_table(["method", *[str(f) for f in frames_list]],
                         [[m, *[f"{np.mean(by_frames[m][f]):.2f}" for f in frames_list]]
                          for m in sweep_methods]))
    print(f"\nPSNR vs noise level (14 frames, {3 * args.sweep_bursts} bursts)")
    print(markdown_table(["method", *levels],
                         [[m, *[f"{np.mean(by_noise[m][lv]):.2f}" for lv in levels]]
                          for m in by_noise]))
    plot(by_frames, by_noise, frames_list, levels)
    if example is not None:
        figure(*example)


def plot(by_frames, by_noise, frames_list, levels) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for m, d in by_frames.items():
        ax[0].plot(frames_list, [np.mean(d[f]) for f in frames_list], "o-", label=m)
    ax[0].set_xscale("log", base=2)
    ax[0].set_xticks(frames_list, [str(f) for f in frames_list])
    ax[0].set_xlabel("frames K")
    ax[0].set_ylabel("PSNR (dB), linear RGB")
    ax[0].set_title("x4, medium noise (shot 3e-3)")
    ax[0].grid(alpha=0.3)
    ax[0].legend()
    xs = range(len(levels))
    for m, d in by_noise.items():
        ax[1].plot(xs, [np.mean(d[lv]) for lv in levels], "o-", label=m)
    ax[1].set_xticks(list(xs), list(levels))
    ax[1].set_xlabel("noise level (shot)")
    ax[1].set_title("x4, 14 frames")
    ax[1].grid(alpha=0.3)
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(FIG / "burst_psnr.png", dpi=110)
    plt.close(fig)


def figure(sb, outs) -> None:
    ref = F.interpolate(demosaic_bilinear(sb.burst.raw[0], sb.burst.cfa)[None],
                        scale_factor=4, mode="nearest")
    panels = [("reference frame (x4 nearest)", ref)]
    for label in ("single (reference only, TV)", "merge (kernel regression)",
                  "map, PnP prior"):
        panels.append((f"{label.split(' (')[0]} {score(outs[label], sb.gt):.2f} dB",
                       outs[label]))
    panels.append(("ground truth", sb.gt[None]))
    isp_panels(panels, sb.isp, FIG / "burst_compare.png")


if __name__ == "__main__":
    main()
