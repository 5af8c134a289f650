"""Built-in experiments used by ``inversa demo``, the docs and the tests.

``taylor1979``: the classic high-resolution spike extraction of Taylor, Banks & McCoy
(1979, fig. 8). A sparse spike train at 2 ms is convolved with a wavelet at 2 ms and
resampled at 4 ms (plus a little noise); spike trains are then extracted from the 4 ms
trace at 2 ms (``upsample = 2``, wavelet at 2 ms) and at 4 ms (``upsample = 1``, the
wavelet resampled at 4 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inversa.restore.spikes import SpikeConfig, deconvolve_spikes, ricker, spike_operator


@dataclass
class SpikeExperiment:
    dt: float
    truth: torch.Tensor  # (N,) at dt
    fine_trace: torch.Tensor  # (N,) s * w at dt
    trace: torch.Tensor  # (N // 2,) at 2 dt, noisy
    wavelet: torch.Tensor
    est_fine: torch.Tensor  # (N,) at dt
    est_coarse: torch.Tensor  # (N // 2,) at 2 dt
    lam: float


def spike_train(n: int, count: int, seed: int, min_gap: int = 4) -> torch.Tensor:
    """``count`` spikes of random sign and amplitude in [0.3, 1], at least ``min_gap`` apart."""
    g = torch.Generator().manual_seed(seed)
    s = torch.zeros(n)
    pos: list[int] = []
    while len(pos) < count:
        p = int(torch.randint(10, n - 10, (1,), generator=g))
        if all(abs(p - q) >= min_gap for q in pos):
            pos.append(p)
    amp = 0.3 + 0.7 * torch.rand(count, generator=g)
    sign = torch.where(torch.rand(count, generator=g) < 0.5, -1.0, 1.0)
    s[torch.tensor(pos)] = amp * sign
    return s


def taylor1979(n: int = 300, spikes: int = 12, peak_hz: float = 30.0, dt: float = 0.002,
               noise: float = 0.005, seed: int = 0, lam: float | None = None) -> SpikeExperiment:
    truth = spike_train(n, spikes, seed)
    w = ricker(peak_hz, dt)
    a = spike_operator(w, n, 2)
    g = torch.Generator().manual_seed(seed + 1)
    trace = a(truth[None])[0]
    trace = trace + noise * torch.randn(trace.shape, generator=g)
    fine_trace = spike_operator(w, n, 1)(truth[None])[0]
    est_fine, lam_used = deconvolve_spikes(trace, w, SpikeConfig(upsample=2, lam=lam,
                                                                 noise_sigma=noise))
    w4 = w[len(w) // 2 % 2::2]  # the wavelet at 4 ms, keeping its centre sample
    est_coarse, _ = deconvolve_spikes(trace, w4, SpikeConfig(upsample=1, lam=lam_used))
    return SpikeExperiment(dt, truth, fine_trace, trace, w, est_fine, est_coarse, lam_used)


def plot_spikes(exp: SpikeExperiment, path) -> None:
    """Figure in the style of Taylor et al. (1979), fig. 8."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = exp.truth.numel()
    t2 = torch.arange(n) * exp.dt * 1000
    t4 = torch.arange(exp.trace.numel()) * 2 * exp.dt * 1000
    fig, ax = plt.subplots(5, 1, figsize=(9, 8), sharex=True)
    ax[0].vlines(t2, 0, exp.truth, color="k")
    ax[0].set_title("true spike train (2 ms)")
    ax[1].plot(t2, exp.fine_trace, "k", lw=1)
    ax[1].set_title("trace = spikes * wavelet (2 ms)")
    ax[2].plot(t4, exp.trace, "k.-", lw=0.8, ms=3)
    ax[2].set_title("observed trace, resampled at 4 ms (+ noise)")
    ax[3].vlines(t2, 0, exp.est_fine, color="C0")
    ax[3].set_title(f"l1 estimate at 2 ms (lambda = {exp.lam:.3g})")
    ax[4].vlines(t4, 0, exp.est_coarse, color="C1")
    ax[4].set_title("l1 estimate at 4 ms")
    ax[4].set_xlabel("time (ms)")
    for a in ax:
        a.axhline(0, color="0.7", lw=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
