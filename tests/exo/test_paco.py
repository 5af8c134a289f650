"""PACO: the statistics against brute force, detection, calibration, flux, robustness."""

import math

import numpy as np
import pytest
import torch

from inversa.exo.geometry import trajectory
from inversa.exo.inject import Companion, add_stamps, inject
from inversa.exo.paco import (
    PacoConfig,
    _grouped_matvec,
    local_statistics,
    paco_at,
    paco_map,
    shrinkage,
    unbiased_flux,
)


def test_shrinkage_matches_the_paper_formula():
    g = np.random.default_rng(0)
    x = g.normal(size=(20, 6))
    s = np.cov(x, rowvar=False, bias=True)
    t = 20
    num = np.trace(s @ s) + np.trace(s) ** 2 - 2 * np.sum(np.diag(s) ** 2)
    den = (t + 1) * (np.trace(s @ s) - np.sum(np.diag(s) ** 2))
    expect = min(max(num / den, 0), 1)
    got = float(shrinkage(torch.from_numpy(s)[None], t)[0])
    assert abs(got - expect) < 1e-10


def test_local_statistics_is_the_inverse_shrinkage_covariance():
    g = torch.Generator().manual_seed(0)
    patches = torch.randn(3, 30, 7, generator=g) * torch.tensor([1, 2, 3, 1, 1, 5, 1.0])
    m, cinv = local_statistics(patches, torch.ones(3, 30), jitter=0.0)
    x = patches[1].double()
    assert torch.allclose(m[1].double(), x.mean(0), atol=1e-5)
    s = torch.cov(x.T, correction=0)
    rho = shrinkage(s[None], 30)[0]
    c = (1 - rho) * s + rho * torch.diag(torch.diag(s))
    assert torch.allclose(cinv[1].double() @ c, torch.eye(7, dtype=torch.float64), atol=1e-4)


def test_grouped_matvec_equals_the_plain_gather():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(5, 4, 4, generator=g)
    mats = a @ a.transpose(1, 2)
    which = torch.randint(0, 5, (40,), generator=g)
    vecs = torch.randn(40, 4, generator=g)
    expect = (mats[which] @ vecs[..., None])[..., 0]
    assert torch.allclose(_grouped_matvec(mats, which, vecs), expect, atol=1e-5)


def test_detects_the_companions_and_estimates_flux(small_sim):
    s = small_sim
    maps = paco_map(s.cube, s.angles, s.psf)
    for c in s.companions:
        x, y = c.xy((64, 64))
        win = maps.snr[round(y) - 1:round(y) + 2, round(x) - 1:round(x) + 2]
        assert float(win.max()) > 5, c
    bright = s.companions[0]
    x, y = bright.xy((64, 64))
    flux, err, snr, it = unbiased_flux(s.cube, s.angles, s.psf, x, y)
    biased = float(maps.flux[round(y), round(x)])
    assert abs(flux - bright.flux) < 0.15 * bright.flux
    assert abs(flux - bright.flux) < abs(biased - bright.flux)  # the iteration helps
    assert snr > 5 and err > 0 and it >= 1


def test_snr_is_standard_normal_without_sources(empty_sim):
    s = empty_sim
    # raw b / sqrt(a) is under-dispersed with few frames (T = 24 < P = 49); the
    # calibration on the angle-reversed cube brings it to unit variance
    for cal, lo, hi in ((False, 0.5, 1.1), (True, 0.85, 1.15)):
        maps = paco_map(s.cube, s.angles, s.psf, PacoConfig(calibrate=cal))
        v = maps.snr[torch.isfinite(maps.snr)]
        assert v.numel() > 1000
        assert abs(float(v.mean())) < 0.15, cal
        assert lo < float(v.std()) < hi, (cal, float(v.std()))
        assert float(v.max()) < 5.0


