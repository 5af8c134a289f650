"""How the object-motion constants were chosen (HDRConfig.local_motion, g_chi), on
training images only (never the benchmark's held-out photos).

Four dynamic bracketed bursts (motorcycle_left/5/9f, retina/6/14f,
immunohistochemistry/7/9f, colorwheel/8/14f; 192x192 crops, exposures 1, 4, 1/4, two
moving objects; pass MOVS=0 for their static versions), each reconstructed with and
without object motion; mu-law PSNR over the image / in the moving regions, and seconds.

    METHODS=map SCALES=2,1 MOVS=2 python benchmarks/tune_hdr_object_motion.py
    G_CHI=1e9 ... (no sample-by-sample check), G_CHI=1.2, 2, 3: the other values tried
    G_WINDOW=9, 7 ...: the confidence's window (HDRConfig.g_window)
    OBJECT_MOTION=relaxed,trajectories: LocalMotionConfig switches to turn on
    G_MODEL=hdr_g: the learned confidence instead of the analytic one

With moving objects it also judges the estimated displacement field against the truth
(``hdr_oracle.oracle``): over the pixels where a frame shows an object whole and the
reference shows the same point of it, the share whose reference point (estimated camera
motion plus displacement) is within 0.5 and 1.5 pixels of the true one (a pixel left
without a displacement counts as wrong), and the share left without one. (An earlier
version compared the fields, which counts a pixel wrong wherever the camera motion under
it is wrong, however right the point it samples.)
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from bench_hdr import hdr_burst, scores
from hdr_oracle import _positions, oracle

from inversa.burst.hdr import HDRConfig, reconstruct_hdr
from inversa.burst.local_motion import LocalMotionConfig

IMAGES = (("motorcycle_left", 5, 9), ("retina", 6, 14), ("immunohistochemistry", 7, 9),
          ("colorwheel", 8, 14))


def _displacement_error(flow: torch.Tensor | None, true: torch.Tensor, m_est: torch.Tensor,
                        m_true: torch.Tensor) -> torch.Tensor:
    """Distance (pixels) between the reference point the estimate samples for an object
    pixel, ``P_k q + u_k(q)`` with the estimated camera motion, and the true one,
    wherever the truth has one (infinite where the estimate gave no displacement). The
    fields alone are not compared: a field can be right where the camera motion it sits
    on is wrong, and the reverse."""
    on = true.abs().sum(1) > 0  # (K, sH, sW)
    if flow is None:
        return torch.full((int(on.sum()),), float("inf"))
    hh, ww = true.shape[-2:]
    err = torch.zeros(true.shape[0], hh, ww, dtype=torch.float64)
    for i in range(true.shape[0]):
        ex, ey = _positions(m_est[i], hh, ww)
        tx, ty = _positions(m_true[i], hh, ww)
        err[i] = ((ex + flow[i, 0] - tx - true[i, 0]) ** 2
                  + (ey + flow[i, 1] - ty - true[i, 1]) ** 2).sqrt()
    err = torch.where(flow.abs().sum(1) > 0, err, torch.full_like(err, float("inf")))
    return err[on]


def main() -> None:
    torch.set_num_threads(2)
    methods = os.environ.get("METHODS", "map").split(",")
    scales = [int(v) for v in os.environ.get("SCALES", "2").split(",")]
    movs = [int(v) for v in os.environ.get("MOVS", "2").split(",")]
    chi = float(os.environ.get("G_CHI", 1.5))
    window = int(os.environ.get("G_WINDOW", HDRConfig().g_window))
    switches = [v for v in os.environ.get("OBJECT_MOTION", "").split(",") if v]
    object_motion = LocalMotionConfig(**{v: True for v in switches})
    g_model = os.environ.get("G_MODEL") or None  # the analytic g unless named
    for s in scales:
        for mo in movs:
            tot: dict = {}
            flow_err: list = []
            for name, seed, frames in IMAGES:
                sb = hdr_burst(name, seed, s, frames, mo)
                true_flow = oracle(sb)[1] if mo else None
                for m in methods:
                    for lm in (False, True):
                        t0 = time.time()
                        # the analytic g unless G_MODEL names weights
                        r = reconstruct_hdr(sb.burst, HDRConfig(method=m, scale=s,
                                                                local_motion=lm, g_chi=chi,
                                                                g_window=window, g_model=g_model,
                                                                object_motion=object_motion))
                        dt = time.time() - t0
                        whole = scores(r.x[0], sb.gt)[1]
                        moving = scores(r.x[0], sb.gt, sb.moving)[1] if mo else float("nan")
                        key = f"{m}{' + object motion' if lm else ''}"
                        tot.setdefault(key, []).append((whole, moving, dt))
                        if lm and true_flow is not None:
                            flow_err.append(_displacement_error(
                                r.flow, true_flow, r.alignment.to_hr(s), sb.motions))
            print(f"x{s}, moving objects {mo}, g_chi {chi:g}, g_window {window}, "
                  f"object motion {'+'.join(switches) or 'default'}, g {g_model or 'analytic'}:")
            for k, v in tot.items():
                a = np.mean(v, 0)
                print(f"  {k:<28} mu-law {a[0]:.2f} / moving {a[1]:.2f}  {a[2]:.1f} s")
            if flow_err:
                e = torch.cat(flow_err)
                print(f"  object displacements within 0.5 / 1.5 px of the truth: "
                      f"{float((e < 0.5).float().mean()):.0%} / "
                      f"{float((e < 1.5).float().mean()):.0%} of {len(e)} pixels; "
                      f"none: {float(torch.isinf(e).float().mean()):.0%}")


if __name__ == "__main__":
    main()
