"""``inversa hdr``: HDR radiance from an exposure-bracketed raw burst."""

from __future__ import annotations

from pathlib import Path

import typer

from inversa.cli.common import handle_errors, noise_option
from inversa.errors import InputError

DISPLAY_EXT = {".png", ".jpg", ".jpeg"}


@handle_errors
def hdr_cmd(
    inputs: list[Path] = typer.Argument(..., help="A .npz burst with 'exposure', a folder "
                                                  "of raw files, or raw files (frame 0 = "
                                                  "reference); exposure times from EXIF"),
    out: Path = typer.Option(..., "-o", "--out",
                             help="Output: .exr/.npy/.tiff float32 linear radiance, or "
                                  ".png/.jpg tone-mapped for display"),
    scale: int = typer.Option(1, help="Super-resolution factor: 1, 2 or 4"),
    method: str = typer.Option("auto", help="auto | learned | map | merge | naive (naive: "
                                            "no ghost removal; auto: learned where its "
                                            "weights cover the scale, else map)"),
    exposures: str | None = typer.Option(None, help="Exposure times (relative or seconds), "
                                                    "one per frame, e.g. 1,4,0.25,...: "
                                                    "replaces those of the input"),
    noise: str = typer.Option("auto", help="auto (metadata, else estimated) | blind | "
                                           "SHOT,READ"),
    no_confidence: bool = typer.Option(False, "--no-confidence",
                                       help="Trust every aligned frame (no g; ghosts)"),
    save_weights: Path | None = typer.Option(None, "--save-weights",
                                             help="Also write the weight maps: .npz "
                                                  "(arrays) or .png (figure)"),
    motion: str = typer.Option("similarity", help="translation | similarity | affine | "
                                                  "homography"),
    no_object_motion: bool = typer.Option(False, "--no-object-motion",
                                          help="Camera motion only: no motion of their "
                                               "own for moving objects (they are then "
                                               "taken from the reference frame alone)"),
    analytic_confidence: bool = typer.Option(False, "--analytic-confidence",
                                             help="The analytic alignment confidence g "
                                                  "instead of the learned one (hdr_g)"),
    layers: bool = typer.Option(False, "--layers",
                                help="map/learned: moving objects as layers of their own "
                                     "(background + one image and matte per object, "
                                     "estimated from the burst): their rims and the "
                                     "background behind them from every frame; takes a "
                                     "minute or more"),
) -> None:
    """Merge a bracketed burst into the reference frame's scene radiance, in units of the
    reference exposure (a value above 1 clipped in the reference), jointly aligned,
    denoised, demosaicked and (SCALE > 1) super-resolved; moving objects are taken from
    the frames that agree with the reference once the objects are given a motion of
    their own (tile matching where the per-pixel confidence g distrusts the camera
    motion); the rest of each frame is distrusted (no ghosts).

    Example: inversa hdr bracketed.npz -o scene.exr --scale 2
    """
    import dataclasses

    import numpy as np
    import torch
    from rich.console import Console

    from inversa.atomic import Staged, check_parent
    from inversa.burst.hdr import HDRConfig, default_hdr_method, reconstruct_hdr
    from inversa.burst.synth import split_exposures
    from inversa.camera.burstio import read_burst
    from inversa.camera.hdrio import RADIANCE_EXT, write_radiance
    from inversa.camera.tonemap import tonemap
    from inversa.restore.imageio import write_image

    ext = out.suffix.lower()
    if ext not in set(RADIANCE_EXT) | DISPLAY_EXT:
        raise InputError(f"unknown output extension {out.suffix!r}; expected .exr, .npy, "
                         ".tiff (radiance) or .png, .jpg (tone-mapped)", source=str(out))
    check_parent(out)
    if save_weights is not None:
        if save_weights.suffix.lower() not in (".npz", ".png"):
            raise InputError("--save-weights must end in .npz or .png", source=str(save_weights))
        check_parent(save_weights)
    if method == "auto":
        method = default_hdr_method(scale)
    config = HDRConfig(method=method, scale=scale, motion=motion,
                       confidence=not no_confidence, local_motion=not no_object_motion,
                       layers=layers, **({"g_model": None} if analytic_confidence else {}))
    burst = read_burst(inputs[0] if len(inputs) == 1 else list(inputs))
    if exposures is not None:
        exp = split_exposures(exposures)
        if len(exp) != burst.frames:
            raise InputError(f"{len(exp)} exposure times given for {burst.frames} frames",
                             field="--exposures")
        burst = dataclasses.replace(burst, exposure=torch.tensor(exp))  # re-validated
    lv = noise_option(noise, burst)
    console = Console(stderr=True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with console.status(f"HDR {method} x{scale}{', layers' if layers else ''}: "
                            f"{burst.frames} frames"):
            result = reconstruct_hdr(burst, config, noise=lv)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    if not layers and method in ("map", "learned") and result.flow is not None \
            and bool(result.flow.abs().sum() > 0):
        console.print("note: moving objects were found; --layers puts them on layers of "
                      "their own (a minute or more; better on most bursts, not all: "
                      "docs/hdr.md)")
    if result.velocities is not None:
        vs = ", ".join(f"({float(v[0]):.2f}, {float(v[1]):.2f})" for v in result.velocities)
        console.print(f"layers: {len(result.velocities)} moving object(s), velocities {vs} "
                      "pixels per frame")
    x = result.x
    with Staged() as st:
        if ext in DISPLAY_EXT:
            y = tonemap(x, burst.isp_params())
            st.stage(out, lambda p: write_image(p, y, bits=8))
        else:
            st.stage(out, lambda p: write_radiance(p, x))
        if save_weights is not None:
            if save_weights.suffix.lower() == ".npz":
                arrays = {"exposure_weight": result.exposure_weight.numpy(),
                          "confidence": result.confidence.numpy(),
                          "saturated": result.saturated.numpy(),
                          "exposure": result.exposures.numpy(),
                          "used": result.used.numpy()}
                if result.flow is not None:  # (K, 2, sH, sW): x, y displacement
                    arrays["object_motion"] = result.flow.float().numpy()
                if result.mattes is not None:  # layers: (J, sH, sW) and (J, 2)
                    arrays["object_mattes"] = result.mattes.numpy()
                    arrays["object_velocities"] = result.velocities.numpy()
                if result.layer_weight is not None:  # layers: (sH, sW) in [0, 1]
                    arrays["layer_weight"] = result.layer_weight.numpy()

                def write_npz(p: Path) -> None:
                    with open(p, "wb") as f:
                        np.savez_compressed(f, **arrays)

                st.stage(save_weights, write_npz)
            else:
                from inversa.burst.hdr_figure import plot_hdr

                st.stage(save_weights, lambda p: plot_hdr(burst, result, p))
        st.commit()
    peak = float(x.max())
    clipped = float((x > 1).any(1).float().mean())
    console.print(f"{out}: {x.shape[-1]}x{x.shape[-2]} ({method}, x{scale}, "
                  f"{int(result.used.sum())} of {burst.frames} frames, exposures "
                  f"{sorted(set(round(float(e), 4) for e in result.exposures))}); radiance "
                  f"up to {peak:.3g}x the reference's white level, {100 * clipped:.1f} % of "
                  "pixels above it")
