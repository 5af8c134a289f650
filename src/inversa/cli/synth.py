"""``inversa synth burst``: a synthetic raw burst from an ordinary image."""

from __future__ import annotations

from pathlib import Path

import typer

from inversa.cli.common import handle_errors
from inversa.errors import InputError

app = typer.Typer(help="Simulate sensor data from ordinary images.", no_args_is_help=True)


def side_paths(out: Path) -> tuple[Path, Path]:
    """Ground truth and motions written next to a burst ``DIR/NAME.npz``."""
    return out.with_name(out.stem + ".gt.npy"), out.with_name(out.stem + ".motions.json")


@app.command("burst")
@handle_errors
def burst_cmd(
    image: Path = typer.Argument(..., help="sRGB image (PNG/JPEG/TIFF) or a bundled image "
                                           "name such as 'astronaut'"),
    out: Path = typer.Option(..., "-o", "--out", help="Output burst (.npz)"),
    dng_dir: Path | None = typer.Option(None, "--dng-dir",
                                        help="Also write the frames as DNG files here"),
    scale: int = typer.Option(4, help="Super-resolution factor s (ground truth is s times "
                                      "the frames)"),
    frames: int = typer.Option(14, help="Number of frames K"),
    seed: int = typer.Option(0, help="Random seed (same seed, same burst)"),
    noise: str = typer.Option("random", help="random | none | SHOT,READ"),
    max_translation: float = typer.Option(24.0, help="Max translation, high-res pixels"),
    max_rotation: float = typer.Option(1.0, help="Max rotation, degrees"),
    motion: str = typer.Option("random", help="random | handheld | homography"),
    exposures: str | None = typer.Option(None, help="Relative exposure per frame, e.g. "
                                                    "1,4,1/4 (K values), or 1,4,1/4... (a "
                                                    "pattern repeated over the K frames)"),
    hdr_peak: float | None = typer.Option(None, "--hdr-peak",
                                          help="HDR scene: highlights lifted to this "
                                               "radiance (x the reference white level) "
                                               "and shadows deepened; e.g. 4"),
    lights: int = typer.Option(0, help="Light sources of radiance --hdr-peak"),
    moving_objects: int = typer.Option(0, "--moving-objects",
                                       help="Objects moving independently of the camera"),
    still_objects: bool = typer.Option(False, "--still-objects",
                                       help="Hold the --moving-objects still in the scene "
                                            "where the reference shows them: the static "
                                            "twin of the same seed, same ground truth"),
    bits: int = typer.Option(12, help="ADC bit depth"),
    black: float = typer.Option(64, help="Black level (DN)"),
    cfa: str = typer.Option("RGGB", help="Bayer pattern"),
    crop: int | None = typer.Option(None, help="Ground-truth size (square crop at the "
                                               "centre); default: the whole image"),
) -> None:
    """Unprocess IMAGE to linear camera RGB, move, integrate, decimate, mosaic, add noise.

    Writes OUT (.npz burst), OUT_STEM.gt.npy (float32 (sH, sW, 3) linear camera RGB: the
    radiance of the reference frame's scene, in units of its white level, so above 1
    where it clipped), OUT_STEM.motions.json (true frame -> reference matrices) and, with
    moving objects, OUT_STEM.moving.npy ((sH, sW) bool: where they pass), all or nothing.

    Example: inversa synth burst astronaut -o burst.npz --scale 4 --frames 14 --seed 0
    """
    import json

    import numpy as np

    from inversa.atomic import Staged, check_new_folder, check_parent
    from inversa.burst.motion import MotionConfig
    from inversa.burst.synth import SynthConfig, motions_record, split_exposures, synthesize_burst
    from inversa.camera.burstio import dng_filler, npz_writer
    from inversa.camera.noise import NoiseLevels

    if out.suffix.lower() != ".npz":
        raise InputError("the burst must be written as .npz", source=str(out))
    check_parent(out)
    if dng_dir is not None:
        check_new_folder(dng_dir)
    noise_cfg = noise if noise in ("random", "none") else NoiseLevels.parse(noise)
    exp = split_exposures(exposures, frames)
    if lights and hdr_peak is None:
        raise InputError("--lights needs --hdr-peak (their radiance)", field="--lights")
    if still_objects and not moving_objects:
        raise InputError("--still-objects needs --moving-objects (how many)",
                         field="--still-objects")
    config = SynthConfig(scale=scale, frames=frames, noise=noise_cfg, exposures=exp,
                         bits=bits, black=black, cfa=cfa, hdr_peak=hdr_peak, lights=lights,
                         moving_objects=moving_objects, still_objects=still_objects,
                         motion=MotionConfig(max_translation=max_translation,
                                             max_rotation=max_rotation, kind=motion))
    src = load_source(str(image))
    box = None
    if crop is not None:
        h, w = src.shape[-2:]
        if crop > min(h, w) or crop < 2 * scale or crop % (2 * scale):
            raise InputError(f"crop must be a multiple of {2 * scale} no larger than the "
                             f"image ({w}x{h})", field="--crop")
        box = ((h - crop) // 2, (w - crop) // 2, crop, crop)
    sb = synthesize_burst(src, config, seed=seed, box=box)
    gt_path, motion_path = side_paths(out)
    gt = sb.gt.permute(1, 2, 0).numpy().astype(np.float32)
    record = motions_record(sb, seed, {"image": str(image), "frames_shape": list(
        sb.burst.raw.shape), "noise": None if sb.burst.noise is None else
        [sb.burst.noise.shot, sb.burst.noise.read]})
    with Staged() as st:
        st.stage(out, npz_writer(sb.burst))
        st.stage(gt_path, lambda p: np.save(p, gt))
        st.stage(motion_path, lambda p: p.write_text(json.dumps(record, indent=1)))
        if sb.moving is not None:
            mv = sb.moving.numpy()
            st.stage(out.with_name(out.stem + ".moving.npy"), lambda p: np.save(p, mv))
        if dng_dir is not None:
            st.stage_folder(dng_dir, dng_filler(sb.burst, bits=bits, black=black))
        st.commit()
    k, h, w = sb.burst.raw.shape
    n = sb.burst.noise
    print(f"{out}: {k} frames {w}x{h} {config.cfa}, ground truth {gt.shape[1]}x{gt.shape[0]} "
          f"(x{scale}), noise " + ("none" if n is None else f"shot={n.shot:.3g} read={n.read:.3g}"))
    print(f"also wrote {gt_path.name}, {motion_path.name}"
          + (f", {out.stem}.moving.npy" if sb.moving is not None else "")
          + (f" and {dng_dir}/ ({k} DNG files)" if dng_dir is not None else ""))


def load_source(spec: str):
    """An sRGB image from a file, or a bundled scikit-image name."""
    from inversa.data.images import HELD_OUT, TRAIN_IMAGES, bundled
    from inversa.restore.imageio import read_image

    if not Path(spec).exists() and spec in (*HELD_OUT, *TRAIN_IMAGES):
        return bundled(spec)
    return read_image(spec).image
