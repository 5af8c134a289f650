"""Motion of scene parts that move on their own (objects), on top of the camera motion.

The burst model warps the reference scene into frame ``k`` by one global transform
``P_k``. An object that moves independently breaks it: the confidence ``g``
(:func:`inversa.burst.hdr.confidence`) then distrusts the frame there, which removes the
ghost but also the frame's information about the object. This module gives such regions
a motion of their own, so that frames that saw the object elsewhere still help. Each
object is taken to move rigidly between the frame and the reference: the frame's pixel
``q`` shows the reference's point ``q + d`` for one translation ``d`` per object. It is
run only where ``g`` says the camera motion fails:

1. images: ``f_k`` the frame and ``r`` the reference, both grey (Malvar demosaic, bicubic
   upsampling), divided by their exposures and clipped where the longest exposure clips,
   so that they compare directly; ``r_k = r o P_k`` the reference brought to the frame;
2. candidates: tiles of ``tile`` high-resolution pixels (half overlapping) that touch a
   region where ``g < threshold`` each propose the integer translation minimising the sum
   of squared differences ``sum_tile (r(q + d) - f_k(q))^2``, searched exhaustively up to
   ``max_shift`` of the image side on images reduced 4 times (block means), then within
   4 pixels at full resolution (parabola sub-pixel step). On noisy frames a tile's answer
   is often off by pixels, so it is only a candidate;
3. hypotheses: ``b(q) = mean_5x5 (r_k(q) - f_k(q))^2`` is what the camera motion leaves,
   ``t`` twice its median where ``g`` trusts the frame (noise and interpolation). A pixel
   is open when the region needs explaining there (``b > t``); a candidate ``d`` fits a
   pixel when ``c_d(q) = mean_5x5 (r(q + d) - f_k(q))^2 < t`` and ``gain c_d < b``. The
   candidate that fits the most open pixels wins (at least half a tile of them), is
   refined by Gauss-Newton on ``sum (r(q + d) - f_k(q))^2`` over the pixels it fits
   (up to thousands of pixels where a tile has 256), and takes every
   open pixel where its refined cost is the lowest so far and beats the camera motion by
   ``gain``; the pixels it fits are closed and the next candidate is chosen, up to
   ``hypotheses`` per frame. Elsewhere the displacement is zero. The field handed to the
   warp (:class:`~inversa.operators.warp.Warp`'s ``flow``, which samples the reference at
   ``P_k q + u_k(q)``) is ``u_k(q) = q + d - P_k q``.

Two switches of :class:`LocalMotionConfig`, off by default (measured as a wash with the
shipped learned confidence and reconstruction, ``benchmarks/tune_hdr_object_motion.py``):
``trajectories`` fits constant velocities to the translations the frames chose
(:func:`trajectories`; frame ``i`` of an object moving at ``v`` shows it displaced by
``i v``) and runs step 3 again with each frame's own choices and the predictions ``i v``
as candidates, taken as they are, which lands more object pixels within half a pixel of
the truth; ``relaxed`` lets a pixel of the region that the camera motion already explains
(``b <= t``) take a displacement whose residual is lower still.

Whatever no displacement explains (the background an object uncovers, rotation,
deformation) is distrusted again when ``g`` is recomputed with the motion, which then
also checks the displaced samples one by one (``HDRConfig.g_chi``): a displacement can
match a window's mean while misplacing its detail. Two earlier designs were dropped:
a dense optical flow (iterative Lucas-Kanade, ``skimage.registration.optical_flow_ilk``)
fits displacements in flat or noisy regions that the windowed confidence test cannot tell
from agreement (it lost 0.6 to 4.8 dB in moving regions on training bursts); and each
pixel choosing among its neighbouring tiles' own answers (HDR+ style) inherited their
errors (``benchmarks/tune_hdr_object_motion.py`` measures both displacement fields
against the truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from inversa.burst.merge import upsample
from inversa.burst.sampling import sample_at
from inversa.camera.demosaic import demosaic_malvar
from inversa.operators.warp import Warp


@dataclass(frozen=True)
class LocalMotionConfig:
    """``threshold``: ``g`` below it marks a region to explain; ``tile``: tile side
    (high-resolution pixels, stride half of it); ``max_shift``: largest displacement
    searched, as a fraction of the image side; ``gain``: a pixel takes a displacement when
    its local residual is at least this many times lower than without; ``min_area``:
    frames with fewer distrusted samples are left alone; ``hypotheses``: most
    translations per frame (module docstring, step 3)."""

    threshold: float = 0.5
    tile: int = 16
    max_shift: float = 0.5
    gain: float = 1.5
    min_area: int = 16
    hypotheses: int = 4
    coarse: int = 4  # reduction of the coarse search
    # tried, off: neither moved the moving regions with the shipped g and reconstruction
    # (benchmarks/tune_hdr_object_motion.out.txt, "Constant-velocity candidates")
    trajectories: bool = False  # a second pass with constant-velocity candidates
    relaxed: bool = False  # explained pixels of the region may take a displacement too


def _grey(frame: torch.Tensor, cfa: str, scale: int, top: float) -> torch.Tensor:
    """(h, w) exposure-normalised raw -> (s h, s w) grey on the frame's own HR grid."""
    rgb = demosaic_malvar(frame.clamp(max=top), cfa)[None].clamp(min=0)
    return upsample(rgb, scale)[0].mean(0).double()


