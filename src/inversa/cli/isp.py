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
    from inversa.camera.burstio import read_burst
    from inversa.camera.demosaic import demosaic_bilinear
    from inversa.camera.rawfile import RAW_EXT
    from inversa.restore.imageio import read_image

    ext = path.suffix.lower()
    if ext == ".npz" or ext in RAW_EXT or path.is_dir():
        b = read_burst(path)
        return demosaic_bilinear(b.raw[0], b.cfa)[None], b
    if ext not in (".npy", ".tif", ".tiff"):
        raise InputError("expected a linear image (.npy, float .tiff), a raw file, a folder "
                         "of raw files or a .npz burst", source=str(path))
    x = read_image(path).image
    if x.shape[1] != 3:
        raise InputError(f"expected an RGB image (H, W, 3), got {x.shape[1]} channel(s)",
                         source=str(path))
    return x, None


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
    from dataclasses import replace

    from inversa.camera.burstio import read_burst
    from inversa.camera.isp import ISPParams, render
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
    overrides = {"exposure": 2.0 ** exposure, "tone": tone}
    if wb_v is not None:
        overrides["wb"] = tuple(wb_v)
    if ccm_v is not None:
        overrides["ccm"] = (tuple(ccm_v[0:3]), tuple(ccm_v[3:6]), tuple(ccm_v[6:9]))
    base = burst.isp_params() if burst is not None else ISPParams()
    params = replace(base, **overrides)  # validated again by ISPParams
    y = render(x, params)
    write_image(out, y, bits=bits)
    print(f"{out}: {y.shape[-1]}x{y.shape[-2]} sRGB (wb={tuple(round(v, 3) for v in params.wb)}, "
          f"exposure {exposure:+g} EV{'' if tone else ', no tone curve'})")
