"""Conventions (vip-hci's), derotation, injection and the optical model."""

import math

import torch

from inversa.exo.geometry import derotate, to_polar, to_xy, trajectory
from inversa.exo.inject import Companion, inject, shifted_stamps
from inversa.exo.optics import Telescope, focal_intensity, offaxis_psf, pupil


def test_trajectory_follows_the_convention():
    # a source at PA theta in the derotated image is at theta - angles[t] in frame t
    shape = (64, 64)
    x, y = to_xy(20.0, 50.0, shape)
    angles = torch.tensor([0.0, 10.0, 35.0])
    xt, yt = trajectory(x, y, angles, shape)
    sep, pa = to_polar(xt, yt, shape)
    assert torch.allclose(sep, torch.full((3,), 20.0, dtype=torch.float64))
    assert torch.allclose(pa, (50.0 - angles.double()) % 360)


def test_derotation_lines_up_an_injected_source():
    psf = torch.zeros(9, 9)
    yy, xx = torch.meshgrid(torch.arange(9.0) - 4, torch.arange(9.0) - 4, indexing="ij")
    psf = torch.exp(-(xx ** 2 + yy ** 2) / 3)
    angles = torch.linspace(-30, 30, 7, dtype=torch.float64)
    cube = inject(torch.zeros(7, 64, 64), angles, psf, [Companion(18, 120, 1.0)])
    x, y = Companion(18, 120, 1.0).xy((64, 64))
    der = derotate(cube, angles)
    for t in range(7):
        iy, ix = divmod(int(der[t].argmax()), 64)
        assert math.hypot(ix - x, iy - y) < 1.0


def test_injection_conserves_flux_and_subpixel_position():
    yy, xx = torch.meshgrid(torch.arange(15.0) - 7, torch.arange(15.0) - 7, indexing="ij")
    psf = torch.exp(-(xx ** 2 + yy ** 2) / 4)
    st = shifted_stamps(psf, torch.tensor([0.3]), torch.tensor([-0.2]))[0]
    cy = float((st * yy).sum() / st.sum())
    cx = float((st * xx).sum() / st.sum())
    assert abs(cx - 0.3) < 0.01 and abs(cy + 0.2) < 0.01
    assert abs(float(st.sum() - psf.sum())) < 1e-4 * float(psf.sum())


def test_pupil_and_perfect_coronagraph():
    tel = Telescope(pupil_px=32, oversampling=4)
    p = pupil(tel)
    assert 0 < float(p.mean()) < 1
    flat = torch.zeros(1, *p.shape)
    direct = focal_intensity(p, flat, coronagraph=False)
    assert abs(float(direct.sum()) - 1.0) < 1e-4  # unocculted PSF sums to 1
    assert float(focal_intensity(p, flat).sum()) < 1e-10  # an ideal star is removed
    g = torch.Generator().manual_seed(0)
    aberr = 0.1 * torch.randn(1, *p.shape, generator=g) * p
    assert float(focal_intensity(p, aberr).sum()) > 1e-4  # aberrations leave speckles
    psf = offaxis_psf(tel, 21)
    assert int(psf.argmax()) == 10 * 21 + 10


def test_realisations_share_the_aberrations_not_the_noise():
    """Another realisation of a seed keeps its speckle pattern (static aberrations) and
    draws new AO residuals and noise; a different seed has different speckles."""
    import pytest

    from inversa.errors import InputError
    from inversa.exo.simulate import SimConfig, simulate

    cfg = SimConfig(frames=3, size=32, subframes=4, drift_rms=0.0)
    base = simulate(cfg, seed=5).cube.mean(0)
    again = simulate(cfg, seed=5, realisation=0).cube.mean(0)
    other = simulate(cfg, seed=6).cube.mean(0)
    assert not torch.equal(base, again)
    assert torch.equal(again, simulate(cfg, seed=5, realisation=0).cube.mean(0))
    assert not torch.equal(again, simulate(cfg, seed=5, realisation=1).cube.mean(0))

    def corr(u, v):
        u, v = u - u.mean(), v - v.mean()
        return float((u * v).sum() / (u.norm() * v.norm()))

    assert corr(base, again) > corr(base, other) + 0.05
    with pytest.raises(InputError):
        simulate(cfg, seed=5, realisation=-1)
