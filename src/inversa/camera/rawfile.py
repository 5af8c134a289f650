"""Reading one raw file (DNG and every format LibRaw reads) through ``rawpy``.

A frame is returned normalised: ``x = (DN - b_c) / (w - b_c)`` with the per-channel black
level ``b_c`` and the white level ``w`` reported by LibRaw. Metadata: the CFA pattern of
the visible area, the as-shot white balance (gains, green = 1, times ``2**BaselineExposure``
for DNG files that carry one), the camera RGB -> linear sRGB matrix, and exposure time and
ISO read from the EXIF block by ``exifread`` (LibRaw's values as fallback).

Only Bayer sensors are accepted: X-Trans (6x6 pattern), Foveon and other stacked or
linear (already demosaicked) files raise :class:`InputError`.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inversa.camera.cfa import PATTERNS
from inversa.camera.unprocess import cam2rgb_from_xyz2cam
from inversa.errors import InputError, existing_file

RAW_EXT = {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf",
           ".orf", ".rw2", ".pef", ".srw", ".raw", ".3fr", ".iiq", ".erf", ".kdc", ".dcr",
           ".mrw", ".mos", ".x3f", ".rwl", ".gpr"}


@dataclass
class RawFrame:
    """One raw frame: ``raw`` float32 (H, W) normalised; metadata may be None."""

    raw: np.ndarray
    cfa: str
    black: tuple[float, float, float, float]  # per tile position, in DN
    white: float
    wb: tuple[float, float, float] | None
    ccm: np.ndarray | None  # (3, 3) camera RGB -> linear sRGB
    exposure: float | None  # seconds
    iso: float | None
    path: str


def _ratio(v) -> float | None:
    try:
        vals = v.values if hasattr(v, "values") else v
        x = vals[0] if isinstance(vals, list | tuple) else vals
        f = float(x.num) / float(x.den) if hasattr(x, "num") else float(x)
        return f if math.isfinite(f) else None
    except (ZeroDivisionError, ValueError, TypeError, IndexError):
        return None


def _exif(path: Path) -> dict[str, float]:
    import exifread

    try:
        with open(path, "rb") as f:
            tags = exifread.process_file(f, details=False)
    except Exception:  # exifread fails on some vendor blocks: metadata is optional
        return {}
    out: dict[str, float] = {}
    for key, names in (("exposure", ("EXIF ExposureTime", "Image ExposureTime")),
                       ("iso", ("EXIF ISOSpeedRatings", "Image ISOSpeedRatings",
                                "EXIF PhotographicSensitivity")),
                       ("baseline", ("Image BaselineExposure", "Image Tag 0xC62A"))):
        for n in names:
            if n in tags and (v := _ratio(tags[n])) is not None:
                out[key] = v
                break
    return out


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """LibRaw prints warnings ("Unexpected end of file") on the C stderr: hide them, the
    error we raise says it in one line."""
    fd = 2  # the C library's stderr, whatever Python's sys.stderr is
    try:
        saved = os.dup(fd)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def read_raw(path: str | os.PathLike) -> RawFrame:
    """Read one raw file; raises :class:`InputError` if it is unreadable or not Bayer."""
    import rawpy

    p = existing_file(path, "a raw file")
    src = str(p)
    try:
        with _quiet_stderr(), rawpy.imread(src) as r:
            if r.raw_type != rawpy.RawType.Flat or r.num_colors != 3:
                raise InputError("not a Bayer sensor (stacked/Foveon or linear raw data); "
                                 "only Bayer CFA files are supported", source=src)
            colors = r.raw_colors_visible
            desc = r.color_desc.decode("ascii", "replace")
            pat = r.raw_pattern
            if pat is None or np.asarray(pat).shape != (2, 2):
                raise InputError(f"not a Bayer sensor (CFA pattern of shape "
                                 f"{None if pat is None else np.asarray(pat).shape}, "
                                 "e.g. X-Trans); only 2x2 Bayer patterns are supported",
                                 source=src)
            cfa = "".join(desc[int(c)] for c in colors[:2, :2].reshape(-1)).upper()
            if cfa not in PATTERNS:
                raise InputError(f"not a Bayer RGB sensor (pattern {cfa!r})", source=src)
            dn = r.raw_image_visible.astype(np.float64)
            black_c = np.asarray(r.black_level_per_channel, dtype=np.float64)
            black = black_c[colors]
            white = float(r.white_level)
            cam_wb = np.asarray(r.camera_whitebalance[:3], dtype=np.float64)
            xyz2cam = np.asarray(r.rgb_xyz_matrix, dtype=np.float64)[:3]
            cmat = np.asarray(r.color_matrix, dtype=np.float64)[:, :3]
            other = r.other if hasattr(r, "other") else None
            tile_black = tuple(float(black[dy, dx]) for dy in (0, 1) for dx in (0, 1))
    except InputError:
        raise
    except Exception as e:  # rawpy.LibRawError and friends, truncated files
        msg = e.args[0].decode("ascii", "replace") if e.args and isinstance(e.args[0], bytes) \
            else str(e)
        raise InputError(f"unreadable or truncated raw file ({type(e).__name__}: {msg})"
                         .splitlines()[0], source=src) from None
    if dn.shape[0] % 2 or dn.shape[1] % 2:
        dn = dn[: dn.shape[0] // 2 * 2, : dn.shape[1] // 2 * 2]
        black = black[: dn.shape[0], : dn.shape[1]]
    raw = ((dn - black) / (white - black)).astype(np.float32)
    meta = _exif(p)
    wb = None
    if np.all(np.isfinite(cam_wb)) and np.all(cam_wb > 0):
        wb_arr = cam_wb / cam_wb[1] * 2.0 ** meta.get("baseline", 0.0)
        wb = tuple(float(v) for v in wb_arr)
    ccm = None
    if np.any(xyz2cam != 0):
        import torch

        ccm = cam2rgb_from_xyz2cam(torch.from_numpy(xyz2cam)).numpy()
    elif np.any(cmat != 0):
        ccm = cmat
    exposure = meta.get("exposure")
    iso = meta.get("iso")
    if other is not None:
        exposure = exposure or (float(other.shutter_speed) or None)
        iso = iso or (float(other.iso_speed) or None)
    return RawFrame(raw=raw, cfa=cfa, black=tile_black, white=white, wb=wb, ccm=ccm,
                    exposure=exposure, iso=iso, path=src)
