"""The bundled image lists: training and held-out never overlap."""

from inversa.data import HELD_OUT, TRAIN_COLOR, TRAIN_IMAGES, VALIDATION, bundled


def test_lists_disjoint():
    assert not set(HELD_OUT) & set(TRAIN_IMAGES)
    assert set(TRAIN_COLOR) <= set(TRAIN_IMAGES)
    assert VALIDATION not in TRAIN_COLOR and VALIDATION not in HELD_OUT


def test_train_color_is_colour():
    for name in TRAIN_COLOR:
        assert bundled(name).shape[1] == 3
