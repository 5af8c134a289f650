"""HDR reconstruction on the layered model, with the layers estimated from the burst.

One radiance image warped per frame cannot show what a moving object's rim shows in the
reference (:mod:`inversa.burst.layered`); a background and one layer per object can. With
the objects found (:func:`~inversa.burst.objects.find_objects`: velocities, visible
regions, amodal extents) the reconstruction is:

1. mattes: each object's region as a signed distance (:func:`~inversa.burst.layered.level_set`)
   smoothed by ``smooth`` pixels, moved into the frames as a level set;
2. samples: every usable one (no confidence ``g``: the layered model explains the objects
   itself), but those showing object parts outside the reference's field, which no layer
   pixel holds (:func:`~inversa.burst.layered.outside_field`);
3. solve (:func:`solve_layers`): the layers ``z = (B, O_1, ..., O_J)`` by ``map`` (colour
   TV on each layer) or the learned reconstruction (``LKRNet(..., operator=...)``), all
   started from the one-image ``merge``; then the samples the model does not explain, a
   windowed chi-square ``mean_3x3 w (y - A z)^2 / sigma^2`` above ``chi``, are distrusted
   and the layers solved again;
4. mattes fitted (:func:`fit_levels`): the signed distances that explain the samples best
   with the layers fixed, ``fits`` times, each followed by a new solve (3);
5. the result is the layers' composite at the reference (frame 0),
   :meth:`~inversa.burst.layered.LayeredBurstOperator.reference`, bounded below by the
   trusted clipped samples as every method is;
6. with ``blend`` (:func:`layers_region`), it is kept only where the objects found cover
   the reference in some frame (the objects, and the background they hide), and the
   one-image result (:func:`~inversa.burst.hdr.reconstruct_hdr` without layers) elsewhere:
   an object the search missed is then reconstructed as without layers, with the
   confidence ``g``, instead of as background. Inside, the layered result's share is
   ``inside`` and the one-image result's the rest (two models' estimates of the same
   pixels, whose errors need not coincide);
7. with ``trust`` (:func:`misfit`, :func:`trusted`), the layered result's share falls
   inside that region where most of the other frames disagree with the layer that the
   reference shows (their samples' windowed chi-square, spread back onto the layers by
   the model's adjoint): a missed object that a found object's region swallowed, taken
   there with the wrong motion, is left to the one-image result.

Measured in docs/benchmarks.md (``benchmarks/hdr_layered_estimate.py``; the HDR issue's
moving-regions figure).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy import ndimage

from inversa.burst.forward import data_weights
from inversa.burst.layered import (
    LayeredBurstOperator,
    level_coverages,
    level_set,
    outside_field,
    translations,
)
from inversa.burst.local_motion import _box
from inversa.burst.objects import LayersConfig, Objects, amodal


class LayerTV:
    """``map``'s colour TV on each layer of three channels apart."""

    def __init__(self, layers: int):
        from inversa.burst.reconstruct import make_prior

        self.parts = [make_prior("tv") for _ in range(layers)]

    def prox(self, v: torch.Tensor, tau: float) -> torch.Tensor:
        return torch.cat([p.prox(v[:, 3 * i:3 * i + 3], tau) for i, p in enumerate(self.parts)], 1)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return sum(p.value(x[:, 3 * i:3 * i + 3]) for i, p in enumerate(self.parts))


def solve_layers(a: LayeredBurstOperator, inp, z0: torch.Tensor, cfg) -> torch.Tensor:
    """The layers (1, 3 L, H, W) from ``z0`` on prepared data ``inp``
    (:class:`~inversa.burst.hdr.HDRInputs`) by ``cfg.method`` (an
    :class:`~inversa.burst.hdr.HDRConfig`): the learned reconstruction ``cfg.model``, its
    stages on the layered model as they are, or ``map`` with :class:`LayerTV`."""
    from inversa.burst.hdr import HDR_LAMBDA_FACTOR, hdr_model
    from inversa.burst.reconstruct import ReconConfig, map_solve

    if cfg.method == "learned":
        with torch.no_grad():
            return hdr_model(cfg.model)(inp.y, inp.cfa, inp.m_hr, inp.scale, inp.noise,
                                        valid=inp.valid, x0=z0.float(), gain=inp.gain, operator=a)
    rc = ReconConfig(method="map", scale=inp.scale, prior=cfg.prior, lam=cfg.lam,
                     lam_factor=HDR_LAMBDA_FACTOR, iterations=cfg.iterations, cg_iter=cfg.cg_iter,
                     robust=cfg.robust)
    return map_solve(inp.y[None].double(), a, z0.double(), inp.noise, rc,
                     inp.valid[None].double(), gain=inp.gain, prior=LayerTV(a.layers))


