"""The burst forward model of a layered scene: a background and moving objects apart.

One radiance image warped per frame (:class:`~inversa.burst.forward.BurstOperator`, with
or without a displacement field) cannot show what an object's anti-aliased rim shows in
the reference, a blend of the object and the background behind it that no other frame
sees. A layered scene can: a background ``B`` that follows the camera and one image
``O_j`` per object with its matte ``alpha_j`` (its coverage of each pixel of the reference
grid), composited in every frame the way a camera sees them,

.. math::

    f_k = \\prod_j (1 - \\alpha_{jk}) \\, W_k B
          + \\sum_j \\alpha_{jk} \\prod_{i > j} (1 - \\alpha_{ik}) \\, T_{jk} O_j,
    \\qquad \\alpha_{jk} = T_{jk} \\alpha_j,

with ``W_k`` the camera warp of frame ``k`` and ``T_{jk}`` object ``j``'s own warp
(:class:`~inversa.operators.warp.Warp`: ``(T x)(q) = x(T q)``, frame -> reference), later
objects on top; then, as in the one-image model, the optional blur, the ``s x s`` mean
(pixel integration and decimation) and the Bayer mosaic:
``y_k = M D_s B f_k``. For fixed mattes the model is linear in the layers
``z = (B, O_1, ..., O_J)`` (``(1, 3 (J + 1), H, W)``), with an exact adjoint (dot-product
test in ``tests/burst``). The reconstruction of the reference is its own composite
(frame 0's warps are the identity): :meth:`LayeredBurstOperator.reference`.

What it buys, measured given the true motions and mattes
(``benchmarks/hdr_layered_oracle.py``, docs/benchmarks.md): in the regions the objects
cross, ``map`` comes within 0.15 dB of the static scene at x2 and 1.1 dB short at x1, where
one image warped per frame, given the same truths, is 0.4 and 2.1 dB short; the learned
reconstruction (``LKRNet(..., operator=...)``) within 0.2 and 0.3 dB, and within 0.4 and
0.8 dB from a pixel-wise segmentation of the objects (level sets, below). Estimating the
objects' motions and mattes from the burst: :mod:`inversa.burst.objects`, and the
reconstruction on them, :mod:`inversa.burst.layered_hdr`.

**Mattes as level sets.** A bilinear warp of an anti-aliased matte is not the matte of the
moved object: it blurs the ramp's kinks (errors up to a quarter of the range on a
one-pixel ramp), and that costs 0.9 dB at x1 in the learned oracle. A matte
``alpha = clip(phi + 1/2, 0, 1)`` is the ramp of a signed distance ``phi`` (positive
inside): :func:`level_set` recovers ``phi`` from the matte, and warping ``phi``, which is
smooth across the rim, before clipping (:func:`level_coverages`) moves the ramp
unchanged. With it the warped reference mattes do as well as the simulator's true
coverages (``benchmarks/hdr_layered_oracle.py --mattes level``).
"""

from __future__ import annotations

import torch

from inversa.camera.cfa import cfa_masks, check_pattern
from inversa.operators.base import LinearOperator
from inversa.operators.conv import Conv2d
from inversa.operators.kernels import gaussian_kernel
from inversa.operators.sampling import BoxDecimate
from inversa.operators.warp import Warp


