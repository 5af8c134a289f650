"""A first layered HDR reconstruction with the layers estimated from the data (HDR issue,
diagnosis; not part of ``inversa hdr``).

``hdr_layered_oracle.py --method learned`` shows that the learned reconstruction on the
layered model (:class:`~inversa.burst.layered.LayeredBurstOperator`) meets the moving-regions
figure when it is given the objects' motions and a segmentation of them to the pixel. This
script estimates both from the burst and measures what is left:

1. camera motions, exposures, noise and the one-image start as ``inversa hdr`` (learned);
2. objects: the constant velocities ``v_j`` that the tile hypotheses of
   :mod:`inversa.burst.local_motion` support (:func:`~inversa.burst.local_motion.trajectories`,
   frame ``i`` shows the reference's object point ``q + i v_j`` at ``q``);
3. seeds: the reference pixels whose frames chose ``i v_j`` (within ``1 + 0.15 |i v_j|``
   pixels) in at least a quarter of the frames that moved the object by a pixel or more
   and found it at all (``SUPPORT`` pixels took the velocity), largest component,
   eroded by 3 pixels; a velocity whose seed keeps fewer than 20 pixels, or within 0.3
   pixels per frame of one kept before, is dropped;
4. segmentation (:func:`segment`): every reference pixel takes the label (background, or
   object ``j``) whose motion brings the frames' grey values closest to the reference's
   (3 x 3 windows, median over the frames), counting for the background only the frames
   where no object covers the point, iterated six times from the seeds, each object kept
   to its components that touch its seed. A velocity whose region comes out empty, or
   whose label is not the cheapest over its own region (median cost ratio above 1), is
   dropped and the rest segmented again; then, one at a time, the smallest region while
   it has fewer than 200 pixels (spurious velocities steal pixels from the true ones
   while they are in);
4a. velocities refined (:func:`refine_velocity`): each object's velocity is fitted by
   Gauss-Newton to its region (eroded by 2 pixels) over all frames at once, and the
   reference segmented again with the new velocities; twice (``--refine-v``). The tile
   translations the velocities come from are off by up to 0.3 pixels per frame where two
   objects overlap (coffee/110);
4b. amodal mattes (:func:`amodal`): the label map gives each object only its visible
   region, but the layered model needs its full extent, since the other frames show the
   part another object hides in the reference; of two objects, the one whose convex hull
   covers more of the other's region is put below it and takes the part of its hull the
   objects above it hide (``--no-amodal`` leaves this out);
5. mattes: the segmentation's signed distances smoothed by 1.5 pixels, fitted to the
   samples four times (``hdr_layered_oracle.fit_levels``, ``--fits``) with a new solve
   after each fit;
6. samples the layered model does not explain (chi-square of a 3 x 3 window above 3) are
   distrusted after each solve, and the solve run again.

Rows: the shipped learned reconstruction; the layered one with everything estimated; the
same with the true velocities put in for the estimated ones at step 2 (each estimated one
replaced by the nearest true one, and not refined at step 4a), so that the segmentation is
measured alone. Mu-law
PSNR in the moving regions of ``bench_hdr.py``'s held-out bursts.

``--lr-v`` also fits the velocities at step 5 (``fit_levels``' Adam step for them).

``--relabel`` (step 5b) segments the reference again after the first solve, each label
compared with what its own layer shows instead of with the noisy reference frame (which
then counts as one more frame), before the amodal mattes, a new solve and the fits.

``--normalise`` puts each frame's squared differences at step 4 in units of their median
(the frame's noise): a label's cost is a median over the frames where it is seen, and
those sets differ between labels while the exposures (and noise) differ up to 16 times
(tried at x2: +0.06 dB; not the default).

``--box 5`` widens step 4's window to 5 x 5 high-resolution pixels (at x2 about the 3 x 3
low-resolution pixels of x1; tried at x2: 32.26 -> 32.13, not kept).

``--cost-seeds`` takes step 3's seeds from the velocities' segmentation costs instead of
the frames' chosen translations (tried on coffee/111 at x2, whose slow, dark object gets
no seed: no better, not kept).

Run: cd benchmarks && python hdr_layered_estimate.py [--scales 1] [--seeds 2] [--lr-v 0.01]
     [--no-amodal] [--refine-v 0] [--fits 2] [--relabel] [--normalise] [--box 5] [--cost-seeds]
     [--estimated-only] [--only coffee/110,...]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time

import numpy as np
import torch
from bench_hdr import hdr_burst, held_out, scores
from common import markdown_table
from hdr_layered_oracle import SMOOTH, fit_levels, outside_field, solve_layers, translations
from hdr_oracle import given
from scipy import ndimage
from skimage.morphology import convex_hull_image

import inversa.burst.local_motion as local_motion
from inversa.burst.forward import data_weights
from inversa.burst.hdr import HDRConfig, finish, prepare_hdr, reconstruct_hdr
from inversa.burst.layered import LayeredBurstOperator, level_coverages, level_set
from inversa.burst.sampling import sample_at
from inversa.operators.warp import Warp

VOTE = 0.25  # share of the moved frames whose hypotheses make a pixel a seed
SUPPORT = 20  # pixels of a frame that must take a velocity for it to vote
CHI = 3.0  # windowed chi-square above which a sample is distrusted (step 6)


@contextlib.contextmanager
def velocities(found: dict):
    """Record the velocities that :func:`~inversa.burst.local_motion.object_flow` fits
    (with ``trajectories`` on) in ``found["paths"]``."""
    keep = local_motion.trajectories

    def spy(chosen, *a, **kw):
        found["paths"] = keep(chosen, *a, **kw)
        return found["paths"]

    local_motion.trajectories = spy
    try:
        yield
    finally:
        local_motion.trajectories = keep


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


def greys(inp) -> torch.Tensor:
    """(K, sH, sW) grey frames on their own high-resolution grids, divided by their
    exposures and clipped where the longest one clips (as local_motion compares them)."""
    top = 0.999 / float(inp.gain.max())
    return torch.stack([local_motion._grey(inp.y[i], inp.cfa, inp.scale, top)
                        for i in range(inp.y.shape[0])])


def seeds_of(inp, paths: torch.Tensor) -> list[torch.Tensor]:
    """Step 3: one (sH, sW) bool seed per velocity."""
    k = inp.m_hr.shape[0]
    hh, ww = inp.x0.shape[-2:]
    xs, ys = _grid(hh, ww)
    own = inp.flow.abs().sum(1) > 0  # pixels with a displacement of their own
    d = torch.zeros(k, 2, hh, ww, dtype=torch.float64)
    for i in range(k):
        px, py = (v.reshape(hh, ww) for v in Warp(inp.m_hr[i:i + 1].double(), (1, hh, ww)).positions())
        d[i, 0], d[i, 1] = inp.flow[i, 0] + px - xs, inp.flow[i, 1] + py - ys
    out = []
    for v in paths:
        votes = torch.zeros(hh, ww, dtype=torch.float64)
        seen = torch.zeros(hh, ww, dtype=torch.float64)
        for i in range(1, k):
            if float((i * v).norm()) < 1.0:
                continue
            near = (d[i] - (i * v)[:, None, None]).norm(dim=0) < 1.0 + 0.15 * float((i * v).norm())
            took = own[i] & near
            if int(took.sum()) < SUPPORT:
                continue  # the frame did not find the object at all
            member, inside = _at(took.double(), xs - i * v[0], ys - i * v[1])
            votes += member * inside
            seen += inside.double()
        out.append(_seed((votes / seen.clamp(min=1) >= VOTE) & (seen >= 1)))
    return out


def _seed(mask: torch.Tensor) -> torch.Tensor:
    """A seed from candidate pixels: opened, its largest component, eroded by 3 pixels."""
    mask = ndimage.binary_opening(mask.numpy())
    lab, n = ndimage.label(mask)
    if n:
        mask = lab == 1 + int(np.argmax(ndimage.sum(mask, lab, range(1, n + 1))))
    return torch.from_numpy(ndimage.binary_erosion(mask, iterations=3))


def cost_seeds(grey: torch.Tensor, m_hr: torch.Tensor, paths: torch.Tensor,
               ratio: float = 0.5, normalise: bool = False) -> list[torch.Tensor]:
    """Step 3, from the velocities' costs alone: one (sH, sW) bool seed per velocity, the
    reference pixels where its label is the cheapest (:func:`segment`'s cost, every frame
    counted) and costs less than ``ratio`` times the background's; largest component,
    eroded by 3 pixels."""
    empty = [torch.zeros(grey.shape[1:], dtype=torch.bool) for _ in paths]
    _, costs = segment(grey, m_hr, list(paths), empty, iterations=0, normalise=normalise)
    best = costs.argmin(0)
    return [_seed((best == j + 1) & (costs[j + 1] < ratio * costs[0])) for j in range(len(paths))]


def segment(grey: torch.Tensor, m_hr: torch.Tensor, vs: list[torch.Tensor],
            seeds: list[torch.Tensor], iterations: int = 6, box: int = 3,
            keep: float = 0.8, refs: torch.Tensor | None = None, normalise: bool = False,
            ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Step 4: the reference's label map, one (sH, sW) bool mask per object (later
    objects on top), and every label's cost (1 + J, sH, sW) under it. A pixel changes
    label when another one's cost is below ``keep`` times its own. ``refs`` (1 + J, sH,
    sW): what each label shows at the reference's pixels (the layers of a first solve,
    step 5b); the frames, the reference among them, are compared with it instead of with
    the reference frame. ``normalise``: each frame's squared differences in units of
    their median over the reference (mostly static background, so its noise)."""
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
            total = local_motion._box(torch.where(fin, per, 0.0), box)
            count = local_motion._box(fin.double(), box)
            windowed = torch.where(fin & (count > 0.3), total / count.clamp(min=1e-9), torch.nan)
            cost = windowed.nanmedian(0).values
            costs.append(torch.where(fin.sum(0) >= 2, cost, torch.inf))
        return torch.nan_to_num(torch.stack(costs), nan=float("inf"))

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
    """Step 4a: the velocity ``v`` (2,) that best carries the reference's pixels ``mask``
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
    """Step 4b: the objects' full extents from their visible regions (disjoint masks): of
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


