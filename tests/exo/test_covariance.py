"""Nonlinear shrinkage of PACO's covariances: the formulas against a plain transcription,
its edge cases, and PACO with it (calibrated, detects). Its effect on detection is measured
on the benchmark cubes (benchmarks/tune_exo_nonlinear_shrinkage.py, bench_exo_deep.py
--paco-covariance nonlinear): on small 64 x 64 test cubes it is within their noise."""

import math

import numpy as np
import pytest
import torch

from inversa.errors import InputError
from inversa.exo.covariance import analytical_shrinkage, hilbert_kernel, shrink_correlation
from inversa.exo.paco import PacoConfig, local_statistics, paco_map, shrinkage


def _closed_form(x):
    r5 = math.sqrt(5)
    return (-3 * x / (10 * math.pi)
            + 3 / (4 * r5 * math.pi) * (1 - x * x / 5) * math.log(abs((r5 - x) / (r5 + x))))


def test_hilbert_kernel_is_the_closed_form_and_its_asymptote():
    xs = [-300.0, -20.0, -5.5, -4.9, -3.0, -2.0, -0.3, 0.7, 1.9, 2.5, 4.99, 5.01, 8.0, 150.0]
    got = hilbert_kernel(torch.tensor(xs, dtype=torch.float64)).tolist()
    for x, g in zip(xs, got, strict=True):
        assert math.isclose(g, _closed_form(x), rel_tol=1e-9), x
    # far out the closed form has lost its digits; the kernel is -1 / (pi x) + O(x^-3)
    for x in (1e5, -3e7):
        g = float(hilbert_kernel(torch.tensor([x], dtype=torch.float64))[0])
        assert math.isclose(g, -1 / (math.pi * x), rel_tol=1e-8)


def _reference(s: np.ndarray, n: int) -> np.ndarray:
    """The authors' published recipe, one eigenvalue at a time (closed-form kernel)."""
    p = s.shape[0]
    lam, u = np.linalg.eigh(s)
    k = min(p, n)
    lam_k = lam[p - k:]
    h = n ** (-1 / 3)
    r5 = math.sqrt(5)
    f, hf = np.zeros(k), np.zeros(k)
    for i in range(k):
        for j in range(k):
            band = h * lam_k[j]
            x = (lam_k[i] - lam_k[j]) / band
            f[i] += 3 / (4 * r5) * max(0.0, 1 - x * x / 5) / band / k
            hf[i] += _closed_form(x) / band / k
    if p <= n:
        c = p / n
        d = lam_k / ((math.pi * c * lam_k * f) ** 2 + (1 - c - math.pi * c * lam_k * hf) ** 2)
    else:
        hf0 = (1 / math.pi * (3 / (10 * h * h) + 3 / (4 * r5 * h) * (1 - 1 / (5 * h * h))
                              * math.log((1 + r5 * h) / (1 - r5 * h))) * np.mean(1 / lam_k))
        d0 = 1 / (math.pi * (p - n) / n * hf0)
        d = np.concatenate([np.full(p - n, d0), lam_k / (math.pi ** 2 * lam_k ** 2 * (f * f + hf * hf))])
    return (u * d) @ u.T


@pytest.mark.parametrize("p,t", [(6, 30), (20, 14)])
def test_analytical_shrinkage_matches_the_published_recipe(p, t):
    g = np.random.default_rng(3)
    mats, want = [], []
    for _ in range(3):
        x = g.normal(size=(t, p)) * g.uniform(0.5, 3.0, size=p)
        x -= x.mean(0)
        s = x.T @ x / (t - 1)
        mats.append(s)
        want.append(_reference(s, t - 1))
    got = analytical_shrinkage(torch.tensor(np.stack(mats)), t - 1).numpy()
    assert np.allclose(got, np.stack(want), rtol=1e-8, atol=1e-10)


def test_frames_of_zero_weight_count_as_absent():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 30, 13, generator=g) * torch.linspace(1, 4, 13)
    w = torch.ones(2, 30)
    w[:, ::3] = 0
    m, cinv = local_statistics(x, w, covariance="nonlinear")
    m2, cinv2 = local_statistics(x[:, w[0] > 0], torch.ones(2, 20), covariance="nonlinear")
    assert torch.allclose(m, m2, atol=1e-5)
    assert torch.allclose(cinv, cinv2, rtol=1e-3, atol=1e-6 * float(cinv.abs().max()))


def test_shrink_correlation_keeps_a_dead_pixel_finite():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(1, 20, 9, generator=g, dtype=torch.float64)
    x[..., 4] = 0.0  # a pixel with no variance
    x = x - x.mean(1, keepdim=True)
    c = shrink_correlation(x.transpose(1, 2) @ x / 19, torch.tensor([19]))
    assert torch.isfinite(c).all()
    assert float(c[0, 4].abs().max()) == 0.0
    assert float(torch.linalg.eigvalsh(c[0][[0, 1, 2, 3, 5, 6, 7, 8]][:, [0, 1, 2, 3, 5, 6, 7, 8]])
                 .min()) > 0


def test_blend_is_the_mean_of_the_two_covariances():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 30, 9, generator=g) * torch.linspace(1, 3, 9)
    w = torch.ones(2, 30)
    c = {k: torch.linalg.inv(local_statistics(x, w, jitter=0.0, covariance=k)[1].double())
         for k in ("linear", "nonlinear", "blend")}
    assert torch.allclose(c["blend"], 0.5 * (c["linear"] + c["nonlinear"]), rtol=1e-3,
                          atol=1e-4)


@pytest.mark.parametrize("covariance", ["nonlinear", "blend"])
def test_paco_with_nonlinear_shrinkage_is_calibrated_and_detects(small_sim, empty_sim,
                                                                 covariance):
    cfg = PacoConfig(covariance=covariance)
    v = paco_map(empty_sim.cube, empty_sim.angles, empty_sim.psf, cfg).snr
    v = v[torch.isfinite(v)]
    assert abs(float(v.mean())) < 0.15 and 0.85 < float(v.std()) < 1.15
    assert float(v.max()) < 5.0
    s = small_sim
    snr = paco_map(s.cube, s.angles, s.psf, cfg).snr
    for c in s.companions:
        x, y = c.xy((64, 64))
        assert float(snr[round(y) - 1:round(y) + 2, round(x) - 1:round(x) + 2].max()) > 5, c


def test_too_few_frames_keep_the_linear_shrinkage():
    # the kernel estimates need n >= 12 (sqrt5 n^-1/3 < 1): fewer frames, PACO's own
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 10, 7, generator=g)
    a = local_statistics(x, torch.ones(1, 10), covariance="nonlinear")[1]
    b = local_statistics(x, torch.ones(1, 10))[1]
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="degrees of freedom"):
        analytical_shrinkage(torch.eye(3, dtype=torch.float64)[None], 9)


def test_unknown_covariance_is_refused():
    with pytest.raises(InputError, match="covariance"):
        PacoConfig(covariance="ledoit")
    assert shrinkage is not None  # the linear one stays PACO's default
    assert PacoConfig().covariance == "linear"
