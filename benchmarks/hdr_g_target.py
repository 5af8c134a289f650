"""Which samples should the HDR confidence ``g`` trust: the geometric truth (the point the
motion puts a sample on is within half a pixel of the true one,
:func:`inversa.burst.truth.true_confidence`) or the photometric one (the sample's model
error is below its noise, :func:`inversa.burst.truth.photometric_confidence`)? Each is
given to ``map`` as ``g`` (oracle rows), and each trained ``hdr_g`` network is run.

On the training bursts of ``tune_hdr_object_motion.py`` (never the benchmark's held-out
photos), everything else estimated as ``inversa hdr`` does (camera motion, object
displacements); the truths are computed for those estimates. Mu-law PSNR of ``map`` in
the moving regions of the dynamic bursts (two objects), and over the whole image of
their static twins (no objects), mean over the four bursts (and per burst).

    inversa train hdr-confidence -o /tmp/hdr_g_photometric --target photometric --threads 2
    cd benchmarks && python hdr_g_target.py "photometric target=/tmp/hdr_g_photometric.pt"

Each ``LABEL=PATH`` argument adds a row for those weights; the last row is always the
shipped ``hdr_g`` (geometric target).
"""

from __future__ import annotations

import sys

import torch
from bench_hdr import hdr_burst, scores
from hdr_bottleneck import captured, print_rows
from hdr_oracle import given
from tune_hdr_object_motion import IMAGES

from inversa.burst.hdr import HDRConfig, reconstruct_hdr
from inversa.burst.truth import photometric_confidence, true_confidence


def main() -> None:
    torch.set_num_threads(2)
    nets = dict(a.split("=", 1) for a in sys.argv[1:]) | {"geometric target (hdr_g)": "hdr_g"}
    for s in (2, 1):
        for moving in (2, 0):
            rows: dict[str, list[float]] = {}
            for name, seed, frames in IMAGES:
                sb = hdr_burst(name, seed, s, frames, moving)

                def run(cfg: HDRConfig, sb=sb, moving=moving) -> float:
                    x = reconstruct_hdr(sb.burst, cfg).x[0]
                    return scores(x, sb.gt, sb.moving if moving else None)[1]

                cap: dict = {}
                with captured(cap):
                    r = reconstruct_hdr(sb.burst, HDRConfig(method="map", scale=s, g_model=None))
                rows.setdefault("analytic g", []).append(
                    scores(r.x[0], sb.gt, sb.moving if moving else None)[1])
                flow = cap["v"][2]
                m_hr = r.alignment.to_hr(s)
                for label, truth in (("true g, geometric", true_confidence),
                                     ("true g, photometric", photometric_confidence)):
                    with given(truth(sb, m_hr, flow).float(), flow):
                        rows.setdefault(label, []).append(
                            run(HDRConfig(method="map", scale=s, g_model=None)))
                for label, path in nets.items():
                    rows.setdefault(f"learned g, {label}", []).append(
                        run(HDRConfig(method="map", scale=s, g_model=path)))
            where = "moving regions of the dynamic bursts" if moving else "static twins"
            print_rows(f"x{s}, {where}, map, mu-law PSNR (dB)", rows, 42)


if __name__ == "__main__":
    main()
