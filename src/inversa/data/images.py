"""Natural images that install offline with scikit-image, split into train and test.

The test images (used by tests, benchmarks and the demo) are never used for training:
``TEST_COLOR`` and ``TEST_GRAY`` are disjoint from ``TRAIN_IMAGES`` (``cat`` is the same
photograph as ``chelsea`` and is therefore excluded from both lists).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from inversa.errors import InputError

TEST_COLOR: tuple[str, ...] = ("astronaut", "coffee", "chelsea")
TEST_GRAY: tuple[str, ...] = ("camera", "coins", "moon")
TRAIN_IMAGES: tuple[str, ...] = (
    "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "motorcycle_left",
    "motorcycle_right", "colorwheel", "grass", "gravel", "brick", "clock", "page", "text",
    "cell", "microaneurysms", "lfw_subset",
)
_EXCLUDED = ("cat",)
# the colour photographs among TRAIN_IMAGES (raw-burst training needs colour); "rocket" is
# kept apart as the validation image of every training recipe
TRAIN_COLOR: tuple[str, ...] = ("hubble_deep_field", "immunohistochemistry", "retina",
                                "motorcycle_left", "motorcycle_right", "colorwheel")
VALIDATION: str = "rocket"
# a wider training set for the burst models: TRAIN_COLOR (half of whose area is the mostly
# dark retina and hubble_deep_field) plus a portrait that installs with matplotlib and three
# grey natural textures given a smooth colour tint (see :func:`tinted`)
TRAIN_COLOR_WIDE: tuple[str, ...] = (*TRAIN_COLOR, "grace_hopper", "tinted:grass",
                                     "tinted:gravel", "tinted:brick")
# fixed held-out list: tests and benchmarks only, never training
HELD_OUT: tuple[str, ...] = TEST_COLOR + TEST_GRAY


def _load_raw(name: str) -> np.ndarray:
    from skimage import data

    if name == "grace_hopper":  # matplotlib's sample photograph (512 x 600, colour)
        from matplotlib import cbook
        from skimage import io

        return io.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if name.startswith("tinted:"):
        return tinted(name.split(":", 1)[1])

    if name.startswith("motorcycle"):
        import skimage
        from skimage import io

        path = Path(skimage.__file__).parent / "data" / f"{name}.png"
        return io.imread(path)
    if name == "lfw_subset":  # 200 faces of 25x25: tile them into one image
        faces = data.lfw_subset()
        return np.concatenate([np.concatenate(list(faces[r * 20:(r + 1) * 20]), axis=1)
                               for r in range(10)], axis=0)
    return getattr(data, name)()


def tinted(name: str) -> np.ndarray:
    """A grey bundled image coloured by a smooth tint, ``(H, W, 3)`` float32 in [0, 1].

    ``rgb(p) = grey(p) * ((1 - r(p)) c1 + r(p) c2)``: ``r`` a linear ramp from 0 to 1 along a
    random direction, ``c1``, ``c2`` random colours with channels in [0.3, 1] (largest 1).
    The draw is seeded by the name, so the image is the same on every call.
    """
    import zlib

    grey = bundled(name, gray=True)[0, 0].numpy()
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    c = rng.uniform(0.3, 1.0, (2, 3)).astype(np.float32)
    c /= c.max(axis=1, keepdims=True)
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[:grey.shape[0], :grey.shape[1]].astype(np.float32)
    r = np.cos(a) * xx + np.sin(a) * yy
    r = (r - r.min()) / max(float(r.max() - r.min()), 1.0)
    return grey[..., None] * ((1 - r)[..., None] * c[0] + r[..., None] * c[1])


def bundled(name: str, gray: bool = False) -> torch.Tensor:
    """A bundled image as a float32 tensor ``(1, C, H, W)`` in [0, 1] (C = 3 or 1).

    Examples
    --------
    >>> bundled("camera").shape
    torch.Size([1, 1, 512, 512])
    """
    if name in _EXCLUDED:
        raise InputError(f"image {name!r} duplicates a test image and is excluded")
    a = _load_raw(name)
    a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else max(float(a.max()), 1.0))
    if a.ndim == 3:
        a = a[..., :3]
        if gray:
            a = a @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    return t.contiguous()


def load_folder(folder: str | Path) -> list[torch.Tensor]:
    """All PNG/TIFF/JPEG images of a folder, as ``(1, C, H, W)`` tensors in [0, 1]."""
    from inversa.restore.imageio import read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", source=str(folder))
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in {".png", ".tif", ".tiff", ".jpg", ".jpeg"})
    if not files:
        raise InputError("no PNG/TIFF/JPEG image in folder", source=str(folder))
    return [read_image(p).image for p in files]
