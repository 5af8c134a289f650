"""``inversa burst``: one clean, demosaicked, super-resolved image from a raw burst."""

from __future__ import annotations

from pathlib import Path

import typer

from inversa.cli.common import handle_errors, noise_option
from inversa.errors import InputError

LINEAR_EXT = {".npy", ".tif", ".tiff"}
RENDER_EXT = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@handle_errors
def burst_cmd(
    inputs: list[Path] = typer.Argument(..., help="A .npz burst, a folder of raw files, or "
                                                  "several raw files (frame 0 = reference)"),
    out: Path = typer.Option(..., "-o", "--out", help="Output: .npy/.tiff float32 linear "
                                                      "camera RGB, or .png/.jpg rendered"),
    scale: int = typer.Option(4, help="Super-resolution factor (1 = burst denoising + "
                                      "demosaicking)"),
    method: str = typer.Option("auto", help="auto | learned | map | merge | single (auto: "
                                            "learned when its weights cover the scale, "
                                            "else map)"),
    prior: str = typer.Option("pnp", help="tv | wavelet | pnp (map and single)"),
    frames: int | None = typer.Option(None, help="Use the first N frames"),
    motion: str = typer.Option("similarity", help="translation | similarity | affine | "
                                                  "homography"),
    refine: int = typer.Option(0, help="Rounds of motion refinement against the estimate"),
    noise: str = typer.Option("auto", help="auto (metadata, else estimated) | blind | "
                                           "SHOT,READ"),
    render: bool | None = typer.Option(None, "--render/--linear",
                                       help="Render through the ISP (default: by extension; "
                                            "--render with .tiff gives 16-bit sRGB)"),
    save_motion: Path | None = typer.Option(None, "--save-motion",
                                            help="Write the estimated motions (JSON)"),
    tile: int = typer.Option(0, help="Tile size in raw pixels (0: automatic)"),
    ensemble: int | None = typer.Option(None, help="learned: average 1, 2 (transposed), 4 "
                                                "(mirrored) or 8 (both) solutions of the same "
                                                "problem; that many times the time, a few "
                                                "tenths of a dB (default: 2 at x2, else 1)"),
) -> None:
    """Align the frames (robust Lucas-Kanade on the raw mosaics) and reconstruct the
    reference frame's scene at SCALE times its resolution, linear camera RGB.

    Example: inversa burst burst.npz -o out.png --scale 4 --method learned
    """
    import json

    import numpy as np
    from rich.console import Console

    from inversa.atomic import Staged, check_parent
    from inversa.burst.reconstruct import ReconConfig, default_method, reconstruct
    from inversa.camera.burstio import read_burst
    from inversa.camera.isp import render as isp_render
    from inversa.restore.imageio import write_image

    ext = out.suffix.lower()
    if ext not in LINEAR_EXT | RENDER_EXT:
        raise InputError(f"unknown output extension {out.suffix!r}; expected .npy, .tiff, "
                         ".png or .jpg", source=str(out))
    check_parent(out)
    do_render = render if render is not None else ext not in LINEAR_EXT
    if do_render and ext == ".npy":
        raise InputError("a rendered image cannot be written as .npy", source=str(out))
    if not do_render and ext in (".png", ".jpg", ".jpeg"):
        raise InputError("linear output needs .npy or .tiff", source=str(out))
    if save_motion is not None and save_motion.suffix.lower() != ".json":
        raise InputError("--save-motion must end in .json", source=str(save_motion))
    if frames is not None and frames < 1:
        raise InputError(f"--frames must be >= 1, got {frames}", field="--frames")
    if ensemble not in (None, 1, 2, 4, 8):
        raise InputError(f"must be 1, 2, 4 or 8, got {ensemble}", field="--ensemble")
    if method == "auto":
        method = default_method(scale)
    if ensemble is not None and ensemble > 1 and method != "learned":
        raise InputError(f"the ensemble is for --method learned, not {method}",
                         field="--ensemble")
    config = ReconConfig(method=method, scale=scale, prior=prior, motion=motion,
                         refine=refine, max_frames=frames, tile=tile,
                         transpose_ensemble=None if ensemble is None else ensemble in (2, 8),
                         flip_ensemble=ensemble is not None and ensemble >= 4)
    burst = read_burst(inputs[0] if len(inputs) == 1 else list(inputs))
    lv = noise_option(noise, burst)
    console = Console(stderr=True)
    import warnings

    with warnings.catch_warnings():  # reported below, once, as a line of our own
        warnings.simplefilter("ignore", UserWarning)
        result = reconstruct(burst, config, noise=lv, progress=console)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    x = result.x
    with Staged() as st:
        if do_render:
            y = isp_render(x, burst.isp_params())
            st.stage(out, lambda p: write_image(p, y, bits=16))
        else:
            a = x[0].permute(1, 2, 0).numpy().astype(np.float32)
            if ext == ".npy":
                st.stage(out, lambda p: np.save(p, a))
            else:
                import tifffile

                st.stage(out, lambda p: tifffile.imwrite(p, a, photometric="rgb"))
        if save_motion is not None:
            rec = motion_record(result, scale)
            st.stage(save_motion, lambda p: p.write_text(json.dumps(rec, indent=1)))
        st.commit()
    k = int(result.used.sum())
    n = result.noise
    console.print(f"{out}: {x.shape[-1]}x{x.shape[-2]} ({method}, x{scale}, {k} of "
                  f"{burst.frames} frames, noise shot={n.shot:.3g} read={n.read:.3g})")


def motion_record(result, scale: int) -> dict:
    from inversa.burst.align import raw_to_hr

    al = result.alignment
    if al is None:
        return {"scale": scale, "frames": []}
    hr = raw_to_hr(al.matrices, scale)
    return {"scale": scale,
            "convention": "frame_to_reference: raw (low-resolution) pixel q of frame k "
                          "shows the scene at P q of the reference frame (x = column); "
                          "frame_to_reference_hr: the same in output pixels",
            "frames": [{"frame": i, "used": bool(result.used[i]),
                        "overlap": float(al.overlap[i]), "ncc": float(al.ncc[i]),
                        "frame_to_reference": al.matrices[i].tolist(),
                        "frame_to_reference_hr": hr[i].tolist()}
                       for i in range(al.matrices.shape[0])]}
