"""The true alignment confidence of a synthetic burst: which samples show what the
reference shows where a given motion puts them. The target of the learned confidence
(:mod:`inversa.burst.confidence_net`) and the oracle of ``benchmarks/hdr_oracle.py``.

A high-resolution pixel ``q`` of frame ``k`` is good for the motion ``P_k`` (frame ->
reference) and displacement field ``u_k`` when the reference point they give,
``P_k q + u_k(q)``, is within ``tol`` pixels of the true one and the reference shows the
same thing there:

- where the frame shows background, the true point is ``P*_k q`` (the true camera
  motion) and the reference must show background there;
- where the frame shows the whole of moving object ``j``, on top of any other, the true
  point is ``q - k v_j`` (the simulator moves objects in each frame's own grid,
  :class:`~inversa.burst.scene.MovingObject`) and the reference must show the whole of
  the same object there;
- anything else (the anti-aliased rims of the objects, background an object covers in
  the reference) is bad.

A raw sample is good when all its ``s x s`` high-resolution pixels are (judged at the
nearest pixel). Frame 0 is good everywhere.

That geometric test is stricter than the reconstruction needs: where the scene has no
detail along some direction (a flat region, an edge seen along its length), a point off
by a pixel shows the same value, and a sample taken there does no harm; no test on the
data can tell it from a right one either. :func:`photometric_confidence` judges what the
data term sees instead: with ``A_k`` the forward model of frame ``k`` for the given
motion and displacements (:class:`~inversa.burst.forward.BurstOperator`) and ``c_k`` the
noiseless sample (:attr:`~inversa.burst.synth.SyntheticBurst.clean`), a sample is good
when

.. math::  |c_k - (A_k x^*)| \\le \\tau \\, \\sigma_k

with ``x^*`` the ground truth and ``sigma_k`` the sample's noise standard deviation, both
in units of the reference exposure: the model error it brings is below its noise (the
anti-aliased rims, occlusions and wrong motions fail wherever they change the value).
It also has to land inside the reference's field of view.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inversa.burst.sampling import sample_at
from inversa.burst.scene import _disc
from inversa.operators.warp import Warp


def positions(m: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``P q`` for every pixel q of an (h, w) grid: x, y (h, w) each."""
    px, py = Warp(m.double()[None], (1, h, w)).positions()
    return px.reshape(h, w), py.reshape(h, w)


