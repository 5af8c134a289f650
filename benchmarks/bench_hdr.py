"""HDR from exposure-bracketed raw bursts, static and dynamic scenes (issue: HDR bursts).

Held-out photos (astronaut, coffee, chelsea), 192x192 ground-truth crops turned into HDR
scenes (``hdr_peak`` 4, one light source, shadows deepened: dynamic range >= 1e3), bursts
of 9 or 14 frames with exposures 1, 4, 1/4 repeated (ratio 16), random camera motion
(<= 24 high-resolution pixels, <= 1 degree), noise from the Brooks et al. sampler, 12-bit;
x2 (96x96 frames) and x1 (192x192 frames); dynamic scenes add two objects moving
independently of the camera, and each has two static twins (same seed): one without the
objects, and one with the same objects held still in the scene (every frame sees them
where the reference does; same ground truth as the dynamic burst, so the regions the
objects cross hold the same content and only the motion differs).

Scores, with a 16-pixel border excluded: PSNR of the radiance normalised by the ground
truth's maximum (linear), and PSNR after the mu-law tone map (mu = 5000, Kalantari and
Ramamoorthi 2017), over the whole image and, for dynamic scenes, in the regions the
objects cross.

Methods, side by side on the same bursts, blind (noise estimated from the reference):
- best single exposure: each exposure's first frame, Malvar demosaic, bicubic upsampling,
  divided by its exposure, warped onto the reference with inversa's alignment; the best
  of the three by mu-law PSNR (an oracle choice);
- naive: inversa's exposure-weighted kernel regression without the confidence g;
- merge: the same with g; map: the HDR MAP problem (TV prior) with g; learned: the
  fine-tuned unrolled network (weights hdr_lkr) on the same data term, when shipped;
  all three with the moving objects' own motion (inversa.burst.local_motion, the
  default); on dynamic scenes also "map, camera motion only" (local_motion=False);
  g is the learned confidence (inversa.burst.confidence_net, weights hdr_g, the default)
  in merge, map and learned; the "(analytic g)" rows use the analytic test instead
  (g_model=None);
- OpenCV Debevec: ``cv2.createMergeDebevec`` on the aligned, demosaicked, upsampled
  frames, encoded as 8-bit gamma-2.2 images (OpenCV takes 8-bit input) with the matching
  response curve; OpenCV Mertens: exposure fusion of the same frames. Mertens gives a
  display image, not radiance: it is scored after undoing the gamma and fitting one gain
  to the ground truth (least squares, an oracle favour).

Also: wall time of ``map`` HDR beside the burst reconstruction's (``inversa burst``'s map,
TV, same burst), and a figure of one dynamic burst (docs/figures/hdr_compare.png).

``--layers`` adds ``map`` and learned with ``inversa hdr --layers`` (moving objects as
layers, ``inversa.burst.layered_hdr``; the one-image result where no object is found),
scored against the same twins (reconstructed without it: they have no moving object).

Run: python benchmarks/bench_hdr.py [--seeds 2] [--layers]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import TEST_COLOR, bundled, markdown_table

from inversa.burst.hdr import (
    HDRConfig,
    has_hdr_model,
    mu_law,
    on_reference,
    reconstruct_hdr,
    relative_exposures,
)
from inversa.burst.hdr_figure import plot_hdr
from inversa.burst.merge import upsample
from inversa.burst.reconstruct import ReconConfig, reconstruct
from inversa.burst.synth import SynthConfig, split_exposures, synthesize_burst
from inversa.camera.demosaic import demosaic_malvar

FIG = Path(__file__).resolve().parent.parent / "docs" / "figures"
LABELS = {"naive": "naive (no g)", "merge": "merge (g)", "map": "map (g)",
          "map-analytic": "map (analytic g)",
          "map-camera": "map (g), camera motion only", "learned": "learned (g)",
          "learned-analytic": "learned (analytic g)",
          "map-layers": "map, --layers", "learned-layers": "learned, --layers"}
B = 16  # border excluded from the scores


def scores(x: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor | None = None):
    """(linear PSNR, mu-law PSNR) of radiance x (3, H, W) against gt, normalised by gt's
    maximum, border excluded, optionally inside ``mask``."""
    pk = float(gt.max())
    a, b = x[:, B:-B, B:-B], gt[:, B:-B, B:-B]
    m = None if mask is None else mask[B:-B, B:-B]
    la, lb = (a / pk).clamp(0, 1), b / pk
    ma, mb = mu_law(a, pk), mu_law(b, pk)
    if m is not None:
        la, lb, ma, mb = la[:, m], lb[:, m], ma[:, m], mb[:, m]

    def p(u, v):
        return float(10 * torch.log10(1 / ((u - v) ** 2).mean().clamp(min=1e-12)))

    return p(la, lb), p(ma, mb)


def aligned_frames(burst, m_hr: torch.Tensor, scale: int) -> list[torch.Tensor]:
    """Every frame demosaicked, upsampled and warped onto the reference, raw units."""
    out = []
    for k in range(burst.frames):
        rgb = upsample(demosaic_malvar(burst.raw[k], burst.cfa)[None].clamp(0, 1), scale)[0]
        out.append(on_reference(rgb[None], m_hr[k:k + 1], mode="bilinear",
                                padding="border")[0].clamp(0, 1))
    return out


def opencv_baselines(frames: list[torch.Tensor], rel: torch.Tensor, gt: torch.Tensor):
    import cv2

    imgs = [np.ascontiguousarray((f.permute(1, 2, 0).numpy() ** (1 / 2.2) * 255)
                                 .round().clip(0, 255).astype(np.uint8)) for f in frames]
    times = np.asarray(rel.numpy(), dtype=np.float32)
    resp = ((np.arange(256, dtype=np.float32) / 255) ** 2.2).clip(1e-4, None)
    resp = np.repeat(resp[:, None, None], 3, axis=2).astype(np.float32)  # (256, 1, 3)
    t0 = time.perf_counter()
    deb = cv2.createMergeDebevec().process(imgs, times=times, response=resp)
    t_deb = time.perf_counter() - t0
    t0 = time.perf_counter()
    mer = cv2.createMergeMertens().process(imgs)
    t_mer = time.perf_counter() - t0
    deb_t = torch.from_numpy(np.nan_to_num(deb)).permute(2, 0, 1).float()
    mer_lin = torch.from_numpy(np.clip(mer, 0, None) ** 2.2).permute(2, 0, 1).float()
    a, b = mer_lin[:, B:-B, B:-B], gt[:, B:-B, B:-B]
    gain = float((a * b).sum() / (a * a).sum().clamp(min=1e-12))
    return deb_t, t_deb, mer_lin * gain, t_mer


def held_out(seeds: int = 2, base: int = 100) -> list[tuple[str, int, int]]:
    """The benchmark's bursts, ``(photo, seed, frames)``: ``seeds`` (at most 10) per
    held-out photo, seeds ``base + 10 i + s``, 9 frames for even ``s`` and 14 for odd.
    The benchmark's own are ``base = 100``, ``s < 2``; seeds 102-129 were the first fresh
    sets, later used in diagnoses; ``base = 200`` gives bursts never run before."""
    if seeds > 10:
        raise ValueError("at most 10 seeds per photo (more would repeat the next photo's)")
    return [(name, base + 10 * TEST_COLOR.index(name) + s, 9 if s % 2 == 0 else 14)
            for name in TEST_COLOR for s in range(seeds)]


def chosen(seeds: int, from_seed: int = 0, only: str = "",
           base: int = 100) -> list[tuple[str, int, int]]:
    """:func:`held_out` without each photo's first ``from_seed`` bursts and, with ``only``
    (comma-separated ``photo/seed``), those bursts alone."""
    names = only.split(",") if only else None
    return [(n, s, f) for n, s, f in held_out(seeds, base)
            if s % 10 >= from_seed and (names is None or f"{n}/{s}" in names)]


def hdr_burst(name: str, seed: int, scale: int, frames: int, moving: int,
              still: bool = False):
    """The benchmark's bracketed burst of photo ``name``: a 192x192 crop drawn from
    ``seed``, exposures 1, 4, 1/4 repeated, highlights at 4, one light, ``moving``
    objects (0: the static twin of the same seed; ``still``: the same objects held still
    in the scene, the static twin with the same content)."""
    img = bundled(name)
    hh, ww = img.shape[-2:]
    g = torch.Generator().manual_seed(seed)
    top = int(torch.randint(0, hh - 192, (1,), generator=g)) // 8 * 8
    left = int(torch.randint(0, ww - 192, (1,), generator=g)) // 8 * 8
    cfg = SynthConfig(scale=scale, frames=frames,
                      exposures=split_exposures("1,4,1/4...", frames), hdr_peak=4.0,
                      lights=1, moving_objects=moving, still_objects=still)
    return synthesize_burst(img, cfg, seed=seed, box=(top, left, 192, 192))


def run_burst(name: str, seed: int, scale: int, frames: int, moving: int, out: dict,
              figure: bool = False, layers: bool = False) -> None:
    sb = hdr_burst(name, seed, scale, frames, moving)
    b, gt = sb.burst, sb.gt
    rel = relative_exposures(b)
    row: dict = {}
    times: dict = {}
    res = {}
    methods = ["naive", "merge", "map", "map-analytic"] + (["map-camera"] if moving else []) \
        + (["learned", "learned-analytic"] if has_hdr_model() else [])
    if layers:  # inversa hdr --layers (moving objects as layers; falls back to one image)
        methods += [m + "-layers" for m in ("map", "learned") if m in methods]
    for m in methods:
        t0 = time.perf_counter()
        if m == "map-camera":
            cfg = HDRConfig(method="map", scale=scale, local_motion=False)
        elif m.endswith("-analytic"):  # the analytic g instead of the learned confidence
            cfg = HDRConfig(method=m.split("-")[0], scale=scale, g_model=None)
        elif m.endswith("-layers"):
            cfg = HDRConfig(method=m.split("-")[0], scale=scale, layers=True)
        else:
            cfg = HDRConfig(method=m, scale=scale)
        res[m] = reconstruct_hdr(b, cfg)
        times[m] = time.perf_counter() - t0
    m_hr = res["map"].alignment.to_hr(scale)
    frames_ref = aligned_frames(b, m_hr, scale)
    firsts = [int((rel == e).nonzero()[0]) for e in sorted(set(rel.tolist()))]
    singles = [frames_ref[k] / float(rel[k]) for k in firsts]
    best = max(singles, key=lambda x: scores(x, gt)[1])
    row["best single exposure"] = scores(best, gt)
    deb, t_deb, mer, t_mer = opencv_baselines(frames_ref, rel, gt)
    row["OpenCV Debevec"] = scores(deb, gt)
    row["OpenCV Mertens (oracle gain)"] = scores(mer, gt)
    times["OpenCV Debevec"], times["OpenCV Mertens (oracle gain)"] = t_deb, t_mer
    for m, label in LABELS.items():
        if m in res:
            row[label] = scores(res[m].x[0], gt)
            times[label] = times.pop(m)
    t0 = time.perf_counter()
    reconstruct(b, ReconConfig(method="map", prior="tv", scale=scale))
    times["burst map (no HDR)"] = time.perf_counter() - t0
    key = (scale, "dynamic" if moving else "static")
    out.setdefault(key, []).append((name, seed, frames, row, times))
    if moving:
        twins = {"static twin": hdr_burst(name, seed, scale, frames, 0),
                 "objects held still": hdr_burst(name, seed, scale, frames, moving, True)}
        mask = sb.moving
        reg = {LABELS[m]: scores(res[m].x[0], gt, mask) for m in methods}
        for m in ("map", "learned"):
            if m in methods:
                for label, twin in twins.items():
                    rt = reconstruct_hdr(twin.burst, HDRConfig(method=m, scale=scale))
                    reg[f"{m}, {label}"] = scores(rt.x[0], twin.gt, mask)
        out.setdefault((scale, "moving regions"), []).append((name, seed, frames, reg, {}))
    if figure:
        FIG.mkdir(parents=True, exist_ok=True)
        mu = row["map (g)"][1]
        nm = row["naive (no g)"][1]
        plot_hdr(b, res["map"], FIG / "hdr_compare.png", naive=res["naive"].x, gt=gt[None],
                 titles={"naive": f"naive merge, no g (mu-law {nm:.1f} dB)",
                         "result": f"map with g (mu-law {mu:.1f} dB)",
                         "gt": "ground truth radiance"})


def summarise(out: dict) -> str:
    lines = []
    for key, runs in out.items():
        scale, kind = key
        names = list(runs[0][3].keys())
        rows = []
        for n in names:
            lin = np.mean([r[3][n][0] for r in runs])
            mu = np.mean([r[3][n][1] for r in runs])
            t = [r[4][n] for r in runs if n in r[4]]
            rows.append([n, f"{lin:.2f}", f"{mu:.2f}", f"{np.mean(t):.2f}" if t else ""])
        lines.append(f"\nx{scale}, {kind} ({len(runs)} bursts: "
                     + ", ".join(f"{r[0]}/{r[1]}/{r[2]}f" for r in runs) + ")")
        lines.append(markdown_table(["method", "PSNR linear (dB)", "PSNR mu-law (dB)",
                                     "seconds"], rows))
        if kind != "moving regions":
            t = [r[4]["burst map (no HDR)"] for r in runs]
            lines.append(f"burst reconstruction (map, TV, no HDR) on the same bursts: "
                         f"{np.mean(t):.2f} s")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--layers", action="store_true",
                    help="also map and learned with --layers (a minute or more per burst)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out: dict = {}
    first = True
    for scale in (2, 1):
        for moving in (0, 2):
            for name, seed, frames in held_out(args.seeds):
                run_burst(name, seed, scale, frames, moving, out,
                          figure=first and moving and scale == 2, layers=args.layers)
                if moving and scale == 2:
                    first = False
                print(f"done x{scale} moving={moving} {name} seed {seed}", flush=True)
    print(summarise(out))


if __name__ == "__main__":
    main()
