import torch

from inversa.restore.examples import taylor1979
from inversa.restore.spikes import SpikeConfig, deconvolve_spikes, ricker, spike_operator


def test_taylor1979_fine_beats_coarse():
    """The 2 ms extraction finds the spikes; it beats the 4 ms extraction (the paper's point)."""
    e = taylor1979()
    true_pos = set((e.truth != 0).nonzero().flatten().tolist())
    top = set(e.est_fine.abs().topk(len(true_pos)).indices.tolist())
    hit = sum(1 for p in top if any(abs(p - q) <= 1 for q in true_pos))
    assert hit >= len(true_pos) - 1
    # the coarse estimate, put on the 2 ms grid, explains the truth worse
    coarse_on_fine = torch.zeros_like(e.truth)
    coarse_on_fine[::2] = e.est_coarse
    err_fine = float((e.est_fine - e.truth).norm())
    err_coarse = float((coarse_on_fine - e.truth).norm())
    assert err_fine < 0.6 * err_coarse


def test_noiseless_exact_recovery():
    w = ricker(25.0, 0.002)
    s = torch.zeros(160)
    s[40], s[90], s[130] = 1.0, -0.7, 0.5
    t = spike_operator(w, 160, 2)(s[None])[0]
    est, _ = deconvolve_spikes(t, w, SpikeConfig(upsample=2, lam=1e-4, iterations=5000))
    assert float((est - s).abs().max()) < 0.05
