"""The learned burst reconstruction ("Lucas-Kanade reloaded", ``method="learned"``) against
the classical methods, on held-out synthetic bursts (DBSR protocol, as bench_burst.py).

Bursts: crops of the held-out photographs (astronaut, coffee, chelsea; never used in
training), x4 (384x384 ground truth, 96x96 RGGB frames) or x2 (192x192 -> 96x96), 14
frames, random translation <= 24 HR pixels and rotation <= 1 degree, Brooks et al. noise,
12 bits. Everything blind: frames aligned by the aligner, noise estimated from the
reference frame. PSNR and SSIM in linear camera RGB against the ground truth, 16-pixel
border excluded; wall time per burst with 2 torch threads (alignment included).

Parts (``--parts``, default all):
  A  x4 table: anchor, merge, map (TV), map (PnP), learned as shipped (its defaults: the
     transposed-burst ensemble, ReconConfig.transpose_ensemble, at x2 only), learned with
     one solve and with the transposed-burst ensemble (with ``--x8`` also the 8-member
     ensemble of the mirrored and transposed bursts, flip_ensemble); inference time
  B  x2 table (same methods)
  C  PSNR against the number of frames (1, 2, 4, 8, 14, 30), medium noise; figure
  D  robustness: noise 2x beyond the training range; one frame replaced by an unrelated
     image; one frame shifted by 104 HR pixels (26 raw pixels, circularly)
  E  ablations: no motion refinement in the loop, TV prox instead of the learned prior,
     fewer stages (the first T stages of the trained model)
  F  memory: peak RSS of tiled learned x2 reconstructions of growing frames (subprocess)
  G  figure: reference, anchor, map, learned and ground truth through the ISP

Run: python benchmarks/bench_lkr.py [--per-image 4] [--parts ABCDEFG] [--x8]
"""

from __future__ import annotations

import argparse
import copy
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import TEST_COLOR, bundled, isp_panels, markdown_table

from inversa.burst.align import align_burst
from inversa.burst.lkr import LKRConfig, load_lkr
from inversa.burst.reconstruct import ReconConfig, learned_weights, lkr_model, reconstruct
from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.burstio import Burst
from inversa.camera.demosaic import demosaic_bilinear
from inversa.camera.noise import NoiseLevels, random_noise_levels
from inversa.camera.noise_estimate import estimate_noise_levels
from inversa.metrics import psnr

FIG = Path(__file__).resolve().parent.parent / "docs" / "figures"
METHODS = {
    "anchor": dict(method="anchor"),
    "merge": dict(method="merge"),
    "map, TV": dict(method="map", prior="tv"),
    "map, PnP": dict(method="map", prior="pnp"),
    "learned": dict(method="learned"),  # the default: transposed-burst ensemble at x2 only
    "learned, one solve": dict(method="learned", transpose_ensemble=False),
    "learned + transposed": dict(method="learned", transpose_ensemble=True),
}
MEDIUM = 3e-3


def levels(shot: float) -> NoiseLevels:
    """Read level on the Brooks et al. line for a shot level."""
    return NoiseLevels(shot, math.exp(2.18 * math.log(shot) + 1.2))


