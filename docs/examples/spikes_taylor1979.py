"""Reproduce Taylor, Banks & McCoy (1979), fig. 8: high-resolution spike extraction.

    python docs/examples/spikes_taylor1979.py      # writes docs/figures/spikes_taylor1979.png

A spike train at 2 ms and a 30 Hz Ricker wavelet at 2 ms are convolved, resampled at
4 ms, and a little noise (0.005) is added. l1 deconvolution (FISTA) then extracts two spike
trains from the 4 ms trace: one at 2 ms (upsample 2) and one at 4 ms (upsample 1).
"""

from pathlib import Path

import torch

from inversa.restore.examples import plot_spikes, taylor1979


def main() -> None:
    e = taylor1979()
    out = Path(__file__).resolve().parents[1] / "figures" / "spikes_taylor1979.png"
    plot_spikes(e, out)
    true_pos = (e.truth != 0).nonzero().flatten()
    top = e.est_fine.abs().topk(len(true_pos)).indices
    hits = sum(int(torch.min((true_pos - p).abs())) <= 1 for p in top)
    coarse = torch.zeros_like(e.truth)
    coarse[::2] = e.est_coarse
    print(f"lambda = {e.lam:.4g}")
    print(f"2 ms estimate: {hits}/{len(true_pos)} largest spikes within 1 sample of a true "
          f"spike; relative error {float((e.est_fine - e.truth).norm() / e.truth.norm()):.3f}")
    print(f"4 ms estimate (on the 2 ms grid): relative error "
          f"{float((coarse - e.truth).norm() / e.truth.norm()):.3f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