def test_chunking_does_not_change_the_result(small_sim):
    s = small_sim
    cfg = PacoConfig(calibrate=False)
    a = paco_map(s.cube, s.angles, s.psf, cfg)
    b = paco_map(s.cube, s.angles, s.psf, PacoConfig(calibrate=False, chunk=97))
    fin = torch.isfinite(a.snr)
    assert torch.equal(fin, torch.isfinite(b.snr))
    assert torch.allclose(a.snr[fin], b.snr[fin], atol=1e-4)


def test_map_and_point_estimates_agree(small_sim):
    s = small_sim
    maps = paco_map(s.cube, s.angles, s.psf, PacoConfig(calibrate=False))
    flux, _, snr = paco_at(s.cube, s.angles, s.psf, torch.tensor([40.0]), torch.tensor([25.0]),
                             PacoConfig(calibrate=False))
    assert math.isclose(float(snr[0]), float(maps.snr[25, 40]), rel_tol=1e-4, abs_tol=1e-4)
    assert math.isclose(float(flux[0]), float(maps.flux[25, 40]), rel_tol=1e-4, abs_tol=1e-9)


def test_nan_pixels_are_masked_not_propagated(small_sim):
    s = small_sim
    cube = s.cube.clone()
    cube[3, 30:34, 40:44] = math.nan
    cube[:, 10, 10] = math.nan
    maps = paco_map(cube, s.angles, s.psf)
    ref = paco_map(s.cube, s.angles, s.psf)
    fin = torch.isfinite(ref.snr)
    assert torch.isfinite(maps.snr[fin]).float().mean() > 0.99
    c = s.companions[0]
    x, y = c.xy((64, 64))
    assert float(maps.snr[round(y) - 1:round(y) + 2, round(x) - 1:round(x) + 2].max()) > 5


def test_robust_variant_resists_bad_frames(small_sim):
    # two frames with a bright defect next to the companion: it inflates the plain
    # covariance there and hides the source; the robust weights keep it
    s = small_sim
    c = s.companions[1]
    x, y = c.xy((64, 64))
    xt, yt = trajectory(torch.tensor(x), torch.tensor(y), s.angles, (64, 64))
    cube = s.cube.clone()
    for t in (5, 12):
        add_stamps(cube[t:t + 1], (s.psf * 1e-2)[None], torch.round(xt[t:t + 1]).long() + 1,
                   torch.round(yt[t:t + 1]).long())
    xs, ys = torch.tensor([x]), torch.tensor([y])
    clean = float(paco_at(s.cube, s.angles, s.psf, xs, ys)[2][0])
    plain = float(paco_at(cube, s.angles, s.psf, xs, ys)[2][0])
    robust = float(paco_at(cube, s.angles, s.psf, xs, ys, PacoConfig(robust=True))[2][0])
    assert plain < 0.7 * clean
    assert robust > 0.85 * clean and robust > plain + 1


def test_spectral_cube_combines_channels(small_sim):
    s = small_sim
    cube = torch.stack([s.cube, s.cube.roll(1, 0)])
    psf = torch.stack([s.psf, s.psf])
    c = s.companions[1]
    x, y = c.xy((64, 64))
    one = paco_at(s.cube, s.angles, s.psf, torch.tensor([x]), torch.tensor([y]))
    two = paco_at(cube, s.angles, psf, torch.tensor([x]), torch.tensor([y]))
    assert float(two[2][0]) > float(one[2][0])  # a second channel adds S/N
    assert float(two[1][0]) < float(one[1][0])


def test_bad_shapes_raise():
    from inversa.errors import InputError

    with pytest.raises(InputError, match="angles"):
        paco_map(torch.zeros(4, 32, 32), torch.zeros(3), torch.ones(5, 5))
    with pytest.raises(InputError, match="larger"):
        paco_map(torch.zeros(4, 32, 32), torch.zeros(4), torch.ones(41, 41))
    psf = torch.zeros(9, 9)
    psf[0, 0] = 1
    with pytest.raises(InputError, match="centred"):
        paco_map(torch.zeros(4, 32, 32), torch.zeros(4), psf)