def fit_levels(inp, velocities: torch.Tensor, levels: torch.Tensor, z: torch.Tensor,
               steps: int = 100, coarse: int = 4, lr: float = 0.05,
               lr_v: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The signed distances that explain the samples best with the layers ``z`` fixed:
    ``levels + up(delta)``, ``delta`` on a grid ``coarse`` times coarser (an edge moves
    smoothly along its contour), minimising the noise-weighted squared error of the
    layered model's prediction over the trusted samples by ``steps`` Adam steps. The
    objects move at ``velocities`` (J, 2) (:func:`~inversa.burst.layered.translations`);
    with ``lr_v > 0`` these are fitted too (Adam, that step size in pixels per frame).
    Returns both."""
    hh, ww = levels.shape[-2:]
    k = inp.m_hr.shape[0]
    v0 = velocities.detach().double()
    delta = torch.zeros(len(v0), 1, -(-hh // coarse), -(-ww // coarse), dtype=torch.float64,
                        requires_grad=True)
    # only when fitted: a motion with a graph sends every object warp down the slow path
    dv = torch.zeros_like(v0, requires_grad=lr_v > 0)
    y = inp.y[None].double()
    zd = z.detach().double()

    def op(lv: torch.Tensor, vs: torch.Tensor) -> LayeredBurstOperator:
        return LayeredBurstOperator.from_levels(inp.m_hr, [translations(k, v) for v in vs], lv,
                                                inp.scale, inp.cfa)

    with torch.no_grad():
        w, _ = data_weights(op(levels, v0)(zd), y, inp.noise, robust=False, cap=2.0, gain=inp.gain)
        w = w * inp.valid[None].double()
    groups = [{"params": [delta], "lr": lr}] + ([{"params": [dv], "lr": lr_v}] if lr_v > 0 else [])
    opt = torch.optim.Adam(groups)
    for _ in range(steps):
        opt.zero_grad()
        lv = levels + torch.nn.functional.interpolate(delta, size=(hh, ww), mode="bilinear")[:, 0]
        r = op(lv, v0 + dv)(zd) - y
        ((w * r * r).sum() / w.sum()).backward()
        opt.step()
    with torch.no_grad():
        up = torch.nn.functional.interpolate(delta, size=(hh, ww), mode="bilinear")[:, 0]
        return levels + up, v0 + dv


def layers_region(objs: list[torch.Tensor], levels: torch.Tensor, m_hr: torch.Tensor,
                  margin: int = 6, feather: float = 3.0) -> torch.Tensor:
    """(sH, sW) weight in [0, 1] of the layered result against the one-image one (step
    6): the reference pixels that some object covers in some frame, ``max_k max_j
    c_jk(P_k^{-1} p) > 0.01`` with ``c_jk`` object ``j``'s coverage of frame ``k``
    (:func:`~inversa.burst.layered.level_coverages` of its signed distance ``levels[j]``
    moved by ``objs[j]``) and ``P_k`` frame ``k``'s camera motion ``m_hr[k]`` (frame ->
    reference; frame 0 gives the objects themselves, the others the background they
    hide), dilated by ``margin`` pixels and smoothed by a Gaussian of ``feather`` pixels
    outside those pixels (1 on them, 0 well away from them)."""
    from inversa.burst.hdr import on_reference

    hh, ww = levels.shape[-2:]
    if not objs:
        return torch.zeros(hh, ww)
    cover = level_coverages(objs, levels.double()).amax(0)  # (K, H, W)
    seen = on_reference(cover[:, None].float(), m_hr, mode="bilinear")[:, 0].amax(0) > 0.01
    near = seen.numpy()
    if margin:
        near = ndimage.binary_dilation(near, iterations=margin)
    w = near.astype(float)
    if feather > 0:
        w = np.maximum(ndimage.gaussian_filter(w, feather), seen.numpy())
    return torch.from_numpy(w).float().clamp(0, 1)


def chi_square(a: LayeredBurstOperator, inp, z: torch.Tensor) -> torch.Tensor:
    """(K, H, W) the windowed chi-square of the samples under the layers ``z`` (step 3),
    ``mean_3x3 w (y - A z)^2 / sigma^2`` with ``w`` and ``sigma^2`` the noise model's
    (:func:`~inversa.burst.forward.data_weights`, no robust factor)."""
    y = inp.y[None].double()
    with torch.no_grad():
        pred = a(z.double())
        w, ref_var = data_weights(pred, y, inp.noise, robust=False, gain=inp.gain)
        return _box(((y - pred) ** 2 * w / ref_var)[0], 3)


def misfit(a: LayeredBurstOperator, inp, z: torch.Tensor, base: torch.Tensor,
           chi: float) -> torch.Tensor:
    """(sH, sW) share of what the other frames say about each reference pixel that the
    layers ``z`` do not explain: of the samples of frames 1 to K-1 usable in ``base``
    (K, H, W), those whose windowed chi-square (:func:`chi_square`) is ``chi`` or more,
    spread back onto every layer by the model's adjoint, ``A^T bad / A^T base`` summed
    over colours, and composited as the reference shows the layers. A pixel of an object
    the search missed, taken by a found object's region with the wrong motion, has few
    other frames that agree with the layer showing it."""
    with torch.no_grad():
        big = chi_square(a, inp, z) >= chi
        other = base.double().clone()
        other[0] = 0
        bad = a.adjoint((other * big)[None])[0]
        all_ = a.adjoint(other[None])[0]
        hh, ww = bad.shape[-2:]
        bad, all_ = bad.reshape(-1, 3, hh, ww).sum(1), all_.reshape(-1, 3, hh, ww).sum(1)
        share = torch.where(all_ > 1e-6, bad / all_.clamp(min=1e-6), 0.0)
        return sum(v[0, 0] * s for v, s in zip(a.visible, share, strict=True)).float()


def trusted(bad: torch.Tensor, trust: tuple[float, float], smooth: float = 3.0) -> torch.Tensor:
    """(sH, sW) guard on the layered result's share from its :func:`misfit` ``bad``:
    ``1 - clip((G * bad - t_0) / (t_1 - t_0), 0, 1)``, ``G`` a Gaussian of ``smooth``
    pixels and ``(t_0, t_1) = trust``."""
    m = bad.detach().cpu().numpy().astype(float)
    if smooth > 0:
        m = ndimage.gaussian_filter(m, smooth)
    lo, hi = trust
    return torch.from_numpy(1 - np.clip((m - lo) / (hi - lo), 0, 1)).float()


@dataclasses.dataclass
class LayeredResult:
    """The reference's radiance ``x`` (1, 3, sH, sW), the objects' velocities (J, 2)
    (pixels per frame; frame ``i`` shows the reference's point ``q + i v`` at ``q``) and
    their mattes (J, sH, sW) in the reference, bottom first; ``unexplained``: the share of
    the other frames' usable samples that the last solve's chi-square test distrusted
    (step 3; a diagnosis of how well the layers explain the burst); ``region`` (sH, sW)
    the share of ``x`` against the one-image result where the objects act (step 6,
    ``inside`` times :func:`layers_region`; None without ``blend``: ``x`` everywhere);
    ``misfit`` (sH, sW) what the layers leave unexplained (:func:`misfit`) and
    ``guard`` (sH, sW) the share they keep for it (step 7, :func:`trusted`; None without
    ``trust``). The weight of ``x`` is :attr:`weight`."""

    x: torch.Tensor
    velocities: torch.Tensor
    mattes: torch.Tensor
    unexplained: float = 0.0
    region: torch.Tensor | None = None
    misfit: torch.Tensor | None = None
    guard: torch.Tensor | None = None

    @property
    def weight(self) -> torch.Tensor | None:
        """(sH, sW) the weight of ``x`` against the one-image result, ``region`` times
        ``guard``; None without a region."""
        if self.region is None or self.guard is None:
            return self.region
        return self.region * self.guard


def blended(lay: LayeredResult, one: torch.Tensor) -> torch.Tensor:
    """Steps 6 and 7: ``w x + (1 - w) x_1`` with ``w`` the layered result's
    :attr:`~LayeredResult.weight` and ``x_1`` (1, 3, sH, sW) the one-image result
    (``lay.x`` itself without a region)."""
    w = lay.weight
    if w is None:
        return lay.x
    w = w.to(lay.x)
    return w * lay.x + (1 - w) * one.to(lay.x)


def layered_hdr(inp, found: Objects, cfg, config: LayersConfig = LayersConfig(),
                ) -> LayeredResult:
    """Steps 1 to 5 (module docstring) on prepared data ``inp``
    (:class:`~inversa.burst.hdr.HDRInputs`, with ``usable``) and the objects ``found``;
    ``cfg`` the :class:`~inversa.burst.hdr.HDRConfig` (method, model, solver settings)."""
    from inversa.burst.hdr import finish

    masks, keep = found.masks, found.keep
    if config.amodal:
        masks, order = amodal(masks)
        keep = [keep[n] for n in order]
    k = inp.m_hr.shape[0]
    vs = found.paths[keep]
    # every usable sample, no g: the layers explain the objects
    lin = dataclasses.replace(inp, valid=inp.usable, flow=None, m_hr=inp.m_hr.double())
    s = lin.scale
    objs = [translations(k, v) for v in vs]
    levels = torch.stack([torch.from_numpy(ndimage.gaussian_filter(
        level_set(m.double()).numpy(), config.smooth)) for m in masks])
    bad = outside_field(objs, level_coverages(objs, levels), s)
    base = lin.valid * (~bad).to(lin.valid)
    z0 = inp.x0.repeat(1, 1 + len(objs), 1, 1)

    def solve(levels: torch.Tensor) -> tuple[LayeredBurstOperator, torch.Tensor, float]:
        """The layers, solved twice (the second time without the unexplained samples),
        and the share of the other frames' usable samples left unexplained."""
        a = LayeredBurstOperator.from_levels(lin.m_hr, objs, levels, s, lin.cfa)
        lin.valid = base
        z = solve_layers(a, lin, z0, cfg)
        with torch.no_grad():  # samples the model does not explain
            g = (chi_square(a, lin, z) < config.chi).to(base)
            g[0] = 1
            share = float((base[1:] * (1 - g[1:])).sum() / base[1:].sum().clamp(min=1))
        lin.valid = base * g
        return a, solve_layers(a, lin, z0, cfg), share

    a, z, share = solve(levels)
    for _ in range(config.fits):
        levels, vs = fit_levels(lin, vs, levels, z, steps=config.fit_steps,
                                coarse=config.fit_coarse, lr_v=config.lr_v)
        objs = [translations(k, v) for v in vs]
        a, z, share = solve(levels)
    x = finish(a.reference(z).float(), lin)
    bad = misfit(a, lin, z, base, config.chi)
    region = guard = None
    if config.blend:
        region = config.inside * layers_region(objs, levels, lin.m_hr, config.margin,
                                               config.feather)
        if config.trust is not None:
            guard = trusted(bad, config.trust, config.trust_smooth)
    return LayeredResult(x, vs.float(), (levels + 0.5).clamp(0, 1).float(), share, region, bad,
                         guard)


__all__ = ["LayerTV", "LayeredResult", "blended", "chi_square", "fit_levels", "layered_hdr",
           "layers_region", "misfit", "solve_layers", "trusted"]
