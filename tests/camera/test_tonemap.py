"""Tone mapping and radiance files."""

import numpy as np
import pytest
import torch

from inversa.camera.hdrio import read_exr, write_radiance
from inversa.camera.tonemap import guided_filter, tonemap
from inversa.errors import InputError


def test_tonemap_range_monotone_and_compresses():
    ramp = torch.logspace(-3, 2, 64).reshape(1, 1, 64).expand(3, 16, 64).contiguous()
    y = tonemap(ramp)
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    lum = y.mean((0, 1))
    assert bool((lum.diff() >= -1e-4).all())  # brighter radiance, brighter pixel
    assert float(lum[0]) > 0.02 and float(lum[-1]) > 0.9  # shadows lifted, highlights kept


def test_tonemap_keeps_grey_grey():
    y = tonemap(torch.full((3, 8, 8), 0.3))
    assert torch.allclose(y[0], y[1], atol=1e-5) and torch.allclose(y[1], y[2], atol=1e-5)


def test_guided_filter_keeps_constant_and_step():
    x = torch.zeros(1, 1, 32, 32)
    x[..., 16:] = 5.0
    out = guided_filter(x, x, 4, 1e-4)
    assert torch.allclose(out, x, atol=1e-2)


@pytest.mark.parametrize("ext", [".exr", ".npy", ".tiff"])
def test_write_radiance_round_trip(tmp_path, ext):
    x = torch.rand(3, 6, 5) * 50
    p = write_radiance(tmp_path / f"r{ext}", x)
    if ext == ".exr":
        a = read_exr(p)
    elif ext == ".npy":
        a = np.load(p)
    else:
        import tifffile

        a = tifffile.imread(p)
    assert a.shape == (6, 5, 3)
    assert np.allclose(a, x.permute(1, 2, 0).numpy())


def test_bad_exr_and_extension(tmp_path):
    (tmp_path / "bad.exr").write_bytes(b"not an exr")
    with pytest.raises(InputError):
        read_exr(tmp_path / "bad.exr")
    with pytest.raises(InputError):
        write_radiance(tmp_path / "r.png", torch.rand(3, 4, 4))