def make_burst(src: torch.Tensor, g: torch.Generator, seed: int, noise, scale: int = 4,
               frames: int = 14):
    hh, ww = src.shape[-2:]
    size = min(96 * scale, (min(hh, ww) - 12) // 8 * 8)
    ch, cw = min(size + 64, hh), min(size + 64, ww)
    top = int(torch.randint(0, hh - ch + 1, (1,), generator=g))
    left = int(torch.randint(0, ww - cw + 1, (1,), generator=g))
    img = src[..., top:top + ch, left:left + cw]
    box = ((ch - size) // 2, (cw - size) // 2, size, size)
    return synthesize_burst(img, SynthConfig(scale=scale, frames=frames, noise=noise),
                            seed=seed, box=box)


def score(x: torch.Tensor, gt: torch.Tensor) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    a, b = x[0, :, 16:-16, 16:-16], gt[:, 16:-16, 16:-16]
    s = structural_similarity(a.permute(1, 2, 0).double().numpy(),
                              b.permute(1, 2, 0).double().numpy(), channel_axis=2,
                              data_range=1.0)
    return psnr(a[None], b[None]), float(s)


def run(burst: Burst, cfg: dict, scale: int, frames: int | None = None):
    t0 = time.perf_counter()
    x = reconstruct(burst, ReconConfig(scale=scale, max_frames=frames, **cfg)).x
    return x, time.perf_counter() - t0


def bursts(per_image: int, scale: int, seed0: int, noise=None, frames: int = 14):
    for ii, name in enumerate(TEST_COLOR):
        src = bundled(name)
        for b in range(per_image):
            g = torch.Generator().manual_seed(seed0 + 100 * ii + b)
            lv = noise if noise is not None else random_noise_levels(g)
            yield name, make_burst(src, g, seed=10 * ii + b, noise=lv, scale=scale,
                                   frames=frames)


def table(per_image: int, scale: int, seed0: int):
    res = {m: [] for m in METHODS}
    example = None
    for name, sb in bursts(per_image, scale, seed0):
        outs, row = {}, [name, f"{sb.burst.noise.shot:.1e}"]
        for label, cfg in METHODS.items():
            x, dt = run(sb.burst, cfg, scale)
            res[label].append((*score(x, sb.gt), dt))
            row.append(f"{res[label][-1][0]:.2f}")
            outs[label] = x
        print(" | ".join(row), flush=True)
        if example is None:
            example = (sb, outs)
    anchor = np.array([v[0] for v in res["anchor"]])
    rows = []
    for label, v in res.items():
        a = np.array(v)
        rows.append([label, f"{a[:, 0].mean():.2f}", f"{a[:, 1].mean():.4f}",
                     f"{(a[:, 0] - anchor).mean():+.2f}", f"{a[:, 2].mean():.2f}"])
    n = len(anchor)
    print(f"\nx{scale}, 14 frames, {n} held-out bursts, random Brooks noise, blind; torch "
          f"threads {torch.get_num_threads()}")
    print(markdown_table(["method", "PSNR (dB)", "SSIM", "vs anchor", "seconds / burst"],
                         rows))
    for label in [m for m in res if m.startswith("learned")]:
        lm = np.array([v[0] for v in res[label]]) - np.array([v[0] for v in res["map, PnP"]])
        print(f"{label} - map PnP: mean {lm.mean():+.2f} dB, min {lm.min():+.2f}, "
              f"max {lm.max():+.2f}")
    return example


def frames_sweep(per_image: int) -> None:
    counts = (1, 2, 4, 8, 14, 30)
    methods = {"anchor": dict(method="anchor"), "single": dict(method="single"),
               "merge": dict(method="merge"), "learned": dict(method="learned")}
    once = ("anchor", "single")  # reference frame only: one value, drawn flat
    res = {m: {k: [] for k in counts} for m in methods}
    for _, sb in bursts(per_image, 4, 9000, noise=levels(MEDIUM), frames=30):
        for m, cfg in methods.items():
            for k in counts if m not in once else (1,):
                x, _ = run(sb.burst, cfg, 4, frames=k)
                res[m][k].append(score(x, sb.gt)[0])
    for m in once:
        res[m] = {k: res[m][1] for k in counts}
    n = 3 * per_image
    print(f"\nPSNR vs number of frames (x4, medium noise shot {MEDIUM}, {n} bursts)")
    print(markdown_table(["method", *map(str, counts)],
                         [[m, *[f"{np.mean(res[m][k]):.2f}" for k in counts]]
                          for m in res]))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for m in res:
        ax.plot(counts, [np.mean(res[m][k]) for k in counts], "o-", label=m)
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(k) for k in counts])
    ax.set_xlabel("frames K")
    ax.set_ylabel("PSNR (dB), linear RGB")
    ax.set_title(f"x4, medium noise, {n} held-out bursts")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(FIG / "lkr_frames.png", dpi=110)
    plt.close(fig)


