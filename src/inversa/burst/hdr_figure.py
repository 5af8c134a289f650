"""The picture of an HDR merge: the brackets, what was trusted, the naive merge and the
result (``inversa hdr --save-weights FILE.png``, the demo and ``docs/hdr.md``)."""

from __future__ import annotations

from pathlib import Path

import torch

from inversa.burst.hdr import HDRResult
from inversa.camera.burstio import Burst
from inversa.camera.demosaic import demosaic_bilinear
from inversa.camera.isp import render
from inversa.camera.tonemap import tonemap


def bracket_frames(rel: torch.Tensor, limit: int = 3) -> list[int]:
    """Frame 0 and the first frame of each other exposure, at most ``limit``."""
    out = [0]
    for k, e in enumerate(rel.tolist()):
        if all(abs(e - float(rel[j])) > 1e-6 * e for j in out) and len(out) < limit:
            out.append(k)
    return out


def plot_hdr(burst: Burst, result: HDRResult, path: str | Path,
             naive: torch.Tensor | None = None, gt: torch.Tensor | None = None,
             titles: dict[str, str] | None = None) -> None:
    """Three rows: the brackets as captured (rendered) and the moving objects' own motion
    (largest displacement over the frames, when some region got one), their trust
    ``w_k g_k`` and the confidence ``g`` (black 0, white 1; the reference's ``g`` is 1),
    and the tone-mapped naive merge, result and ground truth (those given), and with
    layers (``HDRConfig.layers``) the objects' mattes over the result, each with an arrow
    to where the last frame shows it, and the region where the layered result is kept
    (``HDRResult.layer_weight`` at 0.5, dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = titles or {}
    isp = burst.isp_params()
    frames = bracket_frames(result.exposures)
    layers = result.mattes is not None and len(result.mattes) > 0
    cols = max(len(frames) + 1, 1 + (naive is not None) + (gt is not None) + layers)
    fig, axes = plt.subplots(3, cols, figsize=(3.0 * cols, 9.6))
    axes = axes.reshape(3, cols)
    for ax in axes.ravel():
        ax.axis("off")
    for j, k in enumerate(frames):
        img = render(demosaic_bilinear(burst.raw[k], burst.cfa), isp)
        axes[0, j].imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
        axes[0, j].set_title(f"frame {k}, exposure x{float(result.exposures[k]):g}",
                             fontsize=9)
        trust = (result.exposure_weight[k] * result.confidence[k]).numpy()
        axes[1, j].imshow(trust, cmap="gray", vmin=0, vmax=1)
        axes[1, j].set_title(f"frame {k}: weight e m g (saturated: "
                             f"{100 * float(result.saturated[k].float().mean()):.0f} %)",
                             fontsize=8)
    j = len(frames)
    if result.flow is not None:  # where moving objects got a motion of their own
        mag = result.flow.norm(dim=1).amax(0).numpy()
        im = axes[0, j].imshow(mag, cmap="magma", vmin=0)
        fig.colorbar(im, ax=axes[0, j], fraction=0.046, pad=0.02)
        axes[0, j].set_title("object motion: largest\ndisplacement over frames (px)",
                             fontsize=8)
    # the confidence of the non-reference frames, worst over the burst
    if result.confidence.shape[0] > 1:
        gmin = result.confidence[1:].min(0).values.numpy()
        axes[1, j].imshow(gmin, cmap="gray", vmin=0, vmax=1)
        axes[1, j].set_title("confidence g, min over frames 1..K-1", fontsize=8)
    row = []
    if naive is not None:
        row.append((titles.get("naive", "naive merge (no g)"), naive))
    row.append((titles.get("result", "result"), result.x))
    if gt is not None:
        row.append((titles.get("gt", "ground truth"), gt))
    for j, (title, x) in enumerate(row):
        axes[2, j].imshow(tonemap(x[0] if x.dim() == 4 else x, isp).permute(1, 2, 0).numpy())
        axes[2, j].set_title(title, fontsize=9)
    if layers:  # the objects' mattes over the result, and where they move to
        ax = axes[2, len(row)]
        ax.imshow(tonemap(result.x[0], isp).permute(1, 2, 0).numpy())
        k = result.exposures.shape[0]
        for n, (m, v) in enumerate(zip(result.mattes, result.velocities, strict=True)):
            colour = plt.cm.tab10(n % 10)
            ax.contour(m.numpy(), levels=[0.5], colors=[colour], linewidths=1.2)
            ys, xs = (m >= 0.5).nonzero(as_tuple=True)
            if len(xs):  # frame k - 1 shows the reference's point q + (k - 1) v at q
                cx, cy = float(xs.float().mean()), float(ys.float().mean())
                ax.annotate("", xy=(cx - (k - 1) * float(v[0]), cy - (k - 1) * float(v[1])),
                            xytext=(cx, cy), arrowprops={"arrowstyle": "->", "color": colour})
        title = f"layers: {len(result.mattes)} object mattes,\narrows to the last frame's position"
        if result.layer_weight is not None:  # where the layered result replaces the other
            ax.contour(result.layer_weight.numpy(), levels=[0.5], colors=["white"],
                       linewidths=0.8, linestyles="dashed")
            title += ";\ndashed: layered result inside, one-image outside"
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


__all__ = ["bracket_frames", "plot_hdr"]
