"""The bundled image lists: training and held-out never overlap."""

import torch

from inversa.data import HELD_OUT, TRAIN_COLOR, TRAIN_IMAGES, VALIDATION, bundled
from inversa.data.images import TRAIN_COLOR_WIDE


def test_lists_disjoint():
    assert not set(HELD_OUT) & set(TRAIN_IMAGES)
    assert set(TRAIN_COLOR) <= set(TRAIN_IMAGES)
    assert VALIDATION not in TRAIN_COLOR and VALIDATION not in HELD_OUT


def test_wide_list_keeps_out_test_and_validation_images():
    bases = {n.split(":", 1)[-1] for n in TRAIN_COLOR_WIDE}
    assert not bases & set(HELD_OUT) and VALIDATION not in bases
    assert set(TRAIN_COLOR) < set(TRAIN_COLOR_WIDE)


def test_train_color_is_colour():
    for name in TRAIN_COLOR_WIDE:
        x = bundled(name)
        assert x.shape[1] == 3 and 0 <= float(x.min()) and float(x.max()) <= 1


def test_tinted_texture_is_the_grey_image_times_a_smooth_colour():
    grey, rgb = bundled("grass"), bundled("tinted:grass")
    assert torch.equal(rgb, bundled("tinted:grass"))  # the same draw on every call
    assert bool((rgb <= grey + 1e-6).all()) and bool((rgb.amax(1) >= 0.3 * grey[:, 0] - 1e-6).all())
    ok = grey[:, 0] > 0.05
    chroma = rgb / rgb.amax(1, keepdim=True).clamp_min(1e-6)  # the tint, up to its scale
    step = (chroma[..., 1:, :] - chroma[..., :-1, :]).abs().amax(1)
    # the tint varies across the image but hardly between neighbours
    assert float((chroma[..., :, 0] - chroma[..., :, -1]).abs().amax()) > 0.05
    assert float(step[(ok[:, 1:] & ok[:, :-1])].max()) < 0.02
