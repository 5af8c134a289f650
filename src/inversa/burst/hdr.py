"""High dynamic range from exposure-bracketed raw bursts, with ghost-free merging.

After Lecouat, Eboli, Ponce and Mairal ("High Dynamic Range and Super-Resolution from
Raw Image Bursts", SIGGRAPH 2022). Frame ``k`` was exposed ``e_k`` times as long as the
reference (frame 0); divided by ``e_k`` it measures the reference's radiance ``x``:

.. math::  \\min_x \\tfrac12 \\sum_k \\| w_k^{1/2} \\circ (y_k / e_k - M D B W_{P_k} x) \\|^2
           + \\lambda \\phi(x), \\qquad
           w_k = \\frac{e_k^2}{v(e_k \\hat y_k)} \\; m(y_k) \\; g(y_k, W_k y_0)

- ``v`` the shot + read noise variance of the raw value (so ``e_k^2 / v`` is the inverse
  variance of ``y_k / e_k``; where shot noise dominates it is proportional to ``e_k``:
  the exposure weighting ``e_k m_k / sum_j e_j m_j`` of the issue, up to a per-pixel
  normalisation that least squares does not need);
- ``m`` the mask of usable samples: zero where the raw value reaches the white level,
  dilated by ``dilate`` pixels (:func:`saturation_masks`);
- ``g`` the alignment confidence (:func:`confidence`): how well frame ``k``, once
  aligned, agrees with the reference frame, measured against the noise; it is near 1
  where the scene is static and near 0 where an object moved or the motion model fails,
  which removes ghosts. By default a small network corrects it sample by sample
  (:mod:`inversa.burst.confidence_net`, ``g_model``), in the data term only.

Moving objects (``local_motion``): where ``g`` distrusts frame ``k``, tile matching
(:func:`inversa.burst.local_motion.object_flow`) gives the region a displacement ``u_k``
of its own on top of ``P_k`` (the warp samples ``x`` at ``P_k q + u_k(q)``); ``g`` is
recomputed with it, and displaced samples must also agree with the reference one by one
(``g_chi``). A frame that saw the object elsewhere then contributes to it instead of
being dropped there; what no displacement explains (uncovered background) stays
distrusted. Every method uses the displaced model.

Moving objects as layers (``layers``, off by default; ``map`` and ``learned``): one image
warped per frame cannot show what an object's rim shows in the reference, a blend of
object and background. With ``layers`` the objects that move at a constant velocity are
found (:mod:`inversa.burst.objects`: velocities, regions, mattes) and the scene is
reconstructed as a background plus one layer per object
(:mod:`inversa.burst.layered_hdr`), a minute or more instead of seconds. The layered
result is used where the objects found cover the reference in some frame (themselves and
the background they hide), blended there with the one-image result (``LayersConfig.inside``
its share), and the one-image result elsewhere, so that an object the search missed away
from the others is reconstructed as without layers (``HDRResult.layer_weight``); inside,
its share falls where the other frames disagree with the layers (``LayersConfig.trust``),
so that a missed object a found one's region swallowed is left to the one-image result
too; where no object is found the one-image reconstruction is kept, with a warning.

``x`` is the radiance in units of the reference exposure: a value above 1 is a highlight
that clipped in the reference. Alignment is exposure-aware (:func:`alignment_frames`):
frames are divided by their exposures and clipped at the radiance that saturates the
longest exposure, so clipped regions look alike in every frame. Methods:

- ``map``: the problem above (HQS, :func:`inversa.burst.reconstruct.map_solve`), started
  from ``merge``, with a robust second round;
- ``merge``: kernel regression of the normalised samples with weights ``e_k m_k g_k``;
- ``naive``: the same without ``g``: the plain exposure-weighted average of the aligned
  frames, which shows the ghosts of moving objects (a baseline);
- ``learned``: the trainable reconstruction of the burst issue
  (:class:`inversa.burst.lkr.LKRNet`: unrolled HQS with motion refinement, robust data
  weights and a learned prior) on the same weighted, exposure-normalised data term,
  started from ``merge`` and fine-tuned on bracketed static and dynamic bursts
  (``inversa train hdr``, weights ``hdr_lkr``).

Clipped samples are not data but bounds: every method ends with ``x = max(x, b)``,
``b`` the radiance each trusted clipped sample at least had (:func:`saturation_bound`);
where every frame clipped, that bound is the estimate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F

from inversa.burst.align import AlignConfig, Alignment, MotionModel, align_burst
from inversa.burst.forward import BurstOperator
from inversa.burst.local_motion import LocalMotionConfig, object_flow
from inversa.burst.merge import merge, upsample
from inversa.burst.objects import LayersConfig
from inversa.burst.sampling import sample_at
from inversa.camera.burstio import Burst
from inversa.camera.cfa import cfa_masks
from inversa.camera.demosaic import demosaic_malvar
from inversa.camera.noise import NoiseLevels
from inversa.camera.noise_estimate import estimate_noise_levels
from inversa.errors import InputError

if TYPE_CHECKING:  # layered_hdr imports this module
    from inversa.burst.layered_hdr import LayeredResult

HDRMethod = Literal["map", "merge", "naive", "learned"]
DEFAULT_MODEL = "hdr_lkr"  # shipped weights of the learned HDR reconstruction
DEFAULT_G_MODEL = "hdr_g"  # shipped weights of the learned confidence
# TV weight = factor * median noise variance of the normalised samples; chosen for the
# mu-law PSNR on training images (motorcycle_left, retina, immunohistochemistry,
# colorwheel; static and dynamic, x2, 9 frames 1,4,1/4): 10 -> 33.3 dB, 30 -> 34.7,
# 100 -> 32.5, 300 -> 29.0. Larger than the plain burst's: the median variance of an HDR
# burst is that of its brighter, shot-limited samples.
HDR_LAMBDA_FACTOR = 30.0
WHITE = 0.999  # raw values at or above this are clipped


@dataclass(frozen=True)
class HDRConfig:
    """Settings of :func:`reconstruct_hdr`.

    ``g_threshold`` and ``g_width``: a frame is fully trusted where its local mean
    difference to the reference, ``z`` (in units of what it may be when the frame agrees),
    stays below ``g_threshold`` in absolute value; beyond, the confidence falls as
    ``exp(-((|z| - threshold) / width)^2 / 2)``. ``model_error`` and ``texture_error``:
    the error of the reference-frame prediction, relative to the signal and to the local
    texture (see :func:`confidence`).
    """

    method: HDRMethod = "map"
    scale: int = 2
    prior: Literal["tv", "wavelet"] = "tv"
    lam: float | None = None
    iterations: int = 8
    cg_iter: int = 8
    robust: bool = True
    motion: MotionModel = "similarity"
    # start the camera alignment from this many hypotheses (phase-correlation peaks and
    # no motion) and keep the one that explains most of each frame: objects moving on
    # their own otherwise capture it (AlignConfig.candidates). Training protocol
    # (benchmarks/tune_hdr_alignment.py: six training photos, 63 frames per scale):
    # frames misaligned by more than 1 pixel, 1 -> 4: dynamic x2 26 -> 20, x1 26 -> 17;
    # static 1 -> 1, 0 -> 0
    align_candidates: int = 4
    confidence: bool = True
    dilate: int = 1
    # chosen on training images (benchmarks/bench_hdr.py's protocol, 4 static + 4 dynamic
    # bursts, merge): window 5 / threshold 2.5 / texture 0.25 -> 35.6 / 31.0 dB mu-law,
    # 9 / 2.0 / 0.1 -> 35.6 / 31.7 (static unchanged, fewer ghosts). With the objects'
    # own motion (benchmarks/tune_hdr_object_motion.out.txt, map, moving regions x2 / x1)
    # the window went to 7: 9 -> 36.48 / 39.95, 7 -> 36.66 / 40.21, 5 -> 36.61 / 40.40;
    # static scenes unchanged in PSNR, but 5 distrusts 4 % of a static test burst's
    # samples (7: 1.9 %, 9: 0.9 %; benchmarks/hdr_static_distrust.py; the test allows 2 %)
    g_window: int = 7
    g_threshold: float = 2.0
    g_width: float = 1.0
    model_error: float = 0.02
    texture_error: float = 0.1
    # widen distrusted regions by this many raw pixels (a min filter of g); on the
    # training protocol above 0 -> 26.7, 2 -> 27.1, 4 -> 27.2 dB on dynamic scenes,
    # static scenes unchanged
    g_erode: int = 2
    # moving objects get a motion of their own where g distrusts the camera motion
    # (:mod:`inversa.burst.local_motion`), then g is recomputed with it, with the
    # sample-by-sample test below where a displacement was given. On the training
    # protocol (benchmarks/tune_hdr_object_motion.py: 4 dynamic bursts, mu-law PSNR
    # whole / moving regions, map):
    # x2 35.87 / 34.77 -> 36.53 / 36.01, x1 38.32 / 38.03 -> 38.82 / 39.20; static
    # scenes unchanged
    local_motion: bool = True
    # the object motion's own settings (inversa.burst.local_motion.LocalMotionConfig)
    object_motion: LocalMotionConfig = LocalMotionConfig()
    # largest mean squared normalised residual over a window of displaced samples (about
    # 1 when they agree); same protocol, x2 / x1 moving regions: 1.2 -> 35.98 / 39.48,
    # 1.5 -> 36.01 / 39.20, 2 -> 36.02 / 38.79, 3 -> 36.02 / 38.51, none -> 35.25 / 37.30
    g_chi: float = 1.5
    model: str = DEFAULT_MODEL  # learned: shipped weights by name, or a .pt path
    # the learned confidence that replaces g in the data term of every method but naive
    # (inversa.burst.confidence_net): shipped weights by name or a .pt path; None, or
    # weights that are not there, keep the analytic g
    g_model: str | None = DEFAULT_G_MODEL
    # map and learned: moving objects as layers of their own, a background and one image
    # and matte per object, estimated from the burst (inversa.burst.objects,
    # inversa.burst.layered_hdr); needs local_motion. A minute or more, not seconds. Off by
    # default: see docs/benchmarks.md (HDR, layered) for what it buys and where it fails
    layers: bool = False
    layer_config: LayersConfig = LayersConfig()

    def __post_init__(self) -> None:
        if self.scale not in (1, 2, 3, 4):
            raise InputError(f"scale must be 1, 2, 3 or 4, got {self.scale}", field="scale")
        if self.method not in ("map", "merge", "naive", "learned"):
            raise InputError(f"unknown HDR method {self.method!r} (map, merge, naive or "
                             "learned)", field="method")
        if self.prior not in ("tv", "wavelet"):
            raise InputError(f"HDR prior must be tv or wavelet, got {self.prior!r}",
                             field="prior")
        if self.align_candidates < 1:
            raise InputError("align_candidates must be >= 1", field="align_candidates")
        if self.dilate < 0 or self.g_window < 1 or self.g_width <= 0 or self.g_chi <= 0:
            raise InputError("dilate >= 0, g_window >= 1, g_width > 0 and g_chi > 0 "
                             "expected", field="g_window")
        if self.layers and (self.method not in ("map", "learned") or not self.local_motion
                            or not self.confidence):
            raise InputError("layers need the map or learned method with the confidence and "
                             "the object motion on", field="layers")


@dataclass
class HDRResult:
    """``x`` (1, 3, sH, sW) radiance in units of the reference exposure, and the weights
    that made it, each (K, H, W) on every frame's own raw grid: ``saturated`` (dilated),
    ``exposure`` (``e_k m_k / sum_j e_j m_j`` at the reference position), ``confidence``
    (``g``)."""

    x: torch.Tensor
    alignment: Alignment | None
    noise: NoiseLevels
    exposures: torch.Tensor  # (K,) relative to frame 0
    saturated: torch.Tensor
    exposure_weight: torch.Tensor
    confidence: torch.Tensor
    used: torch.Tensor
    warnings: list[str] = field(default_factory=list)
    flow: torch.Tensor | None = None  # (K, 2, sH, sW) moving objects' own motion
    # with layers: the objects' velocities (J, 2) (pixels per frame, frame i shows the
    # reference's point q + i v at q) and mattes (J, sH, sW) in the reference, bottom first
    velocities: torch.Tensor | None = None
    mattes: torch.Tensor | None = None
    # with layers: the layered result's weight (sH, sW) against the one-image one's
    # (LayersConfig.blend, inside, trust; None without layers or without blend)
    layer_weight: torch.Tensor | None = None


def relative_exposures(burst: Burst) -> torch.Tensor:
    """``e_k = exposure_k / exposure_0`` (K,); an error when the burst has none."""
    if burst.exposure is None:
        raise InputError("the burst has no exposure times: HDR needs one per frame (the "
                         "'exposure' array of an .npz burst, or EXIF ExposureTime of raw "
                         "files)", source=burst.source or None, field="exposure")
    return burst.relative_exposure().float()


def saturation_masks(raw: torch.Tensor, dilate: int = 1, white: float = WHITE) -> torch.Tensor:
    """(K, H, W) bool: raw values at the white level, dilated by ``dilate`` pixels (the
    neighbours of a clipped sample are unreliable on real sensors: blooming, the
    non-linearity near full well).

    >>> saturation_masks(torch.tensor([[[0.2, 1.0, 0.2, 0.2]]]), dilate=1).int().tolist()
    [[[1, 1, 1, 0]]]
    """
    sat = (raw >= white).float()[:, None]
    if dilate > 0:
        sat = F.max_pool2d(sat, 2 * dilate + 1, stride=1, padding=dilate)
    return sat[:, 0] > 0


def alignment_frames(raw: torch.Tensor, rel: torch.Tensor, white: float = WHITE) -> torch.Tensor:
    """Frames for exposure-aware alignment: ``min(y_k / e_k, white / max_j e_j)``: the
    same radiance scale in every frame, and highlights clipped at the level where the
    longest exposure clips, so saturated regions do not look like motion."""
    top = white / float(rel.max())
    return (raw / rel.reshape(-1, 1, 1)).clamp(max=top)


def on_reference(img: torch.Tensor, matrices: torch.Tensor, mode: str = "nearest",
                 padding: str = "zeros") -> torch.Tensor:
    """Frame images ``img`` (K, C, H, W), each on its own grid, brought to the reference
    grid: ``out[k](p) = img[k](P_k^{-1} p)`` with ``matrices`` (K, 3, 3) frame ->
    reference on that grid."""
    k, _, h, w = img.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    p = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones(h * w, dtype=torch.float64)])
    q = torch.linalg.inv(matrices.double()) @ p  # reference pixel -> frame k
    qx, qy = (q[:, 0] / q[:, 2]).reshape(k, h, w), (q[:, 1] / q[:, 2]).reshape(k, h, w)
    return sample_at(img, qx.float(), qy.float(), mode=mode, padding=padding)


def exposure_weights(raw_usable: torch.Tensor, rel: torch.Tensor, matrices: torch.Tensor,
                     ) -> torch.Tensor:
    """``e_k m_k / sum_j e_j m_j`` (K, H, W) on the reference raw grid, with ``m_j`` each
    frame's usable-sample mask brought to the reference by its alignment ``matrices``
    (frame -> reference, raw pixels); 0 where no frame is usable."""
    m = on_reference(raw_usable.float()[:, None], matrices)[:, 0]
    num = m * rel.reshape(-1, 1, 1)
    return num / num.sum(0, keepdim=True).clamp(min=1e-12)


def _box(x: torch.Tensor, n: int) -> torch.Tensor:
    """Mean over ``n x n`` windows, same size (reflected borders)."""
    if n <= 1:
        return x
    p = n // 2
    return F.avg_pool2d(F.pad(x[:, None], (p, n - 1 - p, p, n - 1 - p), mode="reflect"), n,
                        stride=1)[:, 0]


@dataclass
class Residuals:
    """What the reference frame alone predicts for every frame, and how far each sample
    is from it (see :func:`confidence`): ``pred`` (K, h, w) the prediction ``y_hat_k``,
    ``diff`` the normalised sample minus it (zero where unusable; where the prediction
    comes from clipped reference samples, only a frame that sees less counts), ``var``
    the noise variance of the difference, ``tex`` the local texture, ``ok`` usable samples
    inside the reference's field, ``clipped`` predicted from clipped reference samples,
    ``e`` the exposures (K, 1, 1)."""

    pred: torch.Tensor
    diff: torch.Tensor
    var: torch.Tensor
    tex: torch.Tensor
    ok: torch.Tensor
    clipped: torch.Tensor
    e: torch.Tensor

    def per_sample_var(self, config: HDRConfig) -> torch.Tensor:
        """Noise plus the prediction's own error, sample by sample."""
        return (self.var + (config.model_error * self.pred) ** 2
                + (config.texture_error * self.tex) ** 2 + 1e-12)

    def window_z(self, n: int, config: HDRConfig) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean difference over ``n x n`` windows of usable samples and its variance when
        the frame agrees: ``(d, sigma_d^2)``."""
        cnt = _box(self.ok, n).clamp(min=1e-3)
        d = _box(self.diff, n) / cnt
        sig2 = (_box(self.var * self.ok, n) / (cnt * n * n * cnt)
                + (config.model_error * _box(self.pred, n)) ** 2
                + (config.texture_error * _box(self.tex, n)) ** 2 + 1e-12)
        return d, sig2

    def window_chi(self, n: int, config: HDRConfig) -> torch.Tensor:
        """Mean squared normalised difference over ``n x n`` windows (about 1 where the
        samples agree one by one)."""
        cnt = _box(self.ok, n).clamp(min=1e-3)
        return _box(self.diff ** 2 / self.per_sample_var(config) * self.ok, n) / cnt


def residuals(y_n: torch.Tensor, rel: torch.Tensor, m_hr: torch.Tensor, scale: int,
              cfa: str, noise: NoiseLevels, usable: torch.Tensor, config: HDRConfig,
              inside: torch.Tensor | None = None,
              flow: torch.Tensor | None = None) -> Residuals:
    """Every frame against the reference frame's prediction (:func:`confidence`)."""
    h, w = y_n.shape[-2:]
    s = scale
    x0 = upsample(demosaic_malvar(y_n[0], cfa)[None].clamp(min=0), s)
    a = BurstOperator(m_hr, (3, h * s, w * s), s, cfa, flow=flow)
    pred = a(x0)[0]  # (K, h, w)
    mu = F.avg_pool2d(F.pad(x0, (s, s, s, s), mode="reflect"), 2 * s + 1, stride=1)
    sq = F.avg_pool2d(F.pad(x0 ** 2, (s, s, s, s), mode="reflect"), 2 * s + 1, stride=1)
    tex = a((sq - mu ** 2).clamp(min=0).sqrt())[0]
    sat0 = (~usable[0]).float()[None, None].expand(1, 3, h, w)
    sat0 = F.interpolate(sat0, scale_factor=s, mode="nearest") if s > 1 else sat0
    clipped = a(sat0)[0] > 0.01  # predicted from clipped reference samples
    if inside is None:
        inside = frames_inside(m_hr, h, w, s)
    ok = (usable & inside).float()
    e = rel.to(y_n).reshape(-1, 1, 1)
    var = noise.variance(e * pred) / e ** 2 + noise.variance(pred) / 2
    diff = y_n - pred
    diff = torch.where(clipped, diff.clamp(max=0), diff) * ok
    return Residuals(pred, diff, var, tex, ok, clipped, e)