def at(img: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """``img`` (h, w) at the nearest pixel of each position, 0 outside."""
    return sample_at(img.double()[None, None], px[None], py[None], mode="nearest")[0, 0]


def union(alphas: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """Pixelwise maximum of object coverages (zeros like ``like`` when there are none)."""
    out = torch.zeros_like(like)
    for a in alphas:
        out = torch.maximum(out, a)
    return out


def grow(v: torch.Tensor, r: int) -> torch.Tensor:
    """Maximum of ``v`` (h, w) over ``(2r + 1)^2`` windows (float; ``v`` itself for 0)."""
    if r <= 0:
        return v.float()
    return F.max_pool2d(v[None, None].float(), 2 * r + 1, stride=1, padding=r)[0, 0]


def coverages(sb, i: int) -> list[torch.Tensor]:
    """Per moving object of the synthetic burst ``sb``, its anti-aliased coverage (sH, sW)
    in frame ``i``, on the reference's high-resolution grid."""
    hh, ww = sb.gt.shape[-2:]
    return [_disc(hh, ww, *o.centre(i), o.radius) for o in sb.objects]


def reference_objects(sb, margin: int = 0) -> list[torch.Tensor]:
    """Per moving object of the synthetic burst ``sb``, (sH, sW) float: where the
    reference frame shows it whole and on top of any other, ``margin`` pixels away from
    its rim and from the objects above it."""
    alpha = coverages(sb, 0)
    return [((-grow(-(a >= 1).float(), margin) > 0)
             & ~(grow(union(alpha[j + 1:], a), margin) > 0)).float()
            for j, a in enumerate(alpha)]


def reference_rims(sb, radius: int = 1) -> torch.Tensor:
    """(J, sH, sW) bool, one per moving object of the synthetic burst ``sb``: within
    ``radius`` pixels of its anti-aliased rim (coverage strictly between 0 and 1) in the
    reference frame; ``.any(0)`` for all of them."""
    hh, ww = sb.gt.shape[-2:]
    rims = [grow(((a > 0) & (a < 1)).float(), radius) > 0 for a in coverages(sb, 0)]
    return torch.stack(rims) if rims else torch.zeros(0, hh, ww, dtype=torch.bool)


def reference_background(sb, margin: int = 0) -> torch.Tensor:
    """(sH, sW) bool: where the reference frame of ``sb`` shows no part of any moving
    object, ``margin`` pixels away from them."""
    hh, ww = sb.gt.shape[-2:]
    return ~(grow(union(coverages(sb, 0), torch.zeros(hh, ww)), margin) > 0)


def object_points(sb, i: int, ref_full: list[torch.Tensor],
                  ) -> tuple[list[torch.Tensor], list[tuple[torch.Tensor, ...]]]:
    """Frame ``i``'s object coverages (sH, sW) and, per object, ``(sees, rx, ry)``:
    where the frame shows it whole and on top and the reference shows the same point of it
    (``ref_full``, :func:`reference_objects`), and that true reference point."""
    hh, ww = sb.gt.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(hh, dtype=torch.float64),
                            torch.arange(ww, dtype=torch.float64), indexing="ij")
    alphas = coverages(sb, i)
    points = []
    for j, o in enumerate(sb.objects):
        shows = (alphas[j] >= 1) & (union(alphas[j + 1:], alphas[j]) == 0)
        rx, ry = xs - i * o.vx, ys - i * o.vy
        points.append((shows & (at(ref_full[j], rx, ry) > 0), rx, ry))
    return alphas, points


def true_confidence(sb, m_hr: torch.Tensor, flow: torch.Tensor | None,
                    tol: float = 0.5) -> torch.Tensor:
    """(K, h, w) in {0, 1} on the raw grids of the synthetic burst ``sb``
    (:class:`~inversa.burst.synth.SyntheticBurst`) for the motions ``m_hr`` (K, 3, 3,
    frame -> reference in high-resolution pixels) and displacements ``flow``
    (K, 2, sH, sW) or None (module docstring)."""
    s = sb.scale
    hh, ww = sb.gt.shape[-2:]
    k = sb.motions.shape[0]
    ref_bg = reference_background(sb)
    ref_full = reference_objects(sb)
    good = torch.zeros(k, hh, ww, dtype=torch.bool)
    for i in range(k):
        px, py = positions(sb.motions[i], hh, ww)
        ex, ey = positions(m_hr[i], hh, ww)
        if flow is not None:
            ex, ey = ex + flow[i, 0], ey + flow[i, 1]
        alphas, points = object_points(sb, i, ref_full)
        ok = (union(alphas, px.float()) == 0) & (at(ref_bg.float(), px, py) > 0) \
            & (((ex - px) ** 2 + (ey - py) ** 2).sqrt() < tol)
        for sees, rx, ry in points:
            ok |= sees & (((ex - rx) ** 2 + (ey - ry) ** 2).sqrt() < tol)
        good[i] = ok
    g = (-F.max_pool2d(-good[:, None].float(), s)[:, 0]) if s > 1 else good.float()
    g[0] = 1.0
    return g


def photometric_confidence(sb, m_hr: torch.Tensor, flow: torch.Tensor | None,
                           tol: float = 1.0) -> torch.Tensor:
    """(K, h, w) in {0, 1}: samples of the synthetic burst ``sb`` whose model error for
    the motions ``m_hr`` (K, 3, 3) and displacements ``flow`` (K, 2, sH, sW) or None is
    at most ``tol`` noise standard deviations (module docstring)."""
    from inversa.burst.forward import BurstOperator
    from inversa.burst.hdr import frames_inside, relative_exposures

    if sb.clean is None:
        raise ValueError("the synthetic burst carries no noiseless samples (clean)")
    s = sb.scale
    gt = sb.gt.double()
    k, h, w = sb.clean.shape
    pred = BurstOperator(m_hr.double(), tuple(gt.shape), s, sb.burst.cfa,
                         flow=None if flow is None else flow.double())(gt[None])[0]
    clean = sb.clean.double()
    rel = relative_exposures(sb.burst).double().reshape(-1, 1, 1)
    lv = sb.burst.noise
    sigma = lv.std((clean * rel).clamp(min=0)) / rel if lv is not None \
        else torch.full_like(clean, 1e-3)
    good = ((clean - pred).abs() <= tol * sigma) & frames_inside(m_hr, h, w, s)
    if flow is not None:
        hh, ww = gt.shape[-2:]
        for i in range(k):
            px, py = positions(m_hr[i], hh, ww)
            ex, ey = px + flow[i, 0], py + flow[i, 1]
            out = ((ex < 0) | (ex > ww - 1) | (ey < 0) | (ey > hh - 1)).float()
            good[i] &= (F.max_pool2d(out[None, None], s)[0, 0] if s > 1 else out) == 0
    g = good.float()
    g[0] = 1.0
    return g


__all__ = ["coverages", "grow", "object_points", "photometric_confidence", "reference_background",
           "reference_objects", "reference_rims", "true_confidence"]
