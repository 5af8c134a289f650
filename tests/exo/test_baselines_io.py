"""Classical ADI, PCA, Mawet S/N maps, candidates; FITS/text/npy I/O and its errors."""

import math

import numpy as np
import pytest
import torch
from astropy.io import fits

from inversa.errors import InputError
from inversa.exo.baselines import cadi, pca_adi, pca_annular
from inversa.exo.candidates import find_candidates
from inversa.exo.io import Observation, frame_quality, observation_writer, read_angles, read_observation
from inversa.exo.snrmap import snr_map


def test_static_speckles_vanish():
    g = torch.Generator().manual_seed(0)
    static = torch.rand(32, 32, generator=g)
    cube = static.expand(8, 32, 32).clone()
    angles = torch.linspace(0, 40, 8, dtype=torch.float64)
    assert float(torch.nan_to_num(cadi(cube, angles)).abs().max()) < 1e-5
    assert float(torch.nan_to_num(pca_adi(cube, angles, 2)).abs().max()) < 1e-4


@pytest.mark.parametrize("method", ["cadi", "pca", "annular"])
def test_baselines_find_the_bright_companion(small_sim, method):
    s = small_sim
    if method == "cadi":
        img = cadi(s.cube, s.angles)
    elif method == "pca":
        img = pca_adi(s.cube, s.angles, 3, mask_radius=4)
    else:
        img = pca_annular(s.cube, s.angles, 4.1, 3, mask_radius=4)
    snr = snr_map(img, 4.1)
    cands = find_candidates(snr, 5.0, 4.1)
    x, y = s.companions[0].xy((64, 64))
    assert any(abs(c.x - x) < 2 and abs(c.y - y) < 2 for c in cands)


def test_candidates_can_be_placed_by_another_map():
    """``position_map``: the S/N comes from the detection map, the position (and the flux
    maps' values) from the other map's peak within one FWHM; none there, the peak stays."""
    snr = torch.zeros(40, 40)
    snr[20, 20] = 9.0
    snr[5, 30] = 7.0
    where = torch.full((40, 40), math.nan)
    where[19:22, 21:24] = torch.tensor([[1.0, 2.0, 1.0], [2.0, 5.0, 3.0], [1.0, 2.0, 1.0]])
    where[5, 36] = 8.0  # beyond one FWHM of the second detection
    flux = torch.arange(1600.0).reshape(40, 40)
    a, b = find_candidates(snr, 5.0, 4.0, flux, position_map=where)
    assert a.snr == 9.0 and b.snr == 7.0
    assert a.y == 20.0 and a.x == pytest.approx(22 + 0.5 * (2 - 3) / (2 - 10 + 3))
    assert a.flux == 20 * 40 + 22
    assert (b.x, b.y, b.flux) == (30.0, 5.0, 5 * 40 + 30)
    plain = find_candidates(snr, 5.0, 4.0, flux)[0]
    assert (plain.x, plain.y, plain.flux) == (20.0, 20.0, 20 * 40 + 20)


def test_snr_map_of_white_noise_is_close_to_standard():
    g = torch.Generator().manual_seed(1)
    s = snr_map(torch.randn(96, 96, generator=g), 4.0)
    v = s[torch.isfinite(s)]
    assert abs(float(v.mean())) < 0.1 and 0.8 < float(v.std()) < 1.25


def _write(path, data):
    fits.PrimaryHDU(None if data is None else np.asarray(data)).writeto(path)
    return path


def test_read_three_files_and_multi_extension(tmp_path, small_sim):
    s = small_sim
    hdr = fits.Header()
    hdr["OBJECT"] = "test star"
    fits.PrimaryHDU(s.cube.numpy(), header=hdr).writeto(tmp_path / "cube.fits")
    _write(tmp_path / "psf.fits", s.psf.numpy())
    np.savetxt(tmp_path / "angles.txt", s.angles.numpy())
    np.save(tmp_path / "angles.npy", s.angles.numpy())
    _write(tmp_path / "angles.fits", s.angles.numpy())
    for a in ("angles.txt", "angles.npy", "angles.fits"):
        assert torch.allclose(read_angles(tmp_path / a), s.angles)
    obs = read_observation(tmp_path / "cube.fits", tmp_path / "angles.fits", tmp_path / "psf.fits")
    assert obs.cube.shape == (24, 64, 64) and obs.header["OBJECT"] == "test star"
    observation_writer(obs)(tmp_path / "all.fits")
    both = read_observation(tmp_path / "all.fits")
    assert torch.equal(both.cube, obs.cube) and torch.equal(both.angles, obs.angles)
    assert torch.allclose(both.psf, obs.psf)
    scaled = read_observation(tmp_path / "all.fits", psf_scale=2.0)
    assert torch.allclose(scaled.psf, 2 * obs.psf)


def test_bad_files(tmp_path, small_sim):
    s = small_sim
    cube = _write(tmp_path / "cube.fits", s.cube.numpy())
    ang = _write(tmp_path / "ang.fits", s.angles.numpy())
    psf = _write(tmp_path / "psf.fits", s.psf.numpy())
    cases = {
        "2-D image": (_write(tmp_path / "img.fits", s.cube[0].numpy()), ang, psf),
        "all NaN": (_write(tmp_path / "nan.fits", np.full((4, 8, 8), np.nan)), ang, psf),
        "angles for": (cube, _write(tmp_path / "a3.fits", np.zeros(3)), psf),
        "larger": (cube, ang, _write(tmp_path / "big.fits", np.ones((81, 81)))),
        "not centred": (cube, ang, _write(tmp_path / "off.fits", np.roll(s.psf.numpy(), 4, 0))),
        "no image data": (_write(tmp_path / "empty.fits", None), ang, psf),
        "no such file": (tmp_path / "missing.fits", ang, psf),
    }
    (tmp_path / "text.fits").write_text("not fits")
    cases["readable FITS"] = (tmp_path / "text.fits", ang, psf)
    for match, (c, a, p) in cases.items():
        with pytest.raises(InputError, match=match):
            read_observation(c, a, p)
    with pytest.raises(InputError, match="ANGLES"):
        read_observation(cube, None, psf)


def test_frame_quality_flags_an_odd_frame(small_sim):
    cube = small_sim.cube.clone()
    cube[4] = cube[4].flip(0) * 3
    _, bad = frame_quality(cube)
    assert bad.nonzero()[:, 0].tolist() == [4]


def test_detect_drops_bad_frames(small_sim):
    from inversa.exo.detect import DetectConfig, detect

    s = small_sim
    cube = s.cube.clone()
    cube[4] = cube[4].flip(0) * 3
    obs = Observation(cube=cube, angles=s.angles, psf=s.psf)
    det = detect(obs, DetectConfig(method="cadi", drop_bad_frames=True))
    assert 4 not in det.frames_used and any("dropped" in n for n in det.notes)
