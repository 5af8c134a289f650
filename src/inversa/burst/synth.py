"""Synthetic raw bursts from ordinary photographs (the training and test data of burst
super-resolution, denoising and HDR).

From an sRGB image:

1. unprocess to linear camera RGB (:func:`inversa.camera.unprocess.unprocess`); the
   region ``box`` of it is the ground truth ``x`` on the reference high-resolution grid;
2. frame ``k`` is the warped scene ``x_k(q) = x(P_k q)`` (:mod:`inversa.burst.motion`,
   frame 0 the identity; outside the photo the scene is mirrored);
3. sensor integration and decimation by ``s``: low-resolution pixel (i, j) is the mean of
   high-resolution pixels ``[s i, s i + s) x [s j, s j + s)`` (the DESIGN.md convention);
4. Bayer mosaic, then the exposure: the signal is multiplied by ``e_k / e_0``;
5. noise ``N(0, shot * x + read)``, clipping at the white level (saturation),
   quantisation to ``bits`` with black level ``black`` (which also clips at digital number
   0; values a little below the black level are kept, as in real raw files).

HDR and dynamic scenes (:mod:`inversa.burst.scene`): ``hdr_peak`` lifts the highlights of
the linear image (and ``lights`` adds light sources) before step 2, so the scene's
radiance exceeds the reference frame's white level; ``moving_objects`` composites textured
discs that move independently of the camera into every frame after step 2 (and into the
ground truth as frame 0 shows them). Both draw from a generator of their own, so the same
seed without objects gives the same burst in every other respect (the static twin).

Everything is drawn from one seed; the same seed gives the same burst.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from inversa.burst.motion import MotionConfig, random_motions
from inversa.burst.sampling import sample_at
from inversa.camera.burstio import Burst
from inversa.camera.cfa import check_pattern, mosaic
from inversa.camera.isp import ISPParams
from inversa.camera.noise import NoiseLevels, add_noise, random_noise_levels
from inversa.camera.quantize import normalise, quantize
from inversa.camera.unprocess import unprocess
from inversa.errors import InputError


@dataclass(frozen=True)
class SynthConfig:
    """Settings of :func:`synthesize_burst`.

    ``noise``: ``"random"`` (Brooks et al. sampler), ``"none"`` or fixed levels.
    ``exposures``: relative exposure times per frame (``None``: all equal), stored in the
    burst as seconds ``base_exposure * exposures[k]``. ``bits=None`` skips quantisation.
    """

    scale: int = 4
    frames: int = 14
    motion: MotionConfig = field(default_factory=MotionConfig)
    noise: Literal["random", "none"] | NoiseLevels = "random"
    exposures: tuple[float, ...] | None = None
    base_exposure: float = 0.01
    cfa: str = "RGGB"
    bits: int | None = 12
    black: float = 64.0
    interpolation: Literal["bilinear", "bicubic"] = "bilinear"
    hdr_peak: float | None = None  # highlights lifted to this radiance (None: LDR scene)
    lights: int = 0  # light sources of radiance hdr_peak (needs hdr_peak)
    moving_objects: int = 0  # textured discs moving independently of the camera
    still_objects: bool = False  # the same discs held still in the scene (a static twin
    #                              with the dynamic scene's content, for comparisons)

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise InputError(f"scale must be >= 1, got {self.scale}", field="scale")
        if self.frames < 1:
            raise InputError(f"frames must be >= 1, got {self.frames}", field="frames")
        check_pattern(self.cfa)
        if self.exposures is not None:
            if len(self.exposures) != self.frames:
                raise InputError(f"{len(self.exposures)} exposures given for {self.frames} "
                                 "frames", field="exposures")
            if any(not (e > 0) for e in self.exposures):
                raise InputError("exposures must be > 0", field="exposures")
        if isinstance(self.noise, str) and self.noise not in ("random", "none"):
            raise InputError(f"noise must be 'random', 'none' or levels, got {self.noise!r}",
                             field="noise")
        if self.hdr_peak is not None and not (1 <= self.hdr_peak < 1e6):
            raise InputError(f"hdr_peak must be >= 1, got {self.hdr_peak}", field="hdr_peak")
        if self.lights < 0 or self.moving_objects < 0:
            raise InputError("lights and moving_objects must be >= 0", field="moving_objects")
        if self.interpolation not in ("bilinear", "bicubic"):
            raise InputError("interpolation must be bilinear or bicubic", field="interpolation")


@dataclass
class SyntheticBurst:
    """A burst, its ground truth and how it was made."""

    burst: Burst  # raw (K, h, w), metadata, true noise levels
    gt: torch.Tensor  # (3, s h, s w) linear camera RGB at the exposure of frame 0
    motions: torch.Tensor  # (K, 3, 3) frame -> reference, high-resolution pixels
    isp: ISPParams  # renders gt (and the burst) back to the source photo
    scale: int
    moving: torch.Tensor | None = None  # (s h, s w) bool: where moving objects pass
    objects: list = field(default_factory=list)  # the MovingObjects drawn (empty if held still)
    clean: torch.Tensor | None = None  # (K, h, w) noiseless raw, reference-exposure units


def warp_frames(x: torch.Tensor, motions: torch.Tensor, box: tuple[int, int, int, int],
                interpolation: str = "bilinear") -> torch.Tensor:
    """``out[k](q) = x(P_k q + (left, top))`` for q on an ``h x w`` grid: (K, C, h, w).

    ``x`` is (C, H, W); ``box = (top, left, h, w)``; beyond the borders of ``x`` the image
    is mirrored.
    """
    top, left, h, w = box
    c, hh, ww = x.shape
    k = motions.shape[0]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    q = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones(h * w, dtype=torch.float64)])
    p = motions.double() @ q  # (K, 3, N)
    px = (p[:, 0] / p[:, 2] + left).reshape(k, h, w)
    py = (p[:, 1] / p[:, 2] + top).reshape(k, h, w)
    return sample_at(x.expand(k, c, hh, ww), px, py, interpolation, "reflection")


def synthesize_burst(srgb: torch.Tensor, config: SynthConfig = SynthConfig(),
                     seed: int | torch.Generator = 0,
                     box: tuple[int, int, int, int] | None = None) -> SyntheticBurst:
    """A synthetic raw burst from an sRGB image ``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1].

    ``box = (top, left, height, width)`` selects the ground-truth region (sizes multiples
    of ``2 * scale``); by default the largest centred region that fits.

    Examples
    --------
    >>> sb = synthesize_burst(torch.rand(3, 64, 64), SynthConfig(scale=2, frames=3), seed=0)
    >>> sb.burst.raw.shape, sb.gt.shape
    (torch.Size([3, 32, 32]), torch.Size([3, 64, 64]))
    """
    g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    x = srgb[0] if srgb.dim() == 4 else srgb
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise InputError(f"expected an RGB image (3, H, W), got shape {tuple(srgb.shape)}")
    if not torch.isfinite(x).all():
        raise InputError("image contains NaN or infinite values")
    x = x.float().expand(3, *x.shape[-2:]).clamp(0, 1)
    s, unit = config.scale, 2 * config.scale
    hh, ww = x.shape[-2:]
    if box is None:
        h, w = hh // unit * unit, ww // unit * unit
        box = ((hh - h) // 2, (ww - w) // 2, h, w)
    top, left, h, w = box
    if top < 0 or left < 0 or top + h > hh or left + w > ww:
        raise InputError(f"ground-truth box {box} does not fit in the {ww}x{hh} image")
    if h < unit or w < unit or h % unit or w % unit:
        raise InputError(f"ground-truth size {h}x{w} must be a positive multiple of "
                         f"{unit} (twice the scale, for the Bayer pattern)")
    lin, isp = unprocess(x, g)
    motions = random_motions(config.frames, (h, w), config.motion, g)
    extras = config.hdr_peak is not None or config.moving_objects > 0
    og = torch.Generator().manual_seed(  # scene extras: a generator of their own
        int(torch.randint(2 ** 62, (1,), generator=g))) if extras else None
    if config.hdr_peak is not None:
        from inversa.burst.scene import hdr_scene

        lin = hdr_scene(lin, config.hdr_peak, config.lights, og)
    moving = None
    objs = []
    if config.moving_objects:
        from inversa.burst.scene import moving_mask, random_objects, still_objects

        objs = random_objects(config.moving_objects, (h, w), config.frames, og)
        moving = moving_mask(objs, motions, (h, w))
        if config.still_objects:  # part of the scene: every frame sees them, unmoved
            lin = still_objects(lin, objs, box)
            objs = []
    hr = warp_frames(lin, motions, box, config.interpolation)  # (K, 3, h, w)
    gt = lin[:, top:top + h, left:left + w].contiguous()
    if objs:
        from inversa.burst.scene import moving_objects

        hr = moving_objects(hr, lin, objs, box)
        gt = moving_objects(gt[None], lin, objs, box)[0]
    lr = F.avg_pool2d(hr, s) if s > 1 else hr
    raw = mosaic(lr, config.cfa)  # (K, h/s, w/s)
    clean = raw.clone()  # before exposure, noise and clipping: what each sample measures
    rel = torch.tensor(config.exposures if config.exposures else [1.0] * config.frames,
                       dtype=torch.float64)
    rel = rel / rel[0]
    raw = raw * rel.to(raw).reshape(-1, 1, 1)
    if isinstance(config.noise, NoiseLevels):
        levels: NoiseLevels | None = config.noise
    elif config.noise == "random":
        levels = random_noise_levels(g)
    else:
        levels = None
    if levels is not None:
        raw = add_noise(raw, levels, g)
    raw = raw.clamp(max=1.0)
    if config.bits is not None:
        white = 2 ** config.bits - 1
        raw = torch.from_numpy(normalise(quantize(raw, config.bits, config.black), config.black,
                                         white))
    exposure = None
    if config.exposures is not None:
        exposure = torch.tensor(config.exposures, dtype=torch.float64) * config.base_exposure
    burst = Burst(raw=raw.float().contiguous(), cfa=config.cfa, exposure=exposure,
                  wb=isp.wb, ccm=torch.tensor(isp.ccm, dtype=torch.float64), noise=levels,
                  source="synthetic")
    return SyntheticBurst(burst=burst, gt=gt, motions=motions, isp=isp, scale=s, moving=moving,
                          objects=list(objs), clean=clean)


def motions_record(sb: SyntheticBurst, seed: int, extra: dict | None = None) -> dict:
    """The true motions as a JSON-ready dict (see ``docs/formats.md``)."""
    frames = []
    for k, m in enumerate(sb.motions):
        frames.append({"frame": k, "frame_to_reference": [[float(v) for v in r] for r in m]})
    return {"scale": sb.scale, "seed": seed,
            "convention": "frame_to_reference maps a high-resolution pixel (x = column, "
                          "y = row) of frame k to the ground-truth grid; low-resolution "
                          "pixel (i, j) covers high-resolution [s*i, s*i+s) x [s*j, s*j+s)",
            "frames": frames, **(extra or {})}


def split_exposures(text: str | None, frames: int | None = None) -> tuple[float, ...] | None:
    """Parse ``"1,4,0.25"`` (fractions such as ``1/4`` allowed). A list ending in ``...``
    is a pattern, repeated over ``frames`` values.

    >>> split_exposures("1,4,1/4...", frames=5)
    (1.0, 4.0, 0.25, 1.0, 4.0)
    """
    if text is None or text == "":
        return None
    body = text.strip()
    pattern = body.endswith("...")
    body = body[:-3].rstrip(",") if pattern else body

    def num(v: str) -> float:
        a, _, b = v.strip().partition("/")
        return float(a) / float(b) if b else float(a)

    try:
        vals = tuple(num(v) for v in body.split(","))
    except (ValueError, ZeroDivisionError):
        raise InputError(f"exposures must be numbers separated by commas, got {text!r}",
                         field="exposures") from None
    if pattern and frames is not None:
        vals = tuple(vals[i % len(vals)] for i in range(frames))
    return vals


__all__: Sequence[str] = ["SynthConfig", "SyntheticBurst", "motions_record", "split_exposures",
                          "synthesize_burst", "warp_frames"]