def robustness(per_image: int) -> None:
    print(f"\nRobustness (x4, 14 frames, {3 * per_image} bursts per row)")
    hi = levels(2 * 1.2e-2)  # twice the largest shot level of training
    rows = []
    res = {m: [] for m in ("anchor", "map, PnP", "learned")}
    for _, sb in bursts(per_image, 4, 11000, noise=hi):
        for m in res:
            res[m].append(score(run(sb.burst, METHODS[m], 4)[0], sb.gt)[0])
    rows.append([f"noise 2x beyond training (shot {hi.shot:.1e})",
                 *[f"{np.mean(res[m]):.2f}" for m in res], ""])
    other = bundled("astronaut")
    clean, swapped, shifted = [], [], []
    for name, sb in bursts(per_image, 4, 12000, noise=levels(MEDIUM)):
        raw = sb.burst.raw
        clean.append(score(run(sb.burst, METHODS["learned"], 4)[0], sb.gt)[0])
        g = torch.Generator().manual_seed(5)
        src = other if name != "astronaut" else bundled("coffee")
        alien = make_burst(src, g, seed=99, noise=levels(MEDIUM), frames=1).burst.raw[0]
        bad = raw.clone()
        bad[7] = alien[:raw.shape[-2], :raw.shape[-1]]
        swapped.append(score(run(_with_raw(sb.burst, bad), METHODS["learned"], 4)[0],
                             sb.gt)[0])
        bad = raw.clone()
        bad[7] = torch.roll(raw[7], shifts=26, dims=-1)
        shifted.append(score(run(_with_raw(sb.burst, bad), METHODS["learned"], 4)[0],
                             sb.gt)[0])
    c = np.array(clean)

    def vs_clean(v: list[float]) -> str:
        d = np.array(v) - c
        return f"{d.mean():+.2f} (worst {d.min():+.2f})"

    rows += [["clean burst (medium noise)", "", "", f"{c.mean():.2f}", ""],
             ["frame 7 replaced by an unrelated image", "", "", f"{np.mean(swapped):.2f}",
              vs_clean(swapped)],
             ["frame 7 shifted by 104 HR px", "", "", f"{np.mean(shifted):.2f}",
              vs_clean(shifted)]]
    print(markdown_table(["case", "anchor", "map, PnP", "learned", "learned vs clean burst"],
                         rows))


def _with_raw(b: Burst, raw: torch.Tensor) -> Burst:
    nb = copy.copy(b)
    nb.raw = raw
    return nb


