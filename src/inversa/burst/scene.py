"""High-dynamic-range and dynamic scenes for synthetic bursts.

Ordinary photographs, once unprocessed, are linear but low-dynamic-range: their radiance
lies in [0, 1] and the brightest regions are exactly where the sRGB camera clipped. Two
changes make them HDR test scenes (:func:`hdr_scene`):

1. **highlight boost**: with ``l`` the luminance (channel mean) and ``t`` its 80th
   percentile, every pixel is multiplied by

   .. math::  b(l) = 1 + (\\text{peak} - 1) \\, \\text{smoothstep}((l - t) / (1 - t))

   so the brightest fifth of the image is lifted smoothly towards ``peak`` (skies,
   lamps, specular surfaces);
2. **deeper shadows**: with ``t'`` the 20th percentile, pixels below it are divided by up
   to ``shadow``: ``1 / (1 + (shadow - 1) smoothstep((t' - l) / t'))``, so the dark
   fifth of the image sinks towards the noise floor of a short exposure;
3. **light sources**: ``lights`` small Gaussian spots (radius 1.5-4 % of the image side,
   slightly tinted) with peak radiance ``peak``.

The dynamic range (:func:`dynamic_range`) is the ratio of the brightest luminance to the
1st percentile (floored at ``1e-4``); with ``peak = 4`` and ``shadow = 4`` the held-out
photographs reach 1e3 or more (checked in ``tests/burst/test_hdr.py``).

Moving objects (:func:`moving_objects`) are textured discs (a colour-shifted crop of the
scene itself) that move in a straight line, independently of the camera: object ``j``
is centred at ``c_j + k v_j`` in the pixels of frame ``k``, whatever the camera does.
The reference frame (``k = 0``) shows each object at ``c_j``, which is what the ground
truth shows; the other frames show it elsewhere (ghosts for a merge that trusts them).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from inversa.burst.sampling import sample_at


def _smoothstep(u: torch.Tensor) -> torch.Tensor:
    u = u.clamp(0, 1)
    return u * u * (3 - 2 * u)


def hdr_scene(lin: torch.Tensor, peak: float, lights: int = 0,
              generator: torch.Generator | None = None, shadow: float = 4.0) -> torch.Tensor:
    """Linear image ``(3, H, W)`` in [0, 1] -> HDR radiance with highlights up to ``peak``.

    Examples
    --------
    >>> x = hdr_scene(torch.rand(3, 32, 32), peak=8.0)
    >>> 4 < float(x.max()) <= 8
    True
    """
    lum = lin.mean(0)
    t = float(torch.quantile(lum.flatten().double(), 0.8))
    gain = 1 + (peak - 1) * _smoothstep((lum - t) / max(1 - t, 1e-6))
    t_lo = max(float(torch.quantile(lum.flatten().double(), 0.2)), 1e-6)
    gain = gain / (1 + (shadow - 1) * _smoothstep((t_lo - lum) / t_lo))
    out = lin * gain
    h, w = lum.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    for _ in range(lights):
        r = torch.rand(5, generator=generator)
        cy, cx = float(r[0]) * (h - 1), float(r[1]) * (w - 1)
        rad = (0.015 + 0.025 * float(r[2])) * min(h, w)
        tint = 1 + 0.2 * (torch.rand(3, generator=generator) - 0.5)
        spot = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * rad ** 2))
        out = torch.maximum(out, peak * tint.reshape(3, 1, 1) / tint.max() * spot)
    return out


def dynamic_range(x: torch.Tensor) -> float:
    """``max(l) / max(percentile_1(l), 1e-4)`` with ``l`` the channel mean of ``(3, H, W)``."""
    lum = x.mean(0).flatten().double()
    return float(lum.max() / max(float(torch.quantile(lum, 0.01)), 1e-4))


@dataclass(frozen=True)
class MovingObject:
    """A textured disc: centre ``(cx, cy)`` in frame 0 and velocity ``(vx, vy)`` per frame
    (high-resolution pixels of each frame's own grid), radius, texture offset and colour
    gains."""

    cx: float
    cy: float
    vx: float
    vy: float
    radius: float
    ox: float
    oy: float
    gains: tuple[float, float, float]

    def centre(self, k: int) -> tuple[float, float]:
        return self.cx + k * self.vx, self.cy + k * self.vy


def random_objects(n: int, size: tuple[int, int], frames: int,
                   generator: torch.Generator | None = None) -> list[MovingObject]:
    """``n`` objects inside an ``(h, w)`` frame, radius 1/10 to 1/6 of the smaller side,
    each travelling 1 to 2.5 radii over the burst in a random direction."""
    h, w = size
    out = []
    for _ in range(n):
        r = torch.rand(8, generator=generator).tolist()
        rad = (0.1 + (1 / 6 - 0.1) * r[0]) * min(h, w)
        cx = rad + r[1] * max(w - 2 * rad, 1)
        cy = rad + r[2] * max(h - 2 * rad, 1)
        ang = 2 * math.pi * r[3]
        speed = (1.0 + 1.5 * r[4]) * rad / max(frames - 1, 1)
        gains = tuple(0.4 + 0.6 * v for v in torch.rand(3, generator=generator).tolist())
        out.append(MovingObject(cx, cy, speed * math.cos(ang), speed * math.sin(ang), rad,
                                ox=(r[5] - 0.5) * w, oy=(r[6] - 0.5) * h, gains=gains))
    return out


def _disc(h: int, w: int, cx: float, cy: float, rad: float) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    d = ((xs - cx) ** 2 + (ys - cy) ** 2).sqrt()
    return (rad - d + 0.5).clamp(0, 1)  # one-pixel anti-aliased edge


def moving_objects(frames: torch.Tensor, scene: torch.Tensor, objects: list[MovingObject],
                   box: tuple[int, int, int, int]) -> torch.Tensor:
    """Composite ``objects`` over ``frames`` (K, 3, h, w): frame ``k`` shows object ``j``
    at ``centre(k)``, textured by ``scene`` (3, H, W) shifted by the object's offset and
    tinted by its gains."""
    k, _, h, w = frames.shape
    top, left = box[0], box[1]
    out = frames.clone()
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    for obj in objects:
        gains = torch.tensor(obj.gains).reshape(1, 3, 1, 1)
        px = torch.stack([xs - obj.centre(i)[0] + obj.cx + obj.ox + left for i in range(k)])
        py = torch.stack([ys - obj.centre(i)[1] + obj.cy + obj.oy + top for i in range(k)])
        tex = sample_at(scene.expand(k, *scene.shape), px, py, padding="reflection") * gains
        alpha = torch.stack([_disc(h, w, *obj.centre(i), obj.radius) for i in range(k)])
        out = out * (1 - alpha[:, None]) + tex * alpha[:, None]
    return out


def still_objects(scene: torch.Tensor, objects: list[MovingObject],
                  box: tuple[int, int, int, int]) -> torch.Tensor:
    """The scene (3, H, W) with ``objects`` painted where frame 0 of a burst cropped at
    ``box`` shows them, as :func:`moving_objects` draws them there: the same discs, held
    still in the scene (the static twin of a dynamic burst, with the same content)."""
    top, left = box[0], box[1]
    full = (0, 0, *scene.shape[-2:])
    moved = [dataclasses.replace(o, cx=o.cx + left, cy=o.cy + top) for o in objects]
    return moving_objects(scene[None], scene, moved, full)[0]


def moving_mask(objects: list[MovingObject], motions: torch.Tensor, size: tuple[int, int],
                margin: float = 2.0) -> torch.Tensor:
    """(h, w) bool on the reference grid: every pixel that some frame's object covers
    (its centre mapped through the camera motion ``P_k``), widened by ``margin`` pixels:
    the regions where the frames disagree with the reference."""
    h, w = size
    mask = torch.zeros(h, w)
    for obj in objects:
        for i in range(motions.shape[0]):
            cx, cy = obj.centre(i)
            p = motions[i].double() @ torch.tensor([cx, cy, 1.0], dtype=torch.float64)
            mask = torch.maximum(mask, _disc(h, w, float(p[0] / p[2]), float(p[1] / p[2]),
                                             obj.radius + margin))
    return mask > 0


__all__ = ["MovingObject", "dynamic_range", "hdr_scene", "moving_mask", "moving_objects",
           "random_objects", "still_objects"]
