"""Shared helpers of the benchmarks: test images, noise, timing, table output."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from inversa.data.images import TEST_COLOR, TEST_GRAY, bundled
from inversa.metrics import psnr

__all__ = [
    "TEST_COLOR",
    "TEST_GRAY",
    "bundled",
    "isp_panels",
    "markdown_table",
    "oracle",
    "psnr",
    "timed",
    "to_np",
    "to_t",
]


def to_np(x: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) tensor -> (H, W) or (H, W, C) float64 array."""
    a = x[0].double().numpy()
    return a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)


def to_t(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None].contiguous()


def timed(fn: Callable[[], torch.Tensor | np.ndarray]) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    return (to_t(out) if isinstance(out, np.ndarray) else out), dt


def oracle(fn: Callable[[float], np.ndarray], grid, clean: torch.Tensor) -> tuple[float, float]:
    """Best PSNR over a parameter grid (refined once around the best value): an oracle,
    since it looks at the ground truth. Returns (best parameter, best PSNR)."""
    def score(p):
        return psnr(to_t(fn(p)), clean)

    grid = list(grid)
    scores = [score(p) for p in grid]
    i = int(np.argmax(scores))
    lo = grid[max(i - 1, 0)]
    hi = grid[min(i + 1, len(grid) - 1)]
    fine = list(np.geomspace(lo, hi, 5)) if lo > 0 else list(np.linspace(lo, hi, 5))
    fs = [score(p) for p in fine]
    j = int(np.argmax(fs))
    return (fine[j], fs[j]) if fs[j] > scores[i] else (grid[i], scores[i])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def report(results: dict, methods: list[str], columns: list, column_title, per_image: list,
           per_image_header: list[str], caption: str) -> None:
    """Print the summary table (mean PSNR / mean seconds per method and column) and the
    per-image table. ``results[(method, column)]`` is a list of ``(psnr, seconds)``."""
    import platform

    header = ["method"] + [f"{column_title(c)}: PSNR / s" for c in columns]
    rows = []
    for label in methods:
        row = [label]
        for c in columns:
            v = np.array(results[(label, c)])
            row.append(f"{v[:, 0].mean():.2f} / {v[:, 1].mean():.2f}")
        rows.append(row)
    print()
    print(f"{caption}; {platform.machine()}, torch threads {torch.get_num_threads()}")
    print(markdown_table(header, rows))
    print()
    print(markdown_table(per_image_header, per_image))


def isp_panels(panels: list[tuple[str, torch.Tensor]], isp, path, crop: slice = slice(96, 288),
               ) -> None:
    """Save titled linear-RGB images ``(1, 3, H, W)`` side by side, rendered through the
    ISP ``isp`` (centre crop ``crop`` of each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from inversa.camera.isp import render

    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.6))
    for ax, (t, x) in zip(axes, panels):
        img = render(x[0], isp).permute(1, 2, 0).numpy()
        ax.imshow(img[crop, crop])
        ax.set_title(t, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
