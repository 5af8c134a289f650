"""Reading and writing images (PNG, TIFF, JPEG) as ``(1, C, H, W)`` tensors in [0, 1].

Integer images are divided by their type's maximum (255 or 65535); float TIFFs are taken
as they are. Alpha channels are dropped. Bad input raises :class:`InputError` naming the
file. Writing goes to a temporary file in the destination folder, renamed at the end, so
a failure never leaves a partial output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inversa.atomic import atomic_write, check_parent
from inversa.errors import InputError, existing_file

__all__ = ["ImageData", "atomic_write", "check_output_path", "read_image", "read_kernel",
           "write_image"]

READ_EXT = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"}
WRITE_EXT = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".npy"}


@dataclass
class ImageData:
    image: torch.Tensor  # (1, C, H, W) float32
    bits: int  # 8, 16 or 32 (float)
    path: str


def read_image(path: str | os.PathLike) -> ImageData:
    """Read a gray or colour image; raises :class:`InputError` on any problem."""
    p = existing_file(path, "an image file")
    src = str(p)
    ext = p.suffix.lower()
    if ext not in READ_EXT and ext != ".npy":
        raise InputError(f"unsupported image format {ext!r}; expected one of "
                         f"{sorted(READ_EXT | {'.npy'})}", source=src)
    try:
        if ext == ".npy":
            a = np.load(p, allow_pickle=False)
        elif ext in (".tif", ".tiff"):
            import tifffile

            a = tifffile.imread(p)
        elif ext == ".png" and (a16 := _read_png16(p)) is not None:
            a = a16
        else:
            import imageio.v3 as iio

            a = iio.imread(p, extension=ext)
    except Exception as e:
        raise InputError(f"cannot read image ({type(e).__name__}: {e})".splitlines()[0],
                         source=src) from None
    return ImageData(*_to_tensor(np.asarray(a), src), path=src)


def _read_png16(p: Path) -> np.ndarray | None:
    """16-bit PNGs through pypng (Pillow reduces 16-bit colour PNGs to 8 bits)."""
    import png

    w, h, rows, info = png.Reader(filename=str(p)).asDirect()
    if info["bitdepth"] != 16:
        return None
    planes = info["planes"]
    a = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, planes)
    if info.get("alpha"):
        a = a[..., :-1]
    return a[..., 0] if a.shape[-1] == 1 else a


def _write_png16(p: Path, q: np.ndarray) -> None:
    import png

    h, w = q.shape[:2]
    grey = q.ndim == 2
    with open(p, "wb") as f:
        png.Writer(width=w, height=h, bitdepth=16, greyscale=grey).write(
            f, q.reshape(h, -1).tolist())


def _to_tensor(a: np.ndarray, src: str) -> tuple[torch.Tensor, int]:
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # channel-first TIFF
    if a.ndim == 3 and a.shape[-1] in (2, 4):
        a = a[..., : a.shape[-1] - 1]  # drop alpha
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3):
        raise InputError(f"expected a gray (H, W) or colour (H, W, 3) image, got shape {a.shape}",
                         source=src)
    if min(a.shape[:2]) < 4:
        raise InputError(f"image too small: {a.shape[0]}x{a.shape[1]}", source=src)
    if a.dtype == np.uint8:
        bits, f = 8, a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        bits, f = 16, a.astype(np.float32) / 65535.0
    elif a.dtype == bool:
        bits, f = 8, a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.floating):
        bits, f = 32, a.astype(np.float32)
        if not np.isfinite(f).all():
            raise InputError(f"{int((~np.isfinite(f)).sum())} NaN/Inf pixel(s)", source=src)
    elif np.issubdtype(a.dtype, np.integer):
        bits, f = 16, np.clip(a, 0, 65535).astype(np.float32) / 65535.0
    else:
        raise InputError(f"unsupported pixel type {a.dtype}", source=src)
    t = torch.from_numpy(np.ascontiguousarray(f))
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    return t.contiguous(), bits


def check_output_path(path: str | os.PathLike) -> Path:
    """Validate an output path before any work: known extension, existing folder."""
    p = Path(path)
    if p.suffix.lower() not in WRITE_EXT:
        raise InputError(f"unsupported output format {p.suffix!r}; expected one of "
                         f"{sorted(WRITE_EXT)}", source=str(p))
    return check_parent(p)


def write_image(path: str | os.PathLike, x: torch.Tensor, bits: int = 16) -> Path:
    """Write ``(1, C, H, W)`` or ``(C, H, W)`` in [0, 1] (clipped). PNG/TIFF are 16-bit by
    default, JPEG always 8-bit, ``.npy`` float32."""
    p = check_output_path(path)
    a = x.detach().cpu().float()
    a = a[0] if a.dim() == 4 else a
    a = a.permute(1, 2, 0).numpy()
    a = a[..., 0] if a.shape[-1] == 1 else a
    ext = p.suffix.lower()
    if ext == ".npy":
        atomic_write(p, lambda t: np.save(t, a.astype(np.float32)))
        return p
    a = np.clip(a, 0.0, 1.0)
    if ext in (".jpg", ".jpeg"):
        bits = 8
    q = (np.round(a * 65535).astype(np.uint16) if bits == 16
         else np.round(a * 255).astype(np.uint8))
    if ext in (".tif", ".tiff"):
        import tifffile

        atomic_write(p, lambda t: tifffile.imwrite(t, q, photometric="rgb" if q.ndim == 3 else None))
    elif ext == ".png" and q.dtype == np.uint16:
        atomic_write(p, lambda t: _write_png16(t, q))
    else:
        import imageio.v3 as iio

        atomic_write(p, lambda t: iio.imwrite(t, q, extension=ext))
    return p


def read_kernel(path: str | os.PathLike) -> torch.Tensor:
    """A blur kernel from ``.npy`` (or an image file): 2-D, finite, non-negative sum > 0;
    returned normalised to sum 1."""
    p = existing_file(path, "a kernel file")
    if p.suffix.lower() == ".npy":
        try:
            k = np.load(p, allow_pickle=False)
        except Exception as e:
            raise InputError(f"cannot read kernel ({type(e).__name__})", source=str(p)) from None
        k = np.asarray(k, dtype=np.float64)
    else:
        k = read_image(p).image[0].mean(0).double().numpy()
    if k.ndim != 2:
        raise InputError(f"kernel must be 2-D, got {k.ndim}-D with shape {k.shape}",
                         source=str(p), field="kernel")
    if not np.isfinite(k).all():
        raise InputError("kernel has NaN/Inf values", source=str(p), field="kernel")
    s = float(k.sum())
    if abs(s) < 1e-12:
        raise InputError("kernel sums to 0; expected a positive sum", source=str(p),
                         field="kernel")
    if max(k.shape) > 255:
        raise InputError(f"kernel too large {k.shape}", source=str(p), field="kernel")
    return torch.from_numpy(k / s).float()