def confidence(y_n: torch.Tensor, rel: torch.Tensor, m_hr: torch.Tensor, scale: int,
               cfa: str, noise: NoiseLevels, usable: torch.Tensor,
               config: HDRConfig = HDRConfig(),
               inside: torch.Tensor | None = None,
               flow: torch.Tensor | None = None) -> torch.Tensor:
    """Alignment confidence ``g`` (K, H, W) in [0, 1] on every frame's grid (1 for frame 0);
    ``inside``: :func:`frames_inside` when the caller has it.

    The reference alone predicts every frame: ``x_0`` = Malvar demosaic of ``y_0 / e_0``,
    bicubic upsampling, then ``y_hat_k = M D W_{P_k} x_0``. Over ``n x n`` windows of
    usable samples, the mean difference ``d = <y_k / e_k - y_hat_k>`` is compared with
    what it may be when the frame agrees with the reference:

    .. math::  \\sigma_d^2 = \\frac{\\langle v(e_k \\hat y_k) / e_k^2 + v(\\hat y_k) / 2
               \\rangle}{n^2} + (\\epsilon \\langle \\hat y_k \\rangle)^2
               + (\\kappa \\langle \\tau_k \\rangle)^2, \\qquad z = d / \\sigma_d

    the noise of both frames (the reference's halved by demosaicking), which averaging
    reduces, plus the prediction's own error, which it does not: relative (``epsilon``,
    ``model_error``) and proportional to the local texture ``tau`` (the standard
    deviation of ``x_0`` over ``(2s+1)^2`` pixels, brought to the frame; ``kappa``,
    ``texture_error``): demosaicking and upsampling blur edges. Then

    .. math::  g = \\exp(-\\tfrac12 \\max(|z| - t, 0)^2 / c^2)

    Where the reference is clipped it only says ``x >= 1``: there only a frame that sees
    less (``d < 0``) disagrees; conversely a clipped sample where the reference predicts
    less than 80 % of the white level (plus 3 sigma) is distrusted. With ``flow`` (moving
    objects' own displacements, in the prediction's warp), displaced samples must also
    agree one by one: the window mean of ``(y_k / e_k - y_hat_k)^2 / s^2`` (``s^2`` the
    per-sample terms above), about 1 when they do, multiplies ``g`` by
    ``exp(-((chi - c) / c)^2 / 2)`` beyond ``c = g_chi``: a displacement can match the
    local mean while misplacing the detail. Distrusted regions
    are widened by ``g_erode`` samples (a moving object is one region). On static
    synthetic scenes about 1 % of samples get ``g < 0.6``; where an object moved, most do
    (``tests/burst/test_hdr.py``).
    """
    return _confidence(y_n, rel, m_hr, scale, cfa, noise, usable, config, inside, flow)[0]


