"""Which displaced samples does the learned confidence trust? (HDR issue, diagnosis.)

On the training bursts of ``tune_hdr_object_motion.py`` at x2 (true camera motions given,
so that only the objects' displacements and ``g`` are in question), every sample of
frames 1..K-1 in the moving regions is put in one of four classes: displaced or not
(:func:`inversa.burst.hdr.displaced`), and good or bad by the truth for the field it got
(``hdr_oracle.oracle``: the point the motion puts each of its high-resolution pixels on
shows what it shows, to half a pixel). Reported: the exposure-weighted number of samples
in each class and the mean ``g`` the pipeline gives them, for the learned ``g``
(shipped ``hdr_g``) and the analytic one, with

- the displacements estimated (:func:`inversa.burst.local_motion.object_flow`), and
- the true displacements in their place (``hdr_true_displacements.displacements``).

For the bad samples with estimated displacements it also says where they lie: on an
object in that frame (all or part of the sample's pixels) or off every object.

Run: cd benchmarks && python hdr_g_displaced.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from bench_hdr import hdr_burst
from hdr_oracle import oracle
from hdr_true_displacements import displacements
from tune_hdr_object_motion import IMAGES

from inversa.burst.hdr import HDRConfig, displaced, prepare_hdr


def classes(dyn, inp, s: int, true_flow: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per class: (mask, weight) over (K, h, w) samples of the moving regions."""
    flow = inp.result.flow
    g_true = oracle(dyn, flow_given=flow)[0] if flow is not None else oracle(dyn, False)[0]
    moved = displaced(flow, s) if flow is not None else torch.zeros_like(g_true, dtype=torch.bool)
    on = (true_flow.abs().sum(1, keepdim=True) > 0).float()
    on_all = (-F.max_pool2d(-on, s)[:, 0] if s > 1 else on[:, 0]) > 0
    on_any = (F.max_pool2d(on, s)[:, 0] if s > 1 else on[:, 0]) > 0
    region = (F.avg_pool2d(dyn.moving.float()[None, None], s)[0, 0] if s > 1
              else dyn.moving.float()) > 0
    sel = ~inp.result.saturated & region[None]
    sel[0] = False
    good = g_true > 0.5
    return {"displaced, good": moved & good & sel, "displaced, bad": moved & ~good & sel,
            "not displaced, good": ~moved & good & sel, "not displaced, bad": ~moved & ~good & sel,
            "  bad displaced, whole sample on an object": moved & ~good & sel & on_all,
            "  bad displaced, partly on an object": moved & ~good & sel & on_any & ~on_all,
            "  bad displaced, off every object": moved & ~good & sel & ~on_any}


def main() -> None:
    torch.set_num_threads(2)
    s = 2
    for given in ("estimated", "true"):
        for g_model in ("hdr_g", None):
            agg: dict[str, list[float]] = {}
            for name, seed, frames in IMAGES:
                dyn = hdr_burst(name, seed, s, frames, 2)
                true_flow = oracle(dyn)[1]
                cfg = HDRConfig(method="map", scale=s, g_model=g_model)
                if given == "true":
                    with displacements(true_flow):
                        inp = prepare_hdr(dyn.burst, cfg, motions_hr=dyn.motions)
                else:
                    inp = prepare_hdr(dyn.burst, cfg, motions_hr=dyn.motions)
                g = inp.result.confidence
                wt = inp.result.exposures.reshape(-1, 1, 1).expand_as(g)
                for label, m in classes(dyn, inp, s, true_flow).items():
                    if given == "true" and label.startswith("  "):
                        continue
                    a = agg.setdefault(label, [0.0, 0.0])
                    a[0] += float((wt * m).sum())
                    a[1] += float((wt * m * g).sum())
            print(f"x{s}, {given} displacements, g {g_model or 'analytic'}: exposure-weighted "
                  "samples of the moving regions (frames 1..K-1, four bursts), mean g")
            for label, (n, t) in agg.items():
                print(f"  {label:<44} {n:9.0f}   mean g {t / max(n, 1e-9):.3f}")


if __name__ == "__main__":
    main()
