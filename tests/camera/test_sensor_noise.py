"""The noise model, the Brooks et al. level sampler, and the single-frame estimator."""

import math

import pytest
import torch

from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.noise import NoiseLevels, add_noise, random_noise_levels
from inversa.camera.noise_estimate import estimate_noise_levels
from inversa.data.images import bundled
from inversa.errors import InputError


def test_add_noise_variance_is_affine(gen):
    x = torch.tensor([0.0, 0.1, 0.5, 0.9]).repeat_interleave(200_000)
    lv = NoiseLevels(4e-3, 1e-4)
    y = add_noise(x, lv, gen)
    for v in (0.0, 0.1, 0.5, 0.9):
        r = y[x == v] - v
        assert abs(float(r.var()) / (4e-3 * v + 1e-4) - 1) < 0.02


def test_sampler_matches_brooks(gen):
    lv = [random_noise_levels(gen) for _ in range(4000)]
    shot = torch.tensor([v.shot for v in lv]).log()
    read = torch.tensor([v.read for v in lv]).log()
    assert math.log(1e-4) <= float(shot.min()) and float(shot.max()) <= math.log(1.2e-2)
    # log-uniform shot level: the mean of log shot is the middle of the interval
    assert abs(float(shot.mean()) - 0.5 * (math.log(1e-4) + math.log(1.2e-2))) < 0.05
    resid = read - (2.18 * shot + 1.20)
    assert abs(float(resid.mean())) < 0.02 and abs(float(resid.std()) - 0.26) < 0.02


def test_reproducible():
    a = random_noise_levels(torch.Generator().manual_seed(3))
    b = random_noise_levels(torch.Generator().manual_seed(3))
    assert a == b


def test_levels_validation():
    with pytest.raises(InputError):
        NoiseLevels(-1.0, 0.0)
    with pytest.raises(InputError, match="SHOT,READ"):
        NoiseLevels.parse("0.1")


@pytest.mark.parametrize("shot,read,tol", [(1e-2, 2e-4, 0.1), (1e-3, 1e-5, 0.2),
                                           (3e-4, 2e-6, 0.3)])
def test_estimator_on_synthetic_raw(shot, read, tol):
    """Accuracy of the estimated noise std (held-out image). Texture of the photo biases
    it upwards at low noise (measured in benchmarks/bench_noise_estimate.py)."""
    cfg = SynthConfig(scale=1, frames=1, noise=NoiseLevels(shot, read), bits=None)
    sb = synthesize_burst(bundled("astronaut")[..., :384, :512], cfg, seed=1)
    est = estimate_noise_levels(sb.burst.raw[0])
    for x in (0.01, 0.05, 0.2):
        true_std = math.sqrt(shot * x + read)
        assert abs(float(est.std(torch.tensor(x))) / true_std - 1) < tol, (x, est)


def test_estimator_detects_more_noise():
    x = bundled("astronaut")[..., :256, :256]
    cfg = SynthConfig(scale=1, frames=1, bits=None)
    lo = synthesize_burst(x, SynthConfig(**{**cfg.__dict__, "noise": NoiseLevels(1e-4, 1e-6)}), 0)
    hi = synthesize_burst(x, SynthConfig(**{**cfg.__dict__, "noise": NoiseLevels(1e-2, 1e-4)}), 0)
    a, b = estimate_noise_levels(lo.burst.raw[0]), estimate_noise_levels(hi.burst.raw[0])
    assert b.shot > 10 * a.shot


def test_estimator_rejects_nan():
    y = torch.rand(64, 64)
    y[3, 3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        estimate_noise_levels(y)