def _confidence(y_n: torch.Tensor, rel: torch.Tensor, m_hr: torch.Tensor, scale: int,
                cfa: str, noise: NoiseLevels, usable: torch.Tensor, config: HDRConfig,
                inside: torch.Tensor | None, flow: torch.Tensor | None,
                ) -> tuple[torch.Tensor, Residuals]:
    """:func:`confidence` and the residuals it was computed from."""
    r = residuals(y_n, rel, m_hr, scale, cfa, noise, usable, config, inside, flow)
    s, n = scale, config.g_window
    d, sig2 = r.window_z(n, config)
    z = d / sig2.sqrt()
    g = torch.exp(-0.5 * ((z.abs() - config.g_threshold).clamp(min=0) / config.g_width) ** 2)
    if flow is not None:
        # a displacement of its own can match the local mean while misplacing the detail:
        # where one was given, the samples must also agree one by one (mean of the squared
        # normalised residuals over the window, about 1 when they do)
        moved = displaced(flow, s)
        chi = r.window_chi(n, config)
        c = config.g_chi
        g_chi = torch.exp(-0.5 * ((chi - c).clamp(min=0) / c) ** 2)
        g = torch.where(moved, g * g_chi, g)
    # a clipped sample where the reference says the frame should be well below its white
    # level is an object that is not in the reference (it would give a false bound)
    clipped_k = (r.e * y_n >= WHITE) & ~r.clipped & (r.e * (r.pred + 3 * r.var.sqrt()) < 0.8)
    g = torch.where(clipped_k, torch.zeros_like(g), g)
    if config.g_erode > 0:  # a moving object is one region: distrust its whole footprint
        rad = config.g_erode
        g = -F.max_pool2d(-g[:, None], 2 * rad + 1, stride=1, padding=rad)[:, 0]
    g[0] = 1.0
    return g, r


