"""How many samples of a static burst the confidence ``g`` wrongly distrusts, per window
(``HDRConfig.g_window``): the share of usable samples of frames 1.. (inside the
reference's field) with ``g < 0.6``, on the static test burst of
``tests/burst/test_hdr.py`` (coffee, seed 3, 9 frames, exposures 1, 4, 1/4, true
motions), which allows 2 %.

    cd benchmarks && python hdr_static_distrust.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "burst"))

from test_hdr import _burst

from inversa.burst.hdr import (
    HDRConfig,
    confidence,
    frames_inside,
    relative_exposures,
    saturation_masks,
)


def main() -> None:
    sb = _burst(moving=0)
    b = sb.burst
    rel = relative_exposures(b)
    usable = ~saturation_masks(b.raw, 1)
    y_n = b.raw / rel.reshape(-1, 1, 1)
    inside = frames_inside(sb.motions, *b.raw.shape[1:], 2) & usable
    for window in (5, 7, 9):
        g = confidence(y_n, rel, sb.motions, 2, b.cfa, b.noise, usable,
                       HDRConfig(g_window=window))
        share = float((g[1:] < 0.6)[inside[1:]].float().mean())
        print(f"g_window {window}: {share:.1%} of the static burst's samples distrusted")


if __name__ == "__main__":
    main()
