"""Draw docs/figures/exo_conventions.png: inversa's ADI conventions, computed by the code.

    python docs/figures/exo_conventions.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from inversa.exo.geometry import centre, derotate
from inversa.exo.inject import Companion, inject

size = 65
yy, xx = torch.meshgrid(torch.arange(15.0) - 7, torch.arange(15.0) - 7, indexing="ij")
psf = torch.exp(-(xx ** 2 + yy ** 2) / 4)
angles = torch.tensor([0.0, 30.0, 60.0], dtype=torch.float64)
comp = Companion(sep=20.0, pa=45.0, flux=1.0)
cube = inject(torch.zeros(3, size, size), angles, psf, [comp])
der = derotate(cube, angles)
cy, cx = centre(cube.shape)

fig, axes = plt.subplots(1, 4, figsize=(15, 4), dpi=100)
for t in range(3):
    ax = axes[t]
    ax.imshow(cube[t], origin="lower", cmap="magma")
    ax.set_title(f"frame {t}: angles[{t}] = {angles[t]:.0f} deg\n"
                 f"source at PA 45 - {angles[t]:.0f} = {45 - angles[t]:.0f} deg", fontsize=9)
for ax in axes[:3]:
    ax.plot(cx, cy, "w*", ms=10)
axes[3].imshow(der.mean(0), origin="lower", cmap="magma")
axes[3].plot(cx, cy, "w*", ms=10)
axes[3].annotate("", xy=(cx + 25, cy), xytext=(cx, cy),
                 arrowprops={"arrowstyle": "->", "color": "w"})
axes[3].text(cx + 20, cy - 5, "+x, PA 0", color="w", fontsize=8)
axes[3].annotate("", xy=(cx, cy + 25), xytext=(cx, cy),
                 arrowprops={"arrowstyle": "->", "color": "w"})
axes[3].text(cx + 2, cy + 22, "PA 90", color="w", fontsize=8)
axes[3].set_title("derotated (frame t turned by +angles[t]), averaged:\n"
                  "the source at separation 20 px, PA 45 deg", fontsize=9)
for ax in axes:
    ax.set_xlabel("x (column)")
    ax.set_ylabel("y (row)")
fig.suptitle(f"ADI conventions. Star (*) at (ny // 2, nx // 2) = ({cy}, {cx}); origin at the bottom left",
             fontsize=10)
fig.tight_layout(rect=(0, 0, 1, 0.93))
fig.savefig(Path(__file__).with_name("exo_conventions.png"))
