import pytest
import torch

from inversa.data.images import bundled
from inversa.errors import InputError
from inversa.metrics import psnr
from inversa.operators import Conv2d, gaussian_kernel
from inversa.restore.image import RestoreConfig, restore


@pytest.fixture(scope="module")
def crop():
    return bundled("coffee")[..., 100:196, 200:296]


@pytest.mark.parametrize("prior", ["tv", "wavelet", "smooth"])
def test_classical_denoising_improves_psnr(crop, prior, gen):
    noisy = crop + 0.1 * torch.randn(crop.shape, generator=gen)
    r = restore(noisy, RestoreConfig(prior=prior, noise_sigma=0.1))
    assert psnr(r.x, crop) > psnr(noisy, crop) + 3


def test_tv_deblurring_improves_psnr(crop, gen):
    k = gaussian_kernel(1.6)
    y = Conv2d(k, crop.shape[1:], boundary="reflect")(crop) + 0.01 * torch.randn(
        crop.shape, generator=gen)
    r = restore(y, RestoreConfig(prior="tv", noise_sigma=0.01, kernel=k, iterations=100))
    assert psnr(r.x, crop) > psnr(y, crop) + 1.0


def test_superresolution_shapes(crop, gen):
    from inversa.operators import BoxDecimate

    lr = BoxDecimate(2, crop.shape[1:])(crop)
    r = restore(lr, RestoreConfig(prior="tv", noise_sigma=0.005, scale=2, iterations=50))
    assert r.x.shape == crop.shape
    bic = torch.nn.functional.interpolate(lr, scale_factor=2, mode="bicubic")
    assert psnr(r.x, crop) > psnr(bic, crop)


@pytest.mark.parametrize("bad", [
    RestoreConfig(prior="nope"), RestoreConfig(noise_sigma=-0.1), RestoreConfig(lam=-1.0),
    RestoreConfig(scale=0), RestoreConfig(prior="learned", scale=2),
])
def test_bad_config(bad, crop):
    with pytest.raises(InputError):
        restore(crop, bad)


def test_nan_pixels_rejected(crop):
    y = crop.clone()
    y[0, 0, 3, 3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        restore(y, RestoreConfig(prior="tv", noise_sigma=0.1))
