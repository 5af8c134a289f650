"""Alignment accuracy on synthetic raw bursts with known motion (DBSR protocol).

Bursts: 14 frames, x4, 384x384 ground truth -> 96x96 RGGB frames, random translation up
to 24 high-resolution pixels and rotation up to 1 degree, from crops of the held-out
colour images; three noise levels (shot 3e-4 / 3e-3 / 1.2e-2, read on the Brooks et al.
line). Error: mean end-point error of the motion field over the frame, in low-resolution
(raw) pixels, frames 1..13. Time: per aligned frame, the fastest of 5 runs of each burst
(the refinement: one run).

- inversa LK: robust Gauss-Newton on the raw mosaic (similarity model), pyramid,
  phase-correlation start (``align_burst``);
- inversa LK + refine: then one round of refinement against the ``merge`` estimate
  (``refine_motions``, 3 Gauss-Newton steps);
- OpenCV ``findTransformECC`` (affine, identity start, Gaussian filter 5, 100 iterations)
  and scikit-image ``phase_cross_correlation`` (upsample factor 100, translation), both on
  the same half-resolution grey proxy (2x2 means of the mosaic).

Run: python benchmarks/bench_align.py [--bursts 4]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from common import TEST_COLOR, bundled, markdown_table

from inversa.burst.align import AlignConfig, align_burst, endpoint_error, hr_to_raw
from inversa.burst.merge import merge
from inversa.burst.refine import refine_motions
from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.cfa import pack
from inversa.camera.noise import NoiseLevels

LK: dict = {}
LEVELS = {"low": 3e-4, "medium": 3e-3, "high": 1.2e-2}


def crop_with_margin(src: torch.Tensor, g: torch.Generator, size: int = 384,
                     margin: int = 32) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """A random crop with room for the motion around a ``size`` ground truth (less room,
    hence mirrored borders in moving frames, when the photo is too small; chelsea, 300
    pixels high, gets a 288x288 ground truth)."""
    hh, ww = src.shape[-2:]
    size = min(size, (min(hh, ww) - 12) // 8 * 8)  # chelsea is 300 pixels high
    ch, cw = min(size + 2 * margin, hh), min(size + 2 * margin, ww)
    top = int(torch.randint(0, hh - ch + 1, (1,), generator=g))
    left = int(torch.randint(0, ww - cw + 1, (1,), generator=g))
    return src[..., top:top + ch, left:left + cw], ((ch - size) // 2, (cw - size) // 2,
                                                     size, size)


def best_of(fn, repeats: int = 5):
    """(result, fastest wall time of ``repeats`` runs), as timeit does."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def brooks_read(shot: float) -> float:
    return math.exp(2.18 * math.log(shot) + 1.20)


def proxy(raw: torch.Tensor) -> np.ndarray:
    return pack(raw).mean(1).numpy().astype(np.float32)  # (K, h/2, w/2), centres 2u+0.5


def proxy_to_raw(m: np.ndarray) -> np.ndarray:
    """Proxy-pixel (x = 2u + 0.5) matrix -> raw-pixel matrix."""
    t = np.array([[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1.0]])
    return t @ m @ np.linalg.inv(t)


def run_ecc(g: np.ndarray) -> tuple[np.ndarray, int]:
    import cv2

    k = g.shape[0]
    out = np.tile(np.eye(3), (k, 1, 1))
    fails = 0
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    for i in range(1, k):
        w = np.eye(2, 3, dtype=np.float32)
        try:
            _, w = cv2.findTransformECC(g[i], g[0], w, cv2.MOTION_AFFINE, crit, None, 5)
        except cv2.error:
            fails += 1
        m = np.eye(3)
        m[:2] = w
        out[i] = proxy_to_raw(m)
    return out, fails


def run_pcc(g: np.ndarray) -> np.ndarray:
    from skimage.registration import phase_cross_correlation

    k = g.shape[0]
    out = np.tile(np.eye(3), (k, 1, 1))
    for i in range(1, k):
        shift, _, _ = phase_cross_correlation(g[0], g[i], upsample_factor=100)
        # shift registers g[i] onto g[0]: g[i](q - shift) ~ g[0](q), shift = (dy, dx)
        m = np.eye(3)
        m[0, 2], m[1, 2] = shift[1], shift[0]
        out[i] = proxy_to_raw(m)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bursts", type=int, default=4, help="bursts per image and level")
    args = ap.parse_args()
    torch.set_num_threads(2)
    import cv2

    # OpenCV's worker threads keep spinning after a call and slow down whatever runs next
    # on the 2 cores; ECC on these small images gains nothing from them
    cv2.setNumThreads(1)
    methods = ["inversa LK", "inversa LK + refine", "OpenCV ECC (affine)",
               "skimage phase_cross_correlation"]
    err = {(m, lv): [] for m in methods for lv in LEVELS}
    tim = {m: [] for m in methods}
    fails = {lv: 0 for lv in LEVELS}
    for lv_name, shot in LEVELS.items():
        noise = NoiseLevels(shot, brooks_read(shot))
        for ii, name in enumerate(TEST_COLOR):
            src = bundled(name)
            for b in range(args.bursts):
                g = torch.Generator().manual_seed(1000 * ii + b)
                img, box = crop_with_margin(src, g)
                sb = synthesize_burst(img, SynthConfig(scale=4, frames=14, noise=noise),
                                      seed=100 * ii + b, box=box)
                raw = sb.burst.raw
                true = hr_to_raw(sb.motions, 4)
                k, fh, fw = raw.shape

                def record(m, est, dt, true=true, fh=fh, fw=fw, lv_name=lv_name, k=k):
                    e = endpoint_error(torch.as_tensor(est)[1:], true[1:], fh, fw)
                    err[(m, lv_name)].extend(e.tolist())
                    tim[m].append(dt / (k - 1))

                al, t_lk = best_of(lambda raw=raw: align_burst(raw, AlignConfig(**LK)))
                record("inversa LK", al.matrices, t_lk)
                t0 = time.perf_counter()
                x = merge(raw, sb.burst.cfa, al.to_hr(4), 4, sb.burst.noise)
                m_ref = refine_motions(x, raw, sb.burst.cfa, al.to_hr(4), 4)
                record("inversa LK + refine", hr_to_raw(m_ref, 4),
                       t_lk + time.perf_counter() - t0)
                gp = proxy(raw)
                (est, f), dt = best_of(lambda gp=gp: run_ecc(gp))
                record("OpenCV ECC (affine)", est, dt)
                fails[lv_name] += f
                est, dt = best_of(lambda gp=gp: run_pcc(gp))
                record("skimage phase_cross_correlation", est, dt)
    n = len(err[(methods[0], "low")])
    print(f"\nAlignment, {len(TEST_COLOR)} held-out images x {args.bursts} bursts x 13 frames "
          f"= {n} frames per noise level; EPE in low-resolution pixels; torch threads "
          f"{torch.get_num_threads()}")
    header = ["method"] + [f"{lv} (shot {s:g}): mean / median EPE" for lv, s in LEVELS.items()] \
        + ["ms / frame"]
    rows = []
    for m in methods:
        rows.append([m] + [f"{np.mean(err[(m, lv)]):.3f} / {np.median(err[(m, lv)]):.3f}"
                           for lv in LEVELS] + [f"{1000 * np.mean(tim[m]):.1f}"])
    print(markdown_table(header, rows))
    print(f"\nECC failures (exceptions, counted with the identity): {fails}")


if __name__ == "__main__":
    main()