class TVProx(torch.nn.Module):
    """The TV prox in place of the learned prior: ``prox_{c sigma TV}(v)``."""

    def __init__(self, c: float):
        super().__init__()
        from inversa.priors import TotalVariation

        self.c, self.tv = c, TotalVariation(joint_channels=True, max_iter=30)

    def forward(self, v: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.tv.prox(v, self.c * float(sigma.reshape(-1)[0]))


def ablations(per_image: int) -> None:
    base = load_lkr()
    t = base.config.stages

    def variant(**changes):
        net = copy.deepcopy(base)
        cfg = {**base.config.to_dict(), **changes}
        cfg["scales"] = tuple(cfg["scales"])
        net.config = LKRConfig(**cfg)
        return net

    # TV weight: chosen on the validation photograph (rocket), never the test images
    val = make_burst(bundled("rocket"), torch.Generator().manual_seed(1), seed=1,
                     noise=levels(MEDIUM))
    best_c, best_p = None, -1.0
    for c in (0.25, 0.5, 1.0, 2.0, 4.0):
        net = variant()
        net.prior = TVProx(c)
        p = score(_learned_with(net, val.burst), val.gt)[0]
        if p > best_p:
            best_c, best_p = c, p
    tvnet = variant()
    tvnet.prior = TVProx(best_c)
    variants = {f"full model (T = {t})": base,
                "no motion refinement in the loop": variant(refine_from=t),
                f"TV prox instead of the learned prior (c = {best_c}, chosen on rocket)": tvnet}
    for k in range(1, t):
        variants[f"first {k} stage{'s' if k > 1 else ''}"] = variant(stages=k)
    res = {v: [] for v in variants}
    times = {v: [] for v in variants}
    for _, sb in bursts(per_image, 4, 7000):
        for v, net in variants.items():
            t0 = time.perf_counter()
            x = _learned_with(net, sb.burst)
            times[v].append(time.perf_counter() - t0)
            res[v].append(score(x, sb.gt)[0])
    full = np.array(res[f"full model (T = {t})"])
    print(f"\nAblations (x4, 14 frames, {3 * per_image} bursts of part A)")
    print(markdown_table(["variant", "PSNR (dB)", "vs full", "seconds / burst"],
                         [[v, f"{np.mean(r):.2f}", f"{(np.array(r) - full).mean():+.2f}",
                           f"{np.mean(times[v]):.2f}"] for v, r in res.items()]))


def _learned_with(net, burst: Burst) -> torch.Tensor:
    """What ``reconstruct(method="learned", scale=4)`` does on a frame of one tile (align,
    drop failed frames, estimate the noise, run), with another network."""
    raw = burst.raw
    al = align_burst(raw)
    lv = estimate_noise_levels(raw[0])
    with torch.no_grad():
        return net(raw[al.ok], burst.cfa, al.to_hr(4)[al.ok], 4, lv).clamp(min=0)


MEMORY_CHILD = """
import resource, sys, time, torch
torch.set_num_threads(2)
from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.burst.reconstruct import ReconConfig, reconstruct
from inversa.data.images import bundled
n = int(sys.argv[1])
img = bundled("astronaut")
img = torch.nn.functional.interpolate(img, size=(2 * n + 64, 2 * n + 64), mode="bilinear")
sb = synthesize_burst(img, SynthConfig(scale=2, frames=6), seed=0, box=(32, 32, 2 * n, 2 * n))
del img
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.time()
x = reconstruct(sb.burst, ReconConfig(method="learned", scale=2)).x
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(n, base / 2**20, peak / 2**20, time.time() - t0)
"""


def memory() -> None:
    rows = []
    for n in (512, 1024):
        out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(n)], check=True,
                             capture_output=True, text=True).stdout.split()
        rows.append([f"{n}x{n} raw x 6 frames -> {2 * n}x{2 * n}", f"{float(out[1]):.2f}",
                     f"{float(out[2]):.2f}", f"{float(out[2]) - float(out[1]):+.2f}",
                     f"{float(out[3]):.0f}"])
    print("\nMemory of the tiled learned reconstruction (x2, 6 frames; peak RSS in GiB)")
    print(markdown_table(["frames", "RSS after synthesis", "peak RSS", "added by learned",
                          "seconds"], rows))


def figure(sb, outs) -> None:
    ref = F.interpolate(demosaic_bilinear(sb.burst.raw[0], sb.burst.cfa)[None],
                        scale_factor=4, mode="nearest")
    panels = [("reference frame (x4 nearest)", ref)]
    for label in ("anchor", "map, PnP", "learned"):
        panels.append((f"{label} {score(outs[label], sb.gt)[0]:.2f} dB", outs[label]))
    panels.append(("ground truth", sb.gt[None]))
    isp_panels(panels, sb.isp, FIG / "lkr_compare.png")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-image", type=int, default=4)
    ap.add_argument("--sweep-per-image", type=int, default=2)
    ap.add_argument("--parts", default="ABCDEFG")
    ap.add_argument("--x8", action="store_true", help="parts A and B also with the 8-member "
                    "ensemble (mirrored and transposed bursts; 8x the time)")
    args = ap.parse_args()
    if args.x8:
        METHODS["learned, 8-member ensemble"] = dict(method="learned", flip_ensemble=True,
                                                     transpose_ensemble=True)
    torch.set_num_threads(2)
    for scale in (2, 4):  # load once, outside the timings
        lkr_model(learned_weights("burst_lkr", scale))
    example = None
    if "A" in args.parts:
        example = table(args.per_image, 4, 7000)
    if "B" in args.parts:
        table(args.per_image, 2, 8000)
    if "C" in args.parts:
        frames_sweep(args.sweep_per_image)
    if "D" in args.parts:
        robustness(args.sweep_per_image)
    if "E" in args.parts:
        ablations(args.sweep_per_image)
    if "F" in args.parts:
        memory()
    if "G" in args.parts:
        if example is None:  # the first burst of part A
            _, sb = next(bursts(1, 4, 7000))
            example = (sb, {m: run(sb.burst, METHODS[m], 4)[0]
                            for m in ("anchor", "map, PnP", "learned")})
        figure(*example)


if __name__ == "__main__":
    main()