def _box(v: torch.Tensor, n: int = 5) -> torch.Tensor:
    """Mean over ``n x n`` windows of the last two axes (shrinking at the borders)."""
    h, w = v.shape[-2:]
    return F.avg_pool2d(v.reshape(-1, 1, h, w), n, stride=1, padding=n // 2,
                        count_include_pad=False).reshape(v.shape)


def _grid(n: int) -> torch.Tensor:
    """All integer shifts (x, y) with ``|x|, |y| <= n``: ((2n+1)^2, 2)."""
    a = torch.arange(-n, n + 1)
    return torch.stack(torch.meshgrid(a, a, indexing="xy"), -1).reshape(-1, 2)


def _subpixel(costs: torch.Tensor, best: torch.Tensor, n: int) -> torch.Tensor:
    """Parabola through the costs on either side of the best integer shift (per axis),
    ``costs`` (T, (2n+1)^2) over :func:`_grid` (n), ``best`` (T,) indices: (T, 2)."""
    c = costs.reshape(-1, 2 * n + 1, 2 * n + 1)  # (T, y, x)
    iy, ix = best // (2 * n + 1), best % (2 * n + 1)
    ar = torch.arange(c.shape[0])
    out = torch.zeros(c.shape[0], 2, dtype=torch.float64)
    for axis, (i, lim) in enumerate(((ix, 2 * n), (iy, 2 * n))):
        lo, hi = (i - 1).clamp(min=0), (i + 1).clamp(max=lim)
        if axis == 0:
            cm, c0, cp = c[ar, iy, lo], c[ar, iy, ix], c[ar, iy, hi]
        else:
            cm, c0, cp = c[ar, lo, ix], c[ar, iy, ix], c[ar, hi, ix]
        den = cm - 2 * c0 + cp
        d = torch.where((den > 0) & torch.isfinite(den) & (lo < i) & (hi > i),
                        0.5 * (cm - cp) / den.clamp(min=1e-30), torch.zeros_like(den))
        out[:, axis] = d.clamp(-0.5, 0.5)
    return out