@dataclasses.dataclass
class Objects:
    """Steps 1 to 4a: the one-image preparation ``inp``, the grey frames, the velocities
    found (V, 2) and, for the ones kept (``keep``, indices into them), their seeds and
    visible regions in the reference."""

    inp: object
    grey: torch.Tensor
    paths: torch.Tensor
    seeds: list[torch.Tensor]
    keep: list[int]
    masks: list[torch.Tensor]


def find_objects(sb, cfg: HDRConfig, true_velocities: bool = False, by_cost: bool = False,
                 refine: int = 2, normalise: bool = False, box: int = 3) -> Objects | None:
    """Steps 1 to 4a (module docstring) on the burst ``sb``; None when no object is
    found. The options as :func:`layered_estimate`'s."""
    found: dict = {}
    motion = dataclasses.replace(cfg.object_motion, trajectories=True)
    with velocities(found):
        inp = prepare_hdr(sb.burst, dataclasses.replace(cfg, object_motion=motion))
    paths = found.get("paths")
    if inp.flow is None or paths is None or len(paths) == 0:
        return None
    if true_velocities:  # each velocity replaced by the nearest true one, in their order
        truth = torch.tensor([[-o.vx, -o.vy] for o in sb.objects], dtype=torch.float64)
        rank = [int((truth - v).norm(dim=1).argmin()) for v in paths]
        paths = truth[sorted(set(rank))]
    grey = greys(inp)
    seeds = cost_seeds(grey, inp.m_hr, paths, normalise=normalise) if by_cost \
        else seeds_of(inp, paths)
    keep = [j for j, s in enumerate(seeds) if int(s.sum()) >= 20]
    dup = [j for n, j in enumerate(keep) if any(float((paths[j] - paths[i]).norm()) < 0.3
                                                for i in keep[:n])]
    keep = [j for j in keep if j not in dup]
    if not keep:
        return None
    # velocities whose region comes out empty, or better explained by another label, are
    # dropped and the rest segmented again without them; then, one at a time, the
    # smallest region if it has fewer than 200 pixels
    while keep:
        masks, costs = segment(grey, inp.m_hr, [paths[j] for j in keep],
                               [seeds[j] for j in keep], box=box, normalise=normalise)
        size = [int(m.sum()) for m in masks]
        ratio = [float((costs[n + 1] / torch.cat([costs[:n + 1], costs[n + 2:]]).min(0).values
                        .clamp(min=1e-12))[masks[n]].median()) if size[n] else np.inf
                 for n in range(len(keep))]
        good = [j for n, j in enumerate(keep) if size[n] >= 20 and ratio[n] <= 1.0]
        if good == keep and min(size) < 200:  # the smallest one
            good = [j for n, j in enumerate(keep) if n != int(np.argmin(size))]
        if good == keep:
            break
        keep = good
    if not keep:
        return None
    paths = paths.clone()
    for _ in range(0 if true_velocities else refine):  # step 4a
        for n, j in enumerate(keep):
            inner = torch.from_numpy(ndimage.binary_erosion(masks[n].numpy(), iterations=2))
            if int(inner.sum()) >= 20:
                paths[j] = refine_velocity(grey, paths[j], inner)
        masks, _ = segment(grey, inp.m_hr, [paths[j] for j in keep],
                               [seeds[j] for j in keep], box=box, normalise=normalise)
    return Objects(inp, grey, paths, seeds, keep, masks)


