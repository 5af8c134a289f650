"""CFA helpers, the ISP and its inverse, quantisation, demosaicking."""

import numpy as np
import pytest
import torch

from inversa.camera.cfa import PATTERNS, crop_pattern, mosaic, pack, unpack
from inversa.camera.demosaic import demosaic_bilinear
from inversa.camera.isp import ISPParams, inverse_smoothstep, render, smoothstep, srgb_degamma, srgb_gamma
from inversa.camera.quantize import normalise, quantize
from inversa.camera.unprocess import (
    RGB2XYZ,
    XYZ2CAMS,
    cam2rgb_from_xyz2cam,
    random_ccm,
    random_gains,
    unprocess,
)
from inversa.errors import InputError
from inversa.operators.mosaic import BayerMosaic


@pytest.mark.parametrize("pattern", PATTERNS)
def test_mosaic_matches_operator_and_pack_roundtrip(pattern, gen):
    x = torch.rand(2, 3, 8, 10, generator=gen)
    y = mosaic(x, pattern)
    assert torch.equal(y, BayerMosaic(pattern, (3, 8, 10))(x)[:, 0])
    assert torch.equal(unpack(pack(y)), y)
    # sub-image k is the channel named by the k-th letter of the pattern
    for k, ch in enumerate(pattern):
        dy, dx = divmod(k, 2)
        assert torch.equal(pack(y)[:, k], x[:, "RGB".index(ch), dy::2, dx::2])


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("top,left", [(0, 1), (1, 0), (1, 1)])
def test_crop_pattern(pattern, top, left, gen):
    x = torch.rand(3, 8, 8, generator=gen)
    assert torch.equal(mosaic(x, pattern)[top:top + 6, left:left + 6],
                       mosaic(x[:, top:top + 6, left:left + 6], crop_pattern(pattern, top, left)))


def test_bad_pattern():
    with pytest.raises(InputError, match="Bayer"):
        mosaic(torch.rand(3, 4, 4), "RGBX")


def test_curves_invert(gen):
    u = torch.linspace(0, 1, 1001, dtype=torch.float64)
    assert torch.allclose(srgb_degamma(srgb_gamma(u)), u, atol=1e-12)
    assert torch.allclose(inverse_smoothstep(smoothstep(u)), u, atol=1e-7)
    assert torch.allclose(smoothstep(inverse_smoothstep(u)), u, atol=1e-12)
    # sRGB: continuous at the knee, 18 % grey -> ~0.46
    assert abs(float(srgb_gamma(torch.tensor(0.18))) - 0.4613) < 1e-3


def test_ccm_rows_keep_grey(gen):
    for _ in range(5):
        c = random_ccm(gen)
        assert torch.allclose(c.sum(1), torch.ones(3, dtype=torch.float64), atol=1e-10)
    # each real camera matrix gives a sensible camera -> sRGB matrix (dominant diagonal)
    for m in XYZ2CAMS:
        c = cam2rgb_from_xyz2cam(m)
        assert (torch.diagonal(c) > 1).all()
    assert torch.allclose(RGB2XYZ.sum(1), torch.tensor([0.9505, 1.0, 1.089], dtype=torch.float64),
                          atol=1e-3)  # D65 white


def test_gains_distribution(gen):
    g = torch.stack([random_gains(gen) for _ in range(2000)])
    r, b = g[:, 0] / g[:, 1], g[:, 2] / g[:, 1]
    assert 1.9 <= r.min() and r.max() <= 2.4 and 1.5 <= b.min() and b.max() <= 1.9
    assert abs(float((1 / g[:, 1]).mean()) - 0.8) < 0.01


def test_unprocess_render_roundtrip(gen):
    from inversa.data.images import bundled

    x = bundled("coffee")[0, :, ::4, ::4]
    lin, params = unprocess(x, gen)
    assert lin.min() >= 0 and lin.max() <= 1
    back = render(lin, params)
    protected = x.mean(0) > 0.85  # highlight protection may act there (in linear light)
    err = (back - x).abs().amax(0)
    assert float(err[~protected].max()) < 1e-4
    assert float(err.mean()) < 2e-3


def test_unprocess_darkens_like_a_raw(gen):
    x = torch.full((3, 4, 4), 0.5)
    lin, _p = unprocess(x, gen)
    # a mid-grey sRGB value is about 0.2 in linear light, then divided by the gains
    assert float(lin.mean()) < 0.2
    # the green channel is the strongest one after inverse white balance (r, b gains > 1.5)
    assert lin[1].mean() > lin[0].mean() and lin[1].mean() > lin[2].mean()


def test_isp_params_validation():
    with pytest.raises(InputError, match="white balance"):
        ISPParams(wb=(1.0, -1.0, 1.0))
    with pytest.raises(InputError, match="3x3"):
        ISPParams(ccm=((1.0, 0.0), (0.0, 1.0)))
    with pytest.raises(InputError, match="exposure"):
        ISPParams(exposure=0.0)


@pytest.mark.parametrize("bits", [10, 12, 14])
def test_quantize_roundtrip(bits, gen):
    x = torch.rand(2, 8, 8, generator=gen, dtype=torch.float64) * 1.2 - 0.05
    black = [64, 60, 62, 66]
    dn = quantize(x, bits=bits, black=black)
    assert dn.dtype == np.uint16 and dn.max() <= 2 ** bits - 1 and dn.min() >= 0
    back = normalise(dn, black, 2 ** bits - 1)
    inside = (x > 0) & (x < 1)
    step = 1.0 / (2 ** bits - 1 - 66)
    assert np.abs(back - x.numpy())[inside.numpy()].max() <= step / 2 + 1e-6
    assert np.all(back <= 1.0 + 1e-6)  # clipped at white
    # quantising a quantised frame again changes nothing (lossless storage)
    assert np.array_equal(quantize(torch.from_numpy(back), bits=bits, black=black), dn)


def test_quantize_bad_levels():
    with pytest.raises(InputError, match="black"):
        quantize(np.zeros((2, 2)), bits=10, black=2000)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_demosaic_keeps_samples_and_flat_colour(pattern):
    x = torch.tensor([0.2, 0.5, 0.7]).reshape(3, 1, 1).expand(3, 8, 8)
    out = demosaic_bilinear(mosaic(x, pattern), pattern)
    assert torch.allclose(out, x, atol=1e-6)
    y = torch.rand(8, 8)
    d = demosaic_bilinear(y, pattern)
    assert torch.equal(mosaic(d, pattern), y)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_malvar_keeps_samples_and_beats_bilinear(pattern):
    from inversa.camera.demosaic import demosaic_malvar
    from inversa.data.images import bundled
    from inversa.metrics import psnr

    x = bundled("astronaut")[0, :, 100:228, 100:228]
    y = mosaic(x, pattern)
    d = demosaic_malvar(y, pattern)
    assert torch.allclose(mosaic(d, pattern), y)
    assert psnr(d[None], x[None]) > psnr(demosaic_bilinear(y, pattern)[None], x[None]) + 1.0