def _coarse(rc: torch.Tensor, fc: torch.Tensor, sc: torch.Tensor, corners: torch.Tensor,
            n: int, c: int, reach: int) -> torch.Tensor:
    """Exhaustive integer search on images reduced ``c`` times, every tile at once: the
    sum of squared differences of each template (twice the tile, centred on it) against
    every position is ``sum f^2 - 2 (f * r) + (1 * r^2)``, three correlations
    (``conv2d``). Returns full-resolution displacements (T, 2) (x, y)."""
    hc, wc = fc.shape
    m = min(max(2 * n // c, 4), hc, wc)
    cy = ((corners[:, 0] - n // 2).clamp(min=0) // c).clamp(max=hc - m)
    cx = ((corners[:, 1] - n // 2).clamp(min=0) // c).clamp(max=wc - m)
    off = torch.arange(m)
    tmpl = fc[(cy[:, None] + off)[:, :, None], (cx[:, None] + off)[:, None, :]]  # (T, m, m)
    ones = torch.ones(1, 1, m, m, dtype=fc.dtype)
    xc = F.conv2d(rc[None, None], tmpl[:, None])[0]  # (T, P, Q)
    r2 = F.conv2d((rc * rc)[None, None], ones)[0, 0]
    cov = F.conv2d(sc[None, None], ones)[0, 0]
    ssd = (tmpl * tmpl).sum((1, 2))[:, None, None] - 2 * xc + r2
    pp, qq = ssd.shape[-2:]
    dy = torch.arange(pp)[None, :, None] - cy[:, None, None]
    dx = torch.arange(qq)[None, None, :] - cx[:, None, None]
    ok = (cov >= 0.9 * m * m) & (dy.abs() <= reach) & (dx.abs() <= reach)
    j = torch.where(ok, ssd, torch.full_like(ssd, float("inf"))).flatten(1).argmin(1)
    ar = torch.arange(len(corners))
    return torch.stack([dx[ar, 0, j % qq], dy[ar, j // qq, 0]], -1) * c


def _match(ref: torch.Tensor, frame: torch.Tensor, seen: torch.Tensor,
           corners: torch.Tensor, config: LocalMotionConfig) -> torch.Tensor:
    """Displacement (x, y) of every tile (T, 2): coarse exhaustive search, full-resolution
    search around it, parabola sub-pixel step."""
    c, n = config.coarse, config.tile
    h, w = frame.shape
    def pool(v: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(v.double()[None, None], c)[0, 0]

    rc, fc, sc = pool(ref * seen), pool(frame), pool(seen.double()).clamp(max=1)
    best = _coarse(rc, fc, sc, corners, n, c, max(1, int(config.max_shift * max(h, w)) // c))
    # full resolution, within c pixels of the coarse answer: grouped correlations of
    # every tile with its own window of the reference
    t_n, big = len(corners), n + 2 * c
    off = torch.arange(big)
    iy = (corners[:, 0] + best[:, 1] - c)[:, None] + off
    ix = (corners[:, 1] + best[:, 0] - c)[:, None] + off
    inb = ((iy >= 0) & (iy < h))[:, :, None] & ((ix >= 0) & (ix < w))[:, None, :]
    yy, xx = iy.clamp(0, h - 1)[:, :, None], ix.clamp(0, w - 1)[:, None, :]
    sw = (seen[yy, xx] & inb).double()
    rw = ref[yy, xx] * sw
    tn = torch.arange(n)
    tmpl = frame[(corners[:, 0:1] + tn)[:, :, None], (corners[:, 1:2] + tn)[:, None, :]]
    ones = torch.ones(t_n, 1, n, n, dtype=rw.dtype)
    xc = F.conv2d(rw[None], tmpl[:, None], groups=t_n)[0]  # (T, 2c+1, 2c+1)
    r2 = F.conv2d((rw * rw)[None], ones, groups=t_n)[0]
    cov = F.conv2d(sw[None], ones, groups=t_n)[0]
    ssd = ((tmpl * tmpl).sum((1, 2))[:, None, None] - 2 * xc + r2) / (n * n)
    cost = torch.where(cov >= 0.9 * n * n, ssd, torch.full_like(ssd, float("inf"))).flatten(1)
    j = cost.argmin(1)
    t = (best + _grid(c)[j]).double()
    return t + _subpixel(cost, j, c)


def _costs(ref: torch.Tensor, frame: torch.Tensor, d: torch.Tensor,
           box: tuple[int, int, int, int], chunk: int = 32) -> torch.Tensor:
    """Local residuals ``mean_5x5 (ref(q + d) - frame(q))^2`` over the window ``box``
    (y0, y1, x0, x1) for every translation ``d`` (C, 2) (x, y): (C, y1 - y0, x1 - x0);
    infinite where ``q + d`` leaves the reference."""
    y0, y1, x0, x1 = box
    hr, wr = ref.shape
    ys, xs = torch.meshgrid(torch.arange(y0, y1, dtype=torch.float64),
                            torch.arange(x0, x1, dtype=torch.float64), indexing="ij")
    f = frame[y0:y1, x0:x1]
    out = []
    for part in d.split(chunk):
        px, py = xs + part[:, 0, None, None], ys + part[:, 1, None, None]
        r = sample_at(ref[None, None].expand(len(part), 1, hr, wr), px, py,
                      padding="border")[:, 0]
        c = _box((r - f) ** 2)
        ok = (px >= 0) & (px <= wr - 1) & (py >= 0) & (py <= hr - 1)
        out.append(torch.where(ok, c, torch.full_like(c, float("inf"))))
    return torch.cat(out)


def _refine(ref: torch.Tensor, frame: torch.Tensor, d: torch.Tensor, support: torch.Tensor,
            iters: int = 8) -> torch.Tensor:
    """Gauss-Newton on ``sum_{q in support} (ref(q + d) - frame(q))^2`` from ``d`` (2,)."""
    gy, gx = torch.gradient(ref)
    ys, xs = support.nonzero(as_tuple=True)
    ys, xs = ys.double(), xs.double()
    f = frame[support]
    stack = torch.stack([ref, gx, gy])[None]
    for _ in range(iters):
        v = sample_at(stack, (xs + d[0])[None], (ys + d[1])[None], padding="border")[0]
        r, jx, jy = v[0] - f, v[1], v[2]
        h = torch.stack([torch.stack([(jx * jx).sum(), (jx * jy).sum()]),
                         torch.stack([(jx * jy).sum(), (jy * jy).sum()])])
        if float(torch.linalg.det(h)) <= 1e-12 * float(h.diagonal().sum()) ** 2:
            break
        step = -torch.linalg.solve(h, torch.stack([(jx * r).sum(), (jy * r).sum()]))
        d = d + step.clamp(-1, 1)
        if float(step.abs().max()) < 1e-3:
            break
    return d


def _hypotheses(ref: torch.Tensor, frame: torch.Tensor, base: torch.Tensor,
                region: torch.Tensor, floor: float, cand: torch.Tensor,
                config: LocalMotionConfig, exact: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, int]]]:
    """Per-pixel translation (2, H, W) (x, y, frame grid -> reference grid; NaN where
    none): the greedy choice among the candidates (module docstring, step 3); and the
    translations chosen, each with the number of pixels it took. ``exact`` (E, 2):
    further candidates taken as they are (not rounded, not refined)."""
    hh, ww = frame.shape
    u = torch.full((2, hh, ww), float("nan"), dtype=torch.float64)
    chosen: list[tuple[torch.Tensor, int]] = []
    open_ = region & (base > floor)
    yy, xx = open_.nonzero(as_tuple=True)
    n_exact = 0 if exact is None else len(exact)
    if len(yy) == 0 or len(cand) + n_exact == 0:
        return u, chosen
    box = (max(int(yy.min()) - 2, 0), min(int(yy.max()) + 3, hh),
           max(int(xx.min()) - 2, 0), min(int(xx.max()) + 3, ww))
    y0, y1, x0, x1 = box
    b = base[y0:y1, x0:x1]
    rest = open_[y0:y1, x0:x1].clone()
    cand = torch.unique(cand[torch.isfinite(cand).all(1)].round(), dim=0)
    n_tile = len(cand)
    if n_exact:
        cand = torch.cat([cand, exact.double()])
    costs = _costs(ref, frame, cand, box)
    fits = (costs < floor) & (costs * config.gain < b)
    best = b.clone()
    need = max(config.tile * config.tile // 2, config.min_area)
    for _ in range(config.hypotheses):
        count = (fits & rest).flatten(1).sum(1)
        j = int(count.argmax())
        if int(count[j]) < need:
            break
        if j < n_tile:
            sup = torch.zeros(hh, ww, dtype=torch.bool)
            sup[y0:y1, x0:x1] = fits[j] & rest
            d = _refine(ref, frame, cand[j], sup)
            c = _costs(ref, frame, d[None], box)[0]
        else:
            d, c = cand[j], costs[j]
        win = (c < best) & (c * config.gain < b) & open_[y0:y1, x0:x1]
        if config.relaxed:
            shut = region[y0:y1, x0:x1] & ~open_[y0:y1, x0:x1]
            win |= (c < best) & shut & (c < b)
        best = torch.where(win, c, best)
        u[:, y0:y1, x0:x1] = torch.where(win, d.reshape(2, 1, 1), u[:, y0:y1, x0:x1])
        rest &= ~((c < floor) & (c * config.gain < b))
        chosen.append((d, int(win.sum())))
    return u, chosen


def trajectories(chosen: dict[int, list[tuple[torch.Tensor, int]]], tol: float = 1.5,
                 rel_tol: float = 0.15) -> torch.Tensor:
    """Velocities (V, 2) (pixels per frame) of the objects that move at a constant
    velocity: frame ``i``'s translation of such an object is ``d_i = i v``. ``chosen``
    maps each frame to its translations and the pixels each took (:func:`_hypotheses`).
    Greedily, the translation with the most pixels proposes ``v = d_i / i``; every
    translation within ``tol + rel_tol |i v|`` of ``i v`` joins it, ``v`` is refitted
    by weighted least squares, ``v = sum n_j i_j d_j / sum n_j i_j^2``, and the members
    are gathered again with it (twice). Only translations that joined no velocity yet
    propose one, but any may join several: a slow object's early translations are small
    and lie within the tolerance of other velocities too. A velocity that only one frame
    supports is dropped: it predicts nothing another frame did not already find."""
    rows = [(i, d.double(), float(c)) for i, ch in chosen.items() for d, c in ch if c > 0]
    if not rows:
        return torch.zeros(0, 2, dtype=torch.float64)
    idx = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    d = torch.stack([r[1] for r in rows])
    n = torch.tensor([r[2] for r in rows], dtype=torch.float64)
    free = torch.ones(len(rows), dtype=torch.bool)
    out = []
    for j in n.argsort(descending=True).tolist():
        if not free[j]:
            continue
        v = d[j] / idx[j]
        for _ in range(2):
            pred = idx[:, None] * v
            near = (d - pred).norm(dim=1) <= tol + rel_tol * pred.norm(dim=1)
            near[j] = True
            w = n[near] * idx[near]
            v = (w[:, None] * d[near]).sum(0) / (w * idx[near]).sum()
        free &= ~near
        if len(torch.unique(idx[near])) >= 2:
            out.append(v)
    return torch.stack(out) if out else torch.zeros(0, 2, dtype=torch.float64)


def object_flow(y_n: torch.Tensor, rel: torch.Tensor, m_hr: torch.Tensor, scale: int,
                cfa: str, g: torch.Tensor, inside: torch.Tensor,
                config: LocalMotionConfig = LocalMotionConfig(),
                white: float = 0.999, record: dict | None = None) -> torch.Tensor | None:
    """Displacement fields ``u`` (K, 2, sH, sW) (x, y; zero for frame 0 and wherever the
    camera motion explains the frame), or None when no region needed one. ``y_n`` (K, h,
    w) the frames divided by their exposures ``rel``, ``m_hr`` (K, 3, 3) frame ->
    reference in HR pixels, ``g`` (K, h, w) the confidence without local motion,
    ``inside`` (K, h, w) samples that see the reference's field. See the module
    docstring. With ``config.trajectories``, ``record["paths"]`` (when ``record`` is given)
    receives the velocities (V, 2) of :func:`trajectories`."""
    k, h, w = y_n.shape
    s, n = scale, config.tile
    hh, ww = h * s, w * s
    if min(hh, ww) < 2 * n:
        return None  # too small for tiles
    top = white / float(rel.max())
    ref = _grey(y_n[0], cfa, s, top)
    flow = torch.zeros(k, 2, hh, ww, dtype=torch.float64)
    found = False

    def hr(v: torch.Tensor) -> torch.Tensor:
        v = v.float()[None, None]
        return (F.interpolate(v, scale_factor=s, mode="nearest") if s > 1 else v)[0, 0] > 0

    ty = torch.arange(0, max(hh - n, 0) + 1, n // 2)
    tx = torch.arange(0, max(ww - n, 0) + 1, n // 2)
    corners_all = torch.stack(torch.meshgrid(ty, tx, indexing="ij"), -1).reshape(-1, 2)
    ys, xs = torch.meshgrid(torch.arange(hh, dtype=torch.float64),
                            torch.arange(ww, dtype=torch.float64), indexing="ij")
    # per searched frame: its displacements, the translations chosen and the pixels each
    # took, step 3's inputs (for the second pass) and its camera warp
    fields: dict[int, torch.Tensor] = {}
    chosen: dict[int, list[tuple[torch.Tensor, int]]] = {}
    steps: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]] = {}
    warps: dict[int, Warp] = {}
    for i in range(1, k):
        low = (g[i] < config.threshold) & inside[i]
        if int(low.sum()) < config.min_area:
            continue
        region = hr(F.max_pool2d(low.float()[None, None], 5, stride=1, padding=2)[0, 0])
        frame = _grey(y_n[i], cfa, s, top)
        warp = Warp(m_hr[i:i + 1].double(), (1, hh, ww))
        rk = warp(ref[None, None])[0, 0]
        seen = hr(inside[i])
        cover = F.avg_pool2d(region.double()[None, None], n, stride=n // 2)[0, 0]
        pick = cover[:len(ty), :len(tx)].flatten() > 0.1
        corners = corners_all[pick]
        if len(corners) == 0:
            continue
        # what the camera motion leaves unexplained; the residual where it explains the
        # frame (noise, interpolation) sets the level a displacement has to reach
        base = _box((rk - frame) ** 2)
        agree = seen & ~region
        floor = 2 * float(base[agree].median()) if int(agree.sum()) > 64 else 0.0
        cand = _match(ref, frame, torch.ones_like(seen), corners, config)
        fields[i], chosen[i] = _hypotheses(ref, frame, base, region, floor, cand, config)
        steps[i], warps[i] = (frame, base, region, floor), warp
    if config.trajectories:  # second pass: the frame's own choices and the predictions
        paths = trajectories(chosen)
        if record is not None:
            record["paths"] = paths
        for i, args in steps.items():
            own = [c[0] for c in chosen[i]]
            extra = torch.cat([torch.stack(own), i * paths]) if own else i * paths
            fields[i], _ = _hypotheses(ref, *args, extra[:0], config, exact=extra)
    for i, d in fields.items():
        moved = torch.isfinite(d[0])
        if moved.any():
            px, py = (v.reshape(hh, ww) for v in warps[i].positions(ref.device))
            flow[i, 0] = torch.where(moved, xs + d[0] - px, 0.0)
            flow[i, 1] = torch.where(moved, ys + d[1] - py, 0.0)
            found = True
    return flow if found else None


__all__ = ["LocalMotionConfig", "object_flow", "trajectories"]
