"""Images: bundled natural images (scikit-image), user folders, patch sampling.

``TRAIN_IMAGES`` (and its colour subset ``TRAIN_COLOR``) may be used for training;
``VALIDATION`` is the validation image of the training recipes; ``HELD_OUT``
(= ``TEST_COLOR + TEST_GRAY``) is used by tests and benchmarks only.
"""

from inversa.data.images import (
                                 HELD_OUT,
                                 TEST_COLOR,
                                 TEST_GRAY,
                                 TRAIN_COLOR,
                                 TRAIN_IMAGES,
                                 VALIDATION,
                                 bundled,
                                 load_folder,
)
from inversa.data.patches import NoisyPatchSampler

__all__ = [
    "HELD_OUT",
    "TEST_COLOR",
    "TEST_GRAY",
    "TRAIN_COLOR",
    "TRAIN_IMAGES",
    "VALIDATION",
    "NoisyPatchSampler",
    "bundled",
    "load_folder",
]
