"""``inversa isp``: render linear camera RGB (or a raw frame) to display sRGB."""

from __future__ import annotations

from pathlib import Path

import typer

from inversa.cli.common import handle_errors
from inversa.errors import InputError


def _floats(text: str | None, n: int, name: str) -> list[float] | None:
    if text is None:
        return None
    try:
        v = [float(t) for t in text.replace(";", ",").split(",")]
    except ValueError:
        v = []
    if len(v) != n:
        raise InputError(f"expected {n} numbers separated by commas, got {text!r}", field=name)
    return v


def read_linear(path: Path):
    """(linear camera RGB (1, 3, H, W), Burst metadata or None) from any supported input."""
    import numpy as np
    import torch

    from inversa.camera.burstio import read_burst
    from inversa.camera.demosaic import demosaic_bilinear
    from inversa.camera.rawfile import RAW_EXT

    ext = path.suffix.lower()
    if ext == ".npz" or ext in RAW_EXT or path.is_dir():
        b = read_burst(path)
        return demosaic_bilinear(b.raw[0], b.cfa)[None], b
    if not path.exists():
        raise InputError("no such file", source=str(path))
    if ext == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as e:
            raise InputError(f"cannot read .npy ({type(e).__name__})", source=str(path)) from None
    elif ext in (".tif", ".tiff"):
        import tifffile

        try:
            a = tifffile.imread(path)
        except Exception as e:
            raise InputError(f"cannot read TIFF ({type(e).__name__})", source=str(path)) from None
        if not np.issubdtype(a.dtype, np.floating):
            a = a.astype(np.float64) / np.iinfo(a.dtype).max
    else:
        raise InputError("expected a linear image (.npy, float .tiff), a raw file, a folder "
                         "of raw files or a .npz burst", source=str(path))
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise InputError(f"expected numbers, got dtype {a.dtype}", source=str(path))
    if a.ndim == 3 and a.shape[-1] == 3:
        a = a.transpose(2, 0, 1)
    elif not (a.ndim == 3 and a.shape[0] == 3):
        raise InputError(f"expected an RGB image (H, W, 3), got shape {a.shape}", source=str(path))
    if not np.all(np.isfinite(a)):
        raise InputError("image contains NaN or infinite values", source=str(path))
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None], None


@handle_errors
def isp_cmd(
    src: Path = typer.Argument(..., help="Linear camera RGB (.npy / float .tiff), a raw file, "
                                         "a folder of raw files or a .npz burst (reference "
                                         "frame, demosaicked)"),
    out: Path = typer.Option(..., "-o", "--out", help="Output image (.png, .jpg, .tiff)"),
    meta: Path | None = typer.Option(None, help="Take white balance and colour matrix from "
                                                "this burst (.npz or raw file)"),
    wb: str | None = typer.Option(None, help="White-balance gains R,G,B"),
    ccm: str | None = typer.Option(None, help="Camera RGB -> sRGB matrix, 9 numbers by rows"),
    exposure: float = typer.Option(0.0, help="Exposure compensation in stops (EV)"),
    tone: bool = typer.Option(True, help="Apply the global tone curve"),
    bits: int = typer.Option(8, help="Bits per channel for PNG/TIFF (8 or 16)"),
) -> None:
    """Render linear camera RGB to display sRGB with white balance, colour matrix, sRGB
    gamma and tone curve from the file's metadata (or --meta), with overrides.

    Example: inversa isp burst.npz -o reference.png
    """
    from inversa.camera.burstio import read_burst
    from inversa.camera.isp import render
    from inversa.restore.imageio import check_output_path, write_image

    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        raise InputError("output must be .png, .jpg or .tiff", source=str(out))
    check_output_path(out)
    if bits not in (8, 16):
        raise InputError(f"bits must be 8 or 16, got {bits}", field="--bits")
    wb_v, ccm_v = _floats(wb, 3, "--wb"), _floats(ccm, 9, "--ccm")
    x, burst = read_linear(src)
    if meta is not None:
        burst = read_burst(meta)
    if burst is None:
        import torch

        from inversa.camera.burstio import Burst  # identity metadata

        burst = Burst(torch.zeros(1, 2, 2), "RGGB")
    params = burst.isp_params(wb=None if wb_v is None else tuple(wb_v),
                              ccm=None if ccm_v is None else (tuple(ccm_v[0:3]),
                                                              tuple(ccm_v[3:6]),
                                                              tuple(ccm_v[6:9])),
                              exposure=2.0 ** exposure, tone=tone)
    y = render(x, params)
    write_image(out, y, bits=bits)
    print(f"{out}: {y.shape[-1]}x{y.shape[-2]} sRGB (wb={tuple(round(v, 3) for v in params.wb)}, "
          f"exposure {exposure:+g} EV{'' if tone else ', no tone curve'})")