def layered_estimate(sb, cfg: HDRConfig, true_velocities: bool = False,
                     fits: int = 4, lr_v: float = 0.0, full: bool = True,
                     by_cost: bool = False, refine: int = 2,
                     relabel: bool = False, normalise: bool = False,
                     box: int = 3) -> torch.Tensor | None:
    """The layered learned reconstruction (3, sH, sW) with the layers estimated (module
    docstring); None when no object was found. ``lr_v``: the velocities are fitted too
    (step 5); ``full``: amodal mattes (step 4b); ``refine``: rounds of step 4a (none when
    the true velocities are put in); ``fits``: rounds of step 5; ``by_cost``,
    ``relabel``, ``normalise``: the options of the module docstring (seeds from costs,
    step 5b, :func:`segment`'s ``normalise``); ``box``: :func:`segment`'s window at step 4
    (high-resolution pixels)."""
    found = find_objects(sb, cfg, true_velocities, by_cost, refine, normalise, box)
    if found is None:
        return None
    inp, grey, paths, keep, masks = found.inp, found.grey, found.paths, found.keep, found.masks
    if full:
        masks, order = amodal(masks)
        keep = [keep[n] for n in order]
    k = inp.m_hr.shape[0]
    vs = paths[keep]
    with given(torch.ones_like(sb.burst.raw), None):
        lin = prepare_hdr(sb.burst, cfg, motions_hr=inp.m_hr)
    lin.trust = inp.trust
    s = lin.scale
    valid = lin.valid

    def layers(masks: list[torch.Tensor], vs: torch.Tensor,
               ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
        """The objects' motions, their mattes' smoothed signed distances (step 5), the
        layered data's samples (every usable one, but those showing object parts outside
        the reference's field) and the layers' start."""
        objs = [translations(k, v) for v in vs]
        levels = torch.stack([torch.from_numpy(ndimage.gaussian_filter(
            level_set(m.double()).numpy(), SMOOTH)) for m in masks])
        bad = outside_field(objs, level_coverages(objs, levels), s)
        return objs, levels, valid * (~bad).to(valid), inp.x0.repeat(1, 1 + len(objs), 1, 1)

    objs, levels, base, z0 = layers(masks, vs)

    def solve(levels: torch.Tensor) -> tuple[LayeredBurstOperator, torch.Tensor]:
        a = LayeredBurstOperator.from_levels(lin.m_hr, objs, levels, s, lin.cfa)
        lin.valid = base
        z = solve_layers(a, lin, z0, cfg)
        with torch.no_grad():  # step 6
            pred = a(z.double())
            w, ref_var = data_weights(pred, lin.y[None].double(), lin.noise, robust=False,
                                      gain=lin.gain)
            chi = local_motion._box(((lin.y[None].double() - pred) ** 2 * w / ref_var)[0], 3)
            g = (chi < CHI).to(base)
            g[0] = 1
        lin.valid = base * g
        return a, solve_layers(a, lin, z0, cfg)

    a, z = solve(levels)
    if relabel:  # step 5b
        top = 0.999 / float(lin.gain.max())
        refs = z[0].double().reshape(-1, 3, *z.shape[-2:]).clamp(max=top).mean(1)
        masks, _ = segment(grey, inp.m_hr, list(vs), masks, box=box, refs=refs,
                           normalise=normalise)
        if full:
            masks, order = amodal(masks)
            vs = vs[order]
        keep_obj = [n for n, m in enumerate(masks) if int(m.sum()) >= 20]
        if not keep_obj:
            return None
        masks, vs = [masks[n] for n in keep_obj], vs[keep_obj]
        objs, levels, base, z0 = layers(masks, vs)
        a, z = solve(levels)
    for _ in range(fits):
        levels, vs = fit_levels(lin, vs, levels, z, lr_v=lr_v)
        objs = [translations(k, v) for v in vs]
        a, z = solve(levels)
    return finish(a.reference(z).float(), lin)[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--lr-v", type=float, default=0.0,
                    help="fit the velocities with the mattes (Adam step, pixels per frame)")
    ap.add_argument("--no-amodal", action="store_true",
                    help="leave out step 4b (each object's mask stays its visible region)")
    ap.add_argument("--cost-seeds", action="store_true",
                    help="seeds from the velocities' costs (cost_seeds) instead of step 3")
    ap.add_argument("--refine-v", type=int, default=2,
                    help="rounds of step 4a (velocities refined on their regions, segmented again)")
    ap.add_argument("--fits", type=int, default=4, help="rounds of step 5")
    ap.add_argument("--relabel", action="store_true",
                    help="step 5b: segment again against the layers of the first solve")
    ap.add_argument("--normalise", action="store_true",
                    help="segment's per-frame residuals in units of the frame's median one")
    ap.add_argument("--box", type=int, default=3, help="segment's window at step 4 (pixels)")
    ap.add_argument("--estimated-only", action="store_true", help="leave out the true-velocity row")
    ap.add_argument("--only", default="", help="comma-separated bursts (photo/seed), default all")
    args = ap.parse_args()
    torch.set_num_threads(2)
    for scale in (int(v) for v in args.scales.split(",")):
        cfg = HDRConfig(method="learned", scale=scale)
        rows = []
        for name, seed, frames in held_out(args.seeds):
            if args.only and f"{name}/{seed}" not in args.only.split(","):
                continue
            t0 = time.time()
            dyn = hdr_burst(name, seed, scale, frames, 2)
            r = {"shipped learned": scores(reconstruct_hdr(dyn.burst, cfg).x[0], dyn.gt,
                                           dyn.moving)[1]}
            for label, true_v in (("layered, estimated", False),
                                  ("layered, true velocities", True))[:1 if args.estimated_only else 2]:
                x = layered_estimate(dyn, cfg, true_v, lr_v=args.lr_v, full=not args.no_amodal,
                                     by_cost=args.cost_seeds, refine=args.refine_v,
                                     fits=args.fits, relabel=args.relabel,
                                     normalise=args.normalise, box=args.box)
                r[label] = scores(x, dyn.gt, dyn.moving)[1] if x is not None else r["shipped learned"]
            rows.append((f"{name}/{seed}/{frames}f", r))
            print(f"{rows[-1][0]}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items())
                  + f" ({time.time() - t0:.0f} s)", flush=True)
        labels = list(rows[0][1])
        table = [[b, *(f"{r[k]:.2f}" for k in labels)] for b, r in rows]
        table.append(["mean", *(f"{np.mean([r[k] for _, r in rows]):.2f}" for k in labels)])
        print(f"\nx{scale}, learned, mu-law PSNR (dB) in the moving regions (a burst where no "
              "object is found keeps the shipped result)")
        print(markdown_table(["burst", *labels], table))


if __name__ == "__main__":
    main()
