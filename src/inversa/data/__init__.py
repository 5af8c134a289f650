"""Images: bundled natural images (scikit-image), user folders, patch sampling."""

from inversa.data.images import TEST_COLOR, TEST_GRAY, TRAIN_IMAGES, bundled, load_folder
from inversa.data.patches import NoisyPatchSampler

__all__ = [
           "TEST_COLOR",
           "TEST_GRAY",
           "TRAIN_IMAGES",
           "NoisyPatchSampler",
           "bundled",
           "load_folder",
]