def level_set(alpha: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """Signed distance ``phi`` (H, W) (pixels, positive inside, clipped to ``radius``) of a
    matte ``alpha`` (H, W) whose rim is a one-pixel ramp, ``alpha = clip(phi + 1/2, 0,
    1)``. On the rim (``0 < alpha < 1``) ``phi = alpha - 1/2``. Off it ``phi`` is
    extended from the rim's pixels ``b``: ``max_b (phi_b - |p - b|)`` outside and ``min_b
    (phi_b + |p - b|)`` inside (over ``|p - b| <= radius``; exact where ``b`` lies on
    ``p``'s normal to the contour, the nearest rim point). A hard 0/1 matte has no rim:
    its ``phi`` is the signed distance between pixel centres (``scipy.ndimage``'s
    Euclidean distance transform) less half a pixel, a staircase that smoothing improves.

    Examples
    --------
    >>> a = torch.zeros(9, 9); a[2:7, 2:7] = 1.0
    >>> phi = level_set(a)
    >>> float(phi[4, 4]), float(phi[2, 4]), float(phi[1, 4])
    (2.5, 0.5, -0.5)
    """
    a = alpha.double()
    band = (a > 0) & (a < 1)
    if not band.any():
        from scipy import ndimage

        m = (a >= 0.5).cpu().numpy()
        d = ndimage.distance_transform_edt(m) - ndimage.distance_transform_edt(~m)
        phi = torch.from_numpy(d).to(a) - torch.from_numpy(m).to(a) + 0.5
        return phi.clamp(-radius, radius)
    h, w = a.shape
    rim = torch.where(band, a - 0.5, torch.nan)
    pad = torch.nn.functional.pad(rim[None, None], (radius,) * 4, value=float("nan"))[0, 0]
    lo = torch.full_like(a, -float(radius))
    hi = torch.full_like(a, float(radius))
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            dist = (dy * dy + dx * dx) ** 0.5
            if dist > radius:
                continue
            v = pad[radius + dy:radius + dy + h, radius + dx:radius + dx + w]
            seen = torch.isfinite(v)
            lo = torch.where(seen, torch.maximum(lo, v - dist), lo)
            hi = torch.where(seen, torch.minimum(hi, v + dist), hi)
    phi = torch.where(a >= 1, hi.clamp(min=0.5), lo.clamp(max=-0.5))
    return torch.where(band, a - 0.5, phi)


def level_coverages(objects: list[torch.Tensor], levels: torch.Tensor) -> torch.Tensor:
    """Each object's coverage of every frame pixel, (J, K, H, W): its signed distance
    ``levels[j]`` (:func:`level_set`) warped by its motion ``objects[j]`` (K, 3, 3) and
    then clipped, ``clip(T_jk phi_j + 1/2, 0, 1)``; outside the reference's field
    the object is absent. Differentiable in ``levels``."""
    out = []
    for m, phi in zip(objects, levels, strict=True):
        h, w = phi.shape
        far = 1e3  # the warp pads with zeros: shifted, they read as far outside
        moved = Warp(m, (1, h, w)).forward((phi + far)[None, None].expand(m.shape[0], 1, h, w))
        out.append((moved[:, 0] - far + 0.5).clamp(0, 1))
    h, w = levels.shape[-2:]
    k = objects[0].shape[0] if objects else 0
    return torch.stack(out) if out else torch.zeros(0, k, h, w, dtype=levels.dtype)


def translations(k: int, v: torch.Tensor) -> torch.Tensor:
    """(K, 3, 3) frame -> reference motions of an object moving at a constant velocity
    ``v`` (2,) (pixels per frame): frame ``i`` shows the reference's object point
    ``q + i v`` at ``q``.

    Examples
    --------
    >>> translations(3, torch.tensor([1.0, -0.5]))[2, :2, 2].tolist()
    [2.0, -1.0]
    """
    m = torch.eye(3, dtype=torch.float64).repeat(k, 1, 1)
    m[:, :2, 2] = torch.arange(k, dtype=torch.float64)[:, None] * v.double()
    return m


def outside_field(objects: list[torch.Tensor], cover: torch.Tensor, scale: int) -> torch.Tensor:
    """(K, H/s, W/s) bool: the samples that show some part of an object lying outside the
    reference's field, which no layer pixel holds (``cover`` (J, K, H, W) the objects'
    coverages of the frames, ``objects`` their translations, :func:`translations`)."""
    k, hh, ww = cover.shape[1:]
    ys, xs = torch.meshgrid(torch.arange(hh, dtype=torch.float64),
                            torch.arange(ww, dtype=torch.float64), indexing="ij")
    off = torch.zeros(k, 1, hh, ww, dtype=torch.float64)
    for m, c in zip(objects, cover, strict=True):
        for i in range(k):
            rx, ry = xs + m[i, 0, 2], ys + m[i, 1, 2]
            out = (rx < 0) | (rx > ww - 1) | (ry < 0) | (ry > hh - 1)
            off[i, 0] = torch.maximum(off[i, 0], c[i].double() * out)
    return (torch.nn.functional.max_pool2d(off, scale) if scale > 1 else off)[:, 0] > 0


class LayeredBurstOperator(LinearOperator):
    """``z (1, 3 L, H, W) -> y (1, K, H/s, W/s)``, ``L = 1 + J``; see the module docstring.

    ``camera`` (K, 3, 3) frame -> reference motions of the background, ``objects`` one
    (K, 3, 3) per object (its frame -> reference motion), ``mattes`` (J, H, W) the
    objects' coverages of the reference grid, in [0, 1]. ``coverages`` (J, K, H, W), when
    known (a simulator's), are each object's coverages of every frame pixel, used instead
    of the warped mattes ``T_jk alpha_j`` (a bilinear warp of a one-pixel ramp is not
    exact on its kinks; :func:`level_coverages` moves it as it is).

    Examples
    --------
    >>> eye = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1)
    >>> A = LayeredBurstOperator(eye, [eye], torch.zeros(1, 16, 16), scale=2, cfa="RGGB")
    >>> A(torch.rand(1, 6, 16, 16, dtype=torch.float64)).shape
    torch.Size([1, 2, 8, 8])
    """

    def __init__(self, camera: torch.Tensor, objects: list[torch.Tensor], mattes: torch.Tensor,
                 scale: int, cfa: str, blur: float = 0.0, coverages: torch.Tensor | None = None):
        h, w = mattes.shape[-2:]
        if len(objects) != mattes.shape[0]:
            raise ValueError(f"{len(objects)} object motions for {mattes.shape[0]} mattes")
        self.k, self.layers = camera.shape[0], 1 + len(objects)
        self.scale = int(scale)
        self.in_shape = (3 * self.layers, h, w)
        self.out_shape = (self.k, h // self.scale, w // self.scale)
        self.warps = [Warp(m, (3, h, w)) for m in (camera, *objects)]
        # each object's coverage of every frame pixel (K, 1, H, W), T_jk alpha_j
        if coverages is not None:
            self.alphas = alphas = [c.double()[:, None] for c in coverages]
        else:
            self.alphas = alphas = [Warp(m, (1, h, w)).forward(
                a.double()[None, None].expand(self.k, 1, h, w))
                for m, a in zip(objects, mattes, strict=True)]
        self.visible = []  # per layer (K, 1, H, W): its share of each frame pixel
        for j in range(-1, len(objects)):  # -1: the background
            v = torch.ones(self.k, 1, h, w, dtype=torch.float64) if j < 0 else alphas[j]
            for a in alphas[j + 1:]:
                v = v * (1 - a)
            self.visible.append(v)
        self.blur = Conv2d(gaussian_kernel(blur), (3, h, w), boundary="reflect") if blur > 0 \
            else None
        self.dec = BoxDecimate(self.scale, (3, h, w))
        self.masks = cfa_masks(check_pattern(cfa), h // self.scale, w // self.scale)

    @classmethod
    def from_levels(cls, camera: torch.Tensor, objects: list[torch.Tensor],
                    levels: torch.Tensor, scale: int, cfa: str,
                    blur: float = 0.0) -> LayeredBurstOperator:
        """The operator whose objects' mattes are the ramps of the signed distances
        ``levels`` (J, H, W), moved as level sets (:func:`level_coverages`)."""
        cover = level_coverages(objects, levels)
        return cls(camera, objects, cover[:, 0], scale, cfa, blur=blur, coverages=cover)

    def frames(self, z: torch.Tensor) -> torch.Tensor:
        """The composited high-resolution frames (K, 3, H, W) of one layered scene
        (3 L, H, W)."""
        out = torch.zeros(self.k, 3, *z.shape[-2:], dtype=z.dtype, device=z.device)
        for i, (wp, v) in enumerate(zip(self.warps, self.visible, strict=True)):
            zi = z[3 * i:3 * i + 3]
            out = out + v.to(z) * wp.forward(zi[None].expand(self.k, *zi.shape))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for xb in x:
            v = self.frames(xb)
            if self.blur is not None:
                v = self.blur.forward(v)
            v = self.dec.forward(v)
            outs.append((v * self.masks.to(v)).sum(1))
        return torch.stack(outs)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        outs = []
        for yb in y:
            u = self.dec.adjoint(yb[:, None] * self.masks.to(yb))  # (K, 3, H, W)
            if self.blur is not None:
                u = self.blur.adjoint(u)
            outs.append(torch.cat([wp.adjoint(v.to(u) * u).sum(0)
                                   for wp, v in zip(self.warps, self.visible, strict=True)]))
        return torch.stack(outs)

    def reference(self, z: torch.Tensor) -> torch.Tensor:
        """The reference frame's composite (B, 3, H, W) of ``z`` (B, 3 L, H, W): frame 0,
        whose warps are taken to be the identity."""
        return torch.stack([self.frames(zb)[0] for zb in z])


__all__ = ["LayeredBurstOperator", "level_coverages", "level_set", "outside_field", "translations"]