def displaced(flow: torch.Tensor, scale: int) -> torch.Tensor:
    """(K, h, w) bool: raw samples whose footprint got a displacement of its own in
    ``flow`` (K, 2, s h, s w)."""
    return F.avg_pool2d(flow.abs().sum(1, keepdim=True).float(), scale)[:, 0] > 0


def frames_inside(m_hr: torch.Tensor, h: int, w: int, scale: int) -> torch.Tensor:
    """(K, h, w) bool: samples whose footprint lands inside the reference grid (the others
    see scene the reference does not show and are left out)."""
    from inversa.burst.reconstruct import _footprint_inside

    return torch.stack([_footprint_inside(m.double(), h, w, scale) for m in m_hr]) > 0


def saturation_bound(raw: torch.Tensor, rel: torch.Tensor, cfa: str, m_hr: torch.Tensor,
                     scale: int, trust: torch.Tensor, white: float = WHITE) -> torch.Tensor:
    """Lower bound (1, 3, sH, sW) on the radiance from the clipped samples: a sample of
    colour ``c`` at the white level in frame ``k`` says ``x_c >= white / e_k`` over its
    footprint. The bound is the largest over the frames, each brought to the reference
    grid by its motion, then closed morphologically (dilation then erosion over
    a window wider than the Bayer period) so that it fills the gaps between samples of one
    colour inside a clipped region without reaching past its edges. Only samples with
    ``trust`` (K, H, W) above 1/2 count (a clipped moving object says nothing about the
    reference). Where every frame clipped, this is all that is known."""
    h, w = raw.shape[-2:]
    s = scale
    per = ((raw >= white) & (trust > 0.5)).float()[:, None] * cfa_masks(cfa, h, w)[None]
    up = F.interpolate(per, scale_factor=s, mode="nearest") if s > 1 else per
    level = (white / rel.float()).reshape(-1, 1, 1, 1)
    b = (on_reference(up, m_hr) * level).amax(0, keepdim=True)
    r = max(s + s // 2, 1)  # the window 2r+1 covers the Bayer period of one colour (2s)
    closed = F.max_pool2d(b, 2 * r + 1, stride=1, padding=r)
    closed = -F.max_pool2d(-closed, 2 * r + 1, stride=1, padding=r)
    return torch.maximum(b, closed)


def _validate(burst: Burst, usable: torch.Tensor) -> None:
    if not usable.any():
        raise InputError("every pixel of every frame is saturated: there is no radiance to "
                         "recover (use shorter exposures)", source=burst.source or None,
                         field="raw")


@dataclass
class HDRInputs:
    """What every HDR method starts from (:func:`prepare_hdr`): the used frames divided by
    their exposures ``y`` (K', H, W), exposures ``gain``, motions ``m_hr``, data weights
    ``valid`` (usable, inside, times g), the ``merge`` start ``x0``, the noise levels, the
    raw frames, the samples to ``trust`` for the saturation bound, the moving objects'
    displacement ``flow`` (or None), the full-burst diagnostics for :class:`HDRResult`,
    the ``usable`` samples (``valid`` without g) and the objects' velocities ``paths``
    (the layered reconstruction's inputs, :mod:`inversa.burst.layered_hdr`)."""

    y: torch.Tensor
    gain: torch.Tensor
    m_hr: torch.Tensor
    valid: torch.Tensor
    x0: torch.Tensor
    noise: NoiseLevels
    raw: torch.Tensor
    trust: torch.Tensor
    cfa: str
    scale: int
    result: HDRResult  # x = x0 until a method fills it
    flow: torch.Tensor | None = None
    usable: torch.Tensor | None = None  # (K', H, W) usable and inside, without g
    # the objects' constant velocities (V, 2) found by the object motion's trajectories
    # (frame i shows the reference's object point q + i v at q); None unless
    # object_motion.trajectories is on and every frame was used
    paths: torch.Tensor | None = None


def trusted(y_n: torch.Tensor, rel: torch.Tensor, m_hr: torch.Tensor, cfa: str,
            noise: NoiseLevels, usable: torch.Tensor, inside: torch.Tensor,
            used: torch.Tensor, config: HDRConfig, record: dict | None = None,
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The confidence ``g``, with the moving objects' own motion when ``local_motion``:
    ``(g, trust, flow)``, ``trust`` the samples whose clipping may bound the reference
    (:func:`saturation_bound`; always the analytic test), ``flow`` (K, 2, sH, sW) or None.
    ``g`` is the learned confidence when ``config.g_model`` has weights. ``record``:
    :func:`~inversa.burst.local_motion.object_flow`'s."""
    s = config.scale
    g, r = _confidence(y_n, rel, m_hr, s, cfa, noise, usable, config, inside, None)
    flow = None
    if config.local_motion:
        flow = object_flow(y_n, rel, m_hr, s, cfa, g, inside & used[:, None, None],
                           config.object_motion, record=record)
    if flow is None:
        return _learned(g, r, y_n, None, config), g, None
    g_flow, r = _confidence(y_n, rel, m_hr, s, cfa, noise, usable, config, inside, flow)
    # the saturation bound follows the camera motion only: a sample that needed a motion
    # of its own does not bound the reference where P_k puts it
    moved = displaced(flow, s)
    trust = torch.where(moved, torch.minimum(g, g_flow), g_flow)
    return _learned(g_flow, r, y_n, moved, config), trust, flow


def _learned(g: torch.Tensor, r: Residuals, y_n: torch.Tensor, moved: torch.Tensor | None,
             config: HDRConfig) -> torch.Tensor:
    """The learned confidence (:mod:`inversa.burst.confidence_net`) when ``g_model`` names
    weights that exist, else the analytic ``g``."""
    from inversa.burst.confidence_net import confidence_features, has_confidence_net, load_confidence_net

    if not config.g_model or not has_confidence_net(config.g_model):
        return g
    net = load_confidence_net(config.g_model)
    with torch.no_grad():
        out = net.confidence(confidence_features(r, y_n, moved, g, config)).to(g)
    out[0] = 1.0
    return out


def prepare_hdr(burst: Burst, config: HDRConfig = HDRConfig(),
                noise: NoiseLevels | None = None,
                motions_hr: torch.Tensor | None = None,
                aligned: Alignment | None = None) -> HDRInputs:
    """Exposures, saturation masks, exposure-aware alignment (unless ``motions_hr`` is
    given, or ``aligned``: this burst's alignment by an earlier call with the same
    ``motion`` and ``align_candidates``), confidence ``g`` and the ``merge`` start:
    everything but the solve."""
    rel = relative_exposures(burst)
    raw = burst.raw.float()
    k, h, w = raw.shape
    s = config.scale
    sat = saturation_masks(raw, config.dilate)
    usable = ~sat
    _validate(burst, usable)
    lv = noise if noise is not None else estimate_noise_levels(raw[0])
    msgs: list[str] = []
    alignment = None
    used = torch.ones(k, dtype=torch.bool)
    if motions_hr is not None:
        m_hr = torch.as_tensor(motions_hr, dtype=torch.float64)
        from inversa.burst.align import hr_to_raw

        m_raw = hr_to_raw(m_hr, s)
    elif k == 1:
        m_hr = torch.eye(3, dtype=torch.float64)[None]
        m_raw = m_hr.clone()
    else:
        acfg = AlignConfig(model=config.motion, candidates=config.align_candidates)
        alignment = aligned if aligned is not None else \
            align_burst(alignment_frames(raw, rel), acfg)
        # frames of other exposures correlate less with the reference (noise, clipping):
        # only the overlap decides; g discounts whatever does not match
        used = alignment.overlap >= acfg.min_overlap
        used[0] = True
        bad = (~used).nonzero().flatten().tolist()
        if bad:
            msg = (f"frames {bad} do not overlap the reference enough to be aligned; "
                   "left out")
            msgs.append(msg)
            warnings.warn(msg, stacklevel=2)
        m_hr = alignment.to_hr(s)
        m_raw = alignment.matrices
    y_n = raw / rel.reshape(-1, 1, 1)
    inside = frames_inside(m_hr, h, w, s)
    record: dict = {}
    if config.confidence and config.method != "naive" and k > 1:
        g, trust, flow = trusted(y_n, rel, m_hr, burst.cfa, lv, usable, inside, used, config,
                                 record=record)
    else:
        g, trust, flow = torch.ones_like(y_n), torch.ones_like(y_n), None
    ew = exposure_weights(usable, rel, m_raw)
    idx = used.nonzero().flatten()
    yk, rk, mk, gk = y_n[idx], rel[idx], m_hr[idx], g[idx]
    fk = None if flow is None else flow[idx]
    uk = usable[idx] & inside[idx]
    x = merge(yk, burst.cfa, mk, s, noise=None, robust=False, frame_weights=rk,
              sample_weights=uk.float() * gk, saturated=~uk, flow=fk)
    result = HDRResult(x, alignment, lv, rel, sat, ew, g, used, msgs, flow)
    return HDRInputs(yk, rk, mk, uk.float() * gk, x, lv, raw[idx], trust[idx], burst.cfa, s,
                     result, fk, uk.float(), record.get("paths") if bool(used.all()) else None)


def reconstruct_hdr(burst: Burst, config: HDRConfig = HDRConfig(),
                    noise: NoiseLevels | None = None, motions_hr: torch.Tensor | None = None,
                    aligned: Alignment | None = None) -> HDRResult:
    """HDR radiance of the reference frame's scene from a bracketed raw burst (see the
    module docstring). ``noise=None``: estimated from the reference frame (blind);
    ``motions_hr`` (K, 3, 3): known frame -> reference motions in output pixels;
    ``aligned``: the burst's :class:`~inversa.burst.align.Alignment` already computed
    (:func:`prepare_hdr`), its frames left out as its overlaps say.

    Examples
    --------
    >>> from inversa.burst.synth import SynthConfig, synthesize_burst
    >>> img = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    >>> sb = synthesize_burst(img, SynthConfig(scale=2, frames=3, exposures=(1, 4, 0.25),
    ...                                        hdr_peak=4.0), seed=0)
    >>> reconstruct_hdr(sb.burst, HDRConfig(scale=2, method="merge")).x.shape
    torch.Size([1, 3, 64, 64])
    """
    if config.method == "learned":
        if not has_hdr_model(config.model):
            raise InputError(f"no weights {config.model!r} for the learned HDR "
                             "reconstruction; train them with `inversa train hdr` or use "
                             "--method map", field="method")
        scales = hdr_model(config.model).config.scales
        if config.scale not in scales:
            raise InputError(f"the learned HDR model {config.model!r} was trained for scales "
                             f"{list(scales)}, not {config.scale}; use --method map",
                             field="scale")
    if config.g_model and config.g_model != DEFAULT_G_MODEL:
        from inversa.burst.confidence_net import load_confidence_net

        load_confidence_net(config.g_model)  # a missing or corrupted file: say so now
    if config.layers:  # the velocities come from the object motion's trajectories
        motion = replace(config.object_motion, trajectories=True)
        inp = prepare_hdr(burst, replace(config, object_motion=motion), noise, motions_hr,
                          aligned)
        lay = _layered(inp, config)
        # as without layers (the same alignment: the trajectories change only g's test)
        one = prepare_hdr(burst, config, noise, motions_hr, aligned=inp.result.alignment)
        if not isinstance(lay, str):
            from inversa.burst.layered_hdr import blended

            one.result.x = finish(_one_image(one, config), one)
            inp.result.x = blended(lay, one.result.x)  # the one image outside the layers
            inp.result.velocities, inp.result.mattes = lay.velocities, lay.mattes
            inp.result.layer_weight = lay.weight
            return inp.result
        inp = one
        inp.result.warnings.append(lay)
    else:
        inp = prepare_hdr(burst, config, noise, motions_hr, aligned)
    inp.result.x = finish(_one_image(inp, config), inp)
    return inp.result


def _one_image(inp: HDRInputs, config: HDRConfig) -> torch.Tensor:
    """``config.method``'s reconstruction on the one-image model from the prepared data
    (before :func:`finish`)."""
    x = inp.x0
    if config.method == "map":
        from inversa.burst.reconstruct import ReconConfig, map_solve

        rc = ReconConfig(method="map", scale=inp.scale, prior=config.prior, lam=config.lam,
                         lam_factor=HDR_LAMBDA_FACTOR,
                         iterations=config.iterations, cg_iter=config.cg_iter,
                         robust=config.robust)
        h, w = inp.y.shape[-2:]
        a = BurstOperator(inp.m_hr, (3, h * inp.scale, w * inp.scale), inp.scale, inp.cfa,
                          flow=inp.flow)
        x = map_solve(inp.y[None], a, x, inp.noise, rc, inp.valid[None], gain=inp.gain)
    elif config.method == "learned":
        with torch.no_grad():
            x = learned_solve(hdr_model(config.model), inp)
    return x


def _layered(inp: HDRInputs, config: HDRConfig) -> LayeredResult | str:
    """The layered reconstruction (``config.layers``;
    :class:`~inversa.burst.layered_hdr.LayeredResult`), or why not when it finds no
    moving object to put on a layer."""
    from inversa.burst.layered_hdr import layered_hdr
    from inversa.burst.objects import find_objects

    found = find_objects(inp, config.layer_config)
    if found is None:
        why = ("frames were left out" if not bool(inp.result.used.all()) else
               "no object was found that moves at a constant velocity and that the frames "
               "tell apart from its surroundings")
        return f"layers: {why}; one-image reconstruction"
    return layered_hdr(inp, found, config, config.layer_config)


def learned_solve(net, inp: HDRInputs) -> torch.Tensor:
    """The unrolled network on the prepared data (differentiable: training uses it)."""
    return net(inp.y, inp.cfa, inp.m_hr, inp.scale, inp.noise, valid=inp.valid, x0=inp.x0,
               gain=inp.gain, flow=inp.flow)


def finish(x: torch.Tensor, inp: HDRInputs) -> torch.Tensor:
    """Non-negative, and at least what the trusted clipped samples say."""
    return torch.maximum(x.clamp(min=0), saturation_bound(inp.raw, inp.gain, inp.cfa,
                                                          inp.m_hr, inp.scale, inp.trust))


def hdr_model(name: str):
    """The learned HDR reconstruction's network (an :class:`~inversa.burst.lkr.LKRNet`),
    loaded once per process."""
    from inversa.burst.reconstruct import lkr_model

    return lkr_model(name)


def has_hdr_model(name: str = DEFAULT_MODEL) -> bool:
    from inversa.burst.lkr import has_weights

    return has_weights(name)


def default_hdr_method(scale: int, model: str = DEFAULT_MODEL) -> HDRMethod:
    """``learned`` when weights trained for ``scale`` exist (it beats ``map`` on the
    held-out benchmark at x1 and x2, docs/benchmarks.md), else ``map``: the burst
    reconstruction's rule (:func:`~inversa.burst.reconstruct.default_method`) with the HDR
    weights."""
    from inversa.burst.reconstruct import default_method

    return default_method(scale, model)


def mu_law(x: torch.Tensor, peak: float, mu: float = 5000.0) -> torch.Tensor:
    """Tone map of Kalantari and Ramamoorthi (2017), used to score HDR images:
    ``log(1 + mu x / peak) / log(1 + mu)`` with ``x / peak`` clipped to [0, 1]."""
    u = (x / peak).clamp(0, 1)
    return torch.log1p(mu * u) / math.log1p(mu)


def mu_psnr(x: torch.Tensor, gt: torch.Tensor, peak: float | None = None,
            border: int = 0) -> float:
    """PSNR (dB) between the mu-law tone maps of ``x`` (1, 3, H, W) or (3, H, W) and
    ``gt`` (3, H, W), both normalised by ``peak`` (default: the ground truth's maximum),
    ``border`` pixels excluded."""
    pk = float(gt.max()) if peak is None else peak
    d = mu_law(x[0] if x.dim() == 4 else x, pk) - mu_law(gt, pk)
    if border:
        d = d[:, border:-border, border:-border]
    return float(-10 * torch.log10((d ** 2).mean()))


__all__ = [
    "HDRConfig",
    "HDRInputs",
    "HDRResult",
    "alignment_frames",
    "confidence",
    "default_hdr_method",
    "displaced",
    "exposure_weights",
    "finish",
    "has_hdr_model",
    "learned_solve",
    "mu_law",
    "mu_psnr",
    "on_reference",
    "prepare_hdr",
    "reconstruct_hdr",
    "relative_exposures",
    "saturation_bound",
    "saturation_masks",
    "trusted",
]
