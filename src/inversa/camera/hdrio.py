"""Writing HDR radiance: OpenEXR (half or float, through the ``OpenEXR`` binding), ``.npy``
and float32 TIFF; all ``(H, W, 3)`` linear camera RGB, unclipped."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from inversa.errors import InputError

RADIANCE_EXT = (".exr", ".npy", ".tif", ".tiff")


def _hwc(x: torch.Tensor) -> np.ndarray:
    a = x.detach().cpu().float()
    a = a[0] if a.dim() == 4 else a
    if a.dim() != 3 or a.shape[0] != 3:
        raise InputError(f"expected radiance (3, H, W), got {tuple(x.shape)}")
    return np.ascontiguousarray(a.permute(1, 2, 0).numpy().astype(np.float32))


def write_radiance(path: str | os.PathLike, x: torch.Tensor) -> Path:
    """Write radiance ``(1, 3, H, W)`` / ``(3, H, W)`` to ``path`` (format by extension:
    ``.exr`` float32 RGB, ZIP-compressed; ``.npy``; ``.tif``/``.tiff`` float32 RGB). Not
    atomic by itself: callers write to a temporary name (:class:`inversa.atomic.Staged`).
    """
    p = Path(path)
    ext = p.suffix.lower()
    a = _hwc(x)
    if ext == ".exr":
        import OpenEXR

        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        with OpenEXR.File(header, {"RGB": a}) as f:
            f.write(str(p))
    elif ext == ".npy":
        with open(p, "wb") as f:
            np.save(f, a)
    elif ext in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(p, a, photometric="rgb")
    else:
        raise InputError(f"radiance must be written as {', '.join(RADIANCE_EXT)}",
                         source=str(p))
    return p


def read_exr(path: str | os.PathLike) -> np.ndarray:
    """``(H, W, 3)`` float32 from an RGB OpenEXR file."""
    import OpenEXR

    try:
        with OpenEXR.File(str(path)) as f:
            ch = f.channels()
            if "RGB" in ch:
                return np.asarray(ch["RGB"].pixels, dtype=np.float32)
            return np.stack([np.asarray(ch[c].pixels, dtype=np.float32) for c in "RGB"], -1)
    except Exception as e:  # the binding raises plain exceptions on bad files
        raise InputError(f"cannot read OpenEXR ({type(e).__name__})", source=str(path)) from None


__all__ = ["RADIANCE_EXT", "read_exr", "write_radiance"]
