import pytest
import torch

from inversa.data.images import TEST_COLOR, TEST_GRAY, bundled
from inversa.restore.noise import estimate_noise_sigma


@pytest.mark.parametrize("name", [*TEST_COLOR, *TEST_GRAY])
@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_noise_estimate_within_15_percent(name, sigma, gen):
    x = bundled(name)
    s = sigma / 255
    est = estimate_noise_sigma(x + s * torch.randn(x.shape, generator=gen))
    assert abs(est - s) / s < 0.15, (name, sigma, est * 255)


def test_noise_estimate_of_clean_flat_image_is_zero():
    assert estimate_noise_sigma(torch.full((1, 1, 32, 32), 0.3)) == 0.0
