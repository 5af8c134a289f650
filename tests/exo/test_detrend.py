"""Removing the speckles' slow temporal trends before PACO's statistics."""

import pytest
import torch

from inversa.errors import InputError
from inversa.exo.detrend import detrend, trend_basis
from inversa.exo.inject import Companion, inject
from inversa.exo.paco import PacoConfig, paco_at, paco_map, trend_cut
from inversa.exo.simulate import SimConfig, simulate


def test_detrend_removes_polynomials_and_keeps_the_mean():
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(-1, 1, 20)[:, None, None]
    a, b, c = (torch.randn(1, 5, 6, generator=g) for _ in range(3))
    noise = 0.1 * torch.randn(20, 5, 6, generator=g)
    cube = a + b * t + c * t ** 2 + noise
    out = detrend(cube, 2)
    # what is left is the mean (t^2 has one) plus the noise minus its projection
    q = trend_basis(20, 2)
    proj = torch.einsum("td,dhw->thw", q, torch.einsum("td,thw->dhw", q, noise))
    expect = a + c * (t ** 2).mean() + noise - proj
    assert torch.allclose(out, expect, atol=1e-4)
    assert torch.allclose(out.mean(0), cube.mean(0), atol=1e-5)
    assert detrend(cube, 0) is cube
    spectral = torch.stack([cube, 2 * cube])
    assert torch.allclose(detrend(spectral, 2)[1], 2 * out, atol=1e-4)


def test_detrend_needs_more_frames_than_coefficients():
    with pytest.raises(InputError, match="frames"):
        detrend(torch.zeros(3, 4, 4), 2)


@pytest.fixture(scope="module")
def drifting():
    """A companion-free sequence of the default kind (aberrations drifting 0.12 rad), small."""
    return simulate(SimConfig(frames=48, size=64, subframes=4), [], seed=11)


def test_detrending_raises_the_companions_snr_against_the_true_null(drifting):
    # a drift linear in time is linear in parallactic angle, so PACO's constant mean
    # leaves a residual that adds up along the true trajectories; removing each pixel's
    # linear trend lowers that null and keeps most of the companions' signal. Compared
    # as S/N over the spread of the same method's S/N map without the companions.
    s = drifting
    comps = [Companion(sep, pa, 4e-5) for sep, pa in ((20, 20), (22, 110), (24, 200), (26, 290))]
    cube = inject(s.cube, s.angles, s.psf, comps)
    xs = torch.tensor([c.xy((64, 64))[0] for c in comps])
    ys = torch.tensor([c.xy((64, 64))[1] for c in comps])
    cfgs = {d: PacoConfig(detrend=d, null_tail=False) for d in (0, 1)}
    assert trend_cut(s.angles, 4.1, cfgs[1]) < 20 and trend_cut(s.angles, 4.1, cfgs[0]) > 1e9
    gain = {}
    for d, cfg in cfgs.items():
        null = paco_map(s.cube, s.angles, s.psf, cfg)
        snr = paco_at(cube, s.angles, s.psf, xs, ys, cfg)[2]
        snr = snr / null.scale[ys.round().long(), xs.round().long()]
        gain[d] = float(snr.mean()) / float(null.snr[torch.isfinite(null.snr)].std())
    assert gain[1] > 1.15 * gain[0], gain


def test_detrending_stops_where_trajectories_are_short(drifting):
    # inside the cut the detrended configuration gives PACO's plain statistics exactly
    s = drifting
    cfg = PacoConfig(detrend=1, calibrate=False)
    cut = trend_cut(s.angles, 4.1, cfg)
    xs, ys = torch.tensor([32.0 + 0.6 * cut, 32.0 + 1.3 * cut]), torch.tensor([32.0, 32.0])
    plain = paco_at(s.cube, s.angles, s.psf, xs, ys, PacoConfig(calibrate=False))[2]
    detrended = paco_at(s.cube, s.angles, s.psf, xs, ys, cfg)[2]
    assert float(detrended[0]) == float(plain[0])
    assert abs(float(detrended[1]) - float(plain[1])) > 1e-3
