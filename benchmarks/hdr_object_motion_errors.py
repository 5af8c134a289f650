"""How wrong are the object displacements where it matters? On the training bursts of
``tune_hdr_object_motion.py`` (never the benchmark's held-out photos; two moving
objects, everything estimated as ``inversa hdr`` does), over the high-resolution pixels
where a frame shows an object whole and the reference shows the same point of it, the
shares of pixels whose reference point (estimated camera motion plus displacement) is

- within half a pixel of the truth;
- further, but photometrically good: the raw sample they belong to has a model error
  below its noise (:func:`inversa.burst.truth.photometric_confidence`), as where the
  object's texture is flat along the error;
- further and photometrically bad: the errors that cost;
- left without a displacement (the camera motion alone; good or bad as judged the same
  way).

    cd benchmarks && python hdr_object_motion_errors.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from bench_hdr import hdr_burst
from tune_hdr_object_motion import IMAGES

from inversa.burst.hdr import HDRConfig, prepare_hdr
from inversa.burst.truth import (
    object_points,
    photometric_confidence,
    positions,
    reference_objects,
)


def main() -> None:
    torch.set_num_threads(2)
    for s in (2, 1):
        tot = torch.zeros(6)
        for name, seed, frames in IMAGES:
            sb = hdr_burst(name, seed, s, frames, 2)
            res = prepare_hdr(sb.burst, HDRConfig(method="merge", scale=s)).result
            m_hr = res.alignment.to_hr(s)
            flow = res.flow
            photo = photometric_confidence(sb, m_hr, flow) > 0  # (K, h, w) raw grid
            photo_hr = F.interpolate(photo[:, None].float(), scale_factor=s,
                                     mode="nearest")[:, 0] > 0 if s > 1 else photo
            hh, ww = sb.gt.shape[-2:]
            ref_full = reference_objects(sb)
            for i in range(1, frames):
                if not bool(res.used[i]):
                    continue
                ex, ey = positions(m_hr[i], hh, ww)
                if flow is not None:
                    ex, ey = ex + flow[i, 0], ey + flow[i, 1]
                has = (flow[i].abs().sum(0) > 0) if flow is not None \
                    else torch.zeros(hh, ww, dtype=torch.bool)
                for sel, rx, ry in object_points(sb, i, ref_full)[1]:
                    near = ((ex - rx) ** 2 + (ey - ry) ** 2).sqrt() < 0.5
                    p = photo_hr[i]
                    tot += torch.tensor([
                        float((sel & has & near).sum()),
                        float((sel & has & ~near & p).sum()),
                        float((sel & has & ~near & ~p).sum()),
                        float((sel & ~has & p).sum()),
                        float((sel & ~has & ~p).sum()),
                        float(sel.sum())])
        n = float(tot[5])
        print(f"x{s}: {int(n)} object pixels (frames 1..K-1 that were used, four bursts)")
        for label, v in zip(("displaced, within 0.5 px of the truth",
                             "displaced, further, photometrically good",
                             "displaced, further, photometrically bad",
                             "no displacement, photometrically good",
                             "no displacement, photometrically bad"), tot[:5]):
            print(f"  {label:<42} {float(v) / n:6.1%}", flush=True)


if __name__ == "__main__":
    main()