def test_injected_source_changes_flux_linearly(empty_sim):
    s = empty_sim
    x, y = Companion(18, 45, 1.0).xy((64, 64))
    base = paco_at(s.cube, s.angles, s.psf, torch.tensor([x]), torch.tensor([y]),
                   PacoConfig())[0]
    cube = inject(s.cube, s.angles, s.psf, [Companion(18, 45, 3e-5)])
    f, _, _, _ = unbiased_flux(cube, s.angles, s.psf, x, y)
    assert abs(f - float(base[0]) - 3e-5) < 1.5e-5


def test_unbiased_flux_error_bar_covers_the_re_estimation_loss(empty_sim):
    # close to the star the re-estimated statistics absorb much of a residual source, so
    # the unbiased flux scatters by err / kappa, more than the estimator's own 1 / sqrt(a)
    # (errors in the units of the S/N calibrated on the angle-reversed cube, as detect does)
    s = empty_sim
    scale = paco_map(s.cube, s.angles, s.psf).scale
    z, ratio = [], []
    for k in range(8):
        c = Companion(10.0, 45.0 * k, 6e-5)
        x, y = c.xy((64, 64))
        cube = inject(s.cube, s.angles, s.psf, [c])
        f, err, _, it = unbiased_flux(cube, s.angles, s.psf, x, y)
        err *= float(scale[round(y), round(x)])
        raw = paco_at(cube, s.angles, s.psf, torch.tensor([x]), torch.tensor([y]),
                      PacoConfig())[1]
        z.append((f - c.flux) / err)
        ratio.append(err / float(raw[0] * scale[round(y), round(x)]))
        assert 1 <= it <= 20
    z = torch.tensor(z)
    assert min(ratio) > 1.2  # the plain 1 / sqrt(a) would claim too small an error
    assert float(z.abs().max()) < 3 and 0.4 < float(z.std()) < 1.6, z


@pytest.mark.parametrize("degree", [0, 1])
def test_leaving_the_candidate_out_of_the_mean_keeps_more_of_it(empty_sim, degree):
    # PACO's temporal mean takes in part of a source crossing a location; without the
    # frames where the candidate passes (``exclude``) the response to it grows towards 1
    s = empty_sim
    comps = [Companion(14.0, 60.0 * k, 5e-5) for k in range(6)]
    cube = inject(s.cube, s.angles, s.psf, comps)
    xs = torch.tensor([c.xy((64, 64))[0] for c in comps])
    ys = torch.tensor([c.xy((64, 64))[1] for c in comps])

    def response(cfg):
        return float(((paco_at(cube, s.angles, s.psf, xs, ys, cfg)[0]
                       - paco_at(s.cube, s.angles, s.psf, xs, ys, cfg)[0]) / 5e-5).mean())

    plain = response(PacoConfig())
    left_out = response(PacoConfig(exclude=1.0, exclude_degree=degree))
    assert plain < 0.8 and left_out > 1.2 * plain, (plain, left_out)
    # with nothing left out (a window of no frame) it is PACO again
    same = paco_at(cube, s.angles, s.psf, xs, ys, PacoConfig(exclude=1e-9, min_frames=100))
    assert torch.allclose(same[2], paco_at(cube, s.angles, s.psf, xs, ys)[2])


@pytest.mark.parametrize("covariance", ["linear", "nonlinear"])
def test_remembered_statistics_change_nothing(small_sim, monkeypatch, covariance):
    # the calibration's reversed pass reuses the statistics of the first one; without the
    # store (frames too large for it) every value is recomputed, to the same maps
    import inversa.exo.paco as paco

    s = small_sim
    cfg = PacoConfig(covariance=covariance, robust=True)
    kept = paco_map(s.cube, s.angles, s.psf, cfg)
    monkeypatch.setattr(paco, "CACHE_BYTES", 0)
    fresh = paco_map(s.cube, s.angles, s.psf, cfg)
    fin = torch.isfinite(kept.snr)
    assert torch.equal(fin, torch.isfinite(fresh.snr))
    assert torch.allclose(kept.snr[fin], fresh.snr[fin], atol=1e-5)
    assert torch.allclose(kept.flux_err[fin], fresh.flux_err[fin], rtol=1e-5)
