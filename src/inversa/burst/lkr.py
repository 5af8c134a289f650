"""The trainable burst reconstruction ("Lucas-Kanade reloaded", Lecouat, Ponce and Mairal,
ICCV 2021): the MAP problem of :mod:`inversa.burst.reconstruct` unrolled, with a learned
prior.

The joint problem on the image ``x`` and the motions ``p_k``

.. math::  \\min_{x, p} \\frac{1}{K} \\sum_k \\| W_k^{1/2}(y_k - U_{p_k} x) \\|^2
           + \\lambda \\phi_\\theta(x), \\qquad U_p = M D_s W_p

is relaxed by half-quadratic splitting,

.. math::  \\min_{x, z, p} \\frac{1}{K} \\sum_k \\| W_k^{1/2}(y_k - U_{p_k} z) \\|^2
           + \\frac{\\mu}{2} \\| z - x \\|^2 + \\lambda \\phi_\\theta(x),

and solved by block coordinate descent, unrolled for ``T`` stages. Stage ``t``:

1. motions: one Gauss-Newton (Lucas-Kanade) step on every ``p_k`` against the model
   prediction ``U_{p_k} x`` (:func:`inversa.burst.refine.refine_motions`, differentiable);
2. robust data weights ``W_k = (\\bar v / v(U x)) / (1 + (r / c_t)^2)``: inverse noise
   variance of the shot + read model (normalised at its median ``\\bar v``, at most 2)
   times a Cauchy weight of the normalised residual ``r`` (outliers: moving objects,
   misalignment); zero where saturated;
3. ``z``: the quadratic problem
   ``(\\sum_k U_k^T W_k U_k + \\mu_t I) z = \\sum_k U_k^T W_k y_k + \\mu_t x``,
   ``cg_iter`` conjugate-gradient steps warm-started from the previous ``z``, with
   ``mu_t = lambda_t \\bar v / sigma_t^2``;
4. ``x = D_\\theta(z, \\sigma_t)``: the proximal step of ``phi_theta``, a noise-conditioned
   U-Net (:class:`inversa.nets.UNetDenoiser`, started from the shipped denoiser) at the
   level ``log sigma_t = (1 - f_t) log sigma_max + f_t log sigma + d_t + b_t log K +
   c_t log s`` (``f_t = t / (T - 1)``, ``sigma = \\bar v^{1/2}`` the burst's noise): at
   the start, DPIR's geometric schedule; the offsets and the dependences on the number of
   frames and the scale are learned. With ``tone = mu > 0`` (HDR models) the step runs
   on the companded radiance, ``x = T^{-1}(D_\\theta(T(z), \\sigma_t T'(|z|)))``
   (:mod:`inversa.burst.companding`, peak ``1 / min_k e_k``), so that the network's
   precision is spent evenly on shadows and highlights.

Everything (network weights, ``d, b, c, lambda, c_t``) is trained end to end with an l1
loss on synthetic bursts (:mod:`inversa.train.burst`); gradients flow through the
conjugate gradients and the Gauss-Newton steps. The start ``x_0`` is the
kernel-regression ``merge``. Any number of frames works (``K = 1`` included); the model
is conditioned on the scale (trained at 2 and 4). Before training (denoiser prior, DPIR
schedule) it is the ``map`` method's plug-and-play HQS with fewer iterations.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from inversa.burst.companding import companded_prior
from inversa.burst.forward import BurstOperator, data_weights
from inversa.burst.merge import merge
from inversa.burst.refine import refine_motions
from inversa.camera.noise import NoiseLevels
from inversa.errors import InputError
from inversa.nets.denoiser import DenoiserConfig, UNetDenoiser
from inversa.nets.weights import save_weights, weights_path
from inversa.operators.base import LinearOperator
from inversa.solvers.linear import conjugate_gradient

MAX_WEIGHT = 2.0  # noise weights are normalised to 1 at the median variance, at most this
SIGMA_MAX = 49 / 255  # first prior level (before the learned offsets), as in DPIR
LAM0 = 0.06  # DPIR's lambda to start with (the map method's value)


@dataclass(frozen=True)
class LKRConfig:
    """Architecture of :class:`LKRNet`."""

    stages: int = 5  # T
    cg_iter: int = 5  # conjugate-gradient steps of the z-update per stage (warm started)
    refine_from: int = 1  # motion refinement (1 Gauss-Newton step) from this stage on
    width: int = 64  # prior network (UNetDenoiser) width
    blocks: int = 2
    scales: tuple[int, ...] = (2, 4)  # scales the model was trained for
    tone: float = 0.0  # mu of the companded domain of the prior step (0: linear)
    # tried, off: the prior level's local factor by the data's weight (precision_factor)
    local_sigma: float = 0.0  # its exponent (0: off)
    local_sigma_max: float = 4.0  # largest such factor

    def to_dict(self) -> dict:
        return {**asdict(self), "scales": list(self.scales)}


class LKRNet(nn.Module):
    """Unrolled burst reconstruction; see the module docstring.

    Examples
    --------
    >>> from inversa.burst.synth import SynthConfig, synthesize_burst
    >>> sb = synthesize_burst(torch.rand(3, 64, 64), SynthConfig(scale=2, frames=3), seed=0)
    >>> net = LKRNet(LKRConfig(stages=2, width=16, blocks=1))
    >>> x = net(sb.burst.raw, "RGGB", sb.motions, 2, sb.burst.noise)
    >>> x.shape
    torch.Size([1, 3, 64, 64])
    """

    def __init__(self, config: LKRConfig = LKRConfig()):
        super().__init__()
        self.config = config
        t = config.stages
        self.prior = UNetDenoiser(DenoiserConfig(width=config.width, blocks=config.blocks))
        # prior levels: DPIR's geometric schedule from SIGMA_MAX to the noise to start with,
        # plus learned per-stage offsets and K, s dependences
        self.register_buffer("frac", torch.linspace(0.0, 1.0, t) if t > 1 else torch.ones(1))
        self.sigma_offset = nn.Parameter(torch.zeros(t))
        self.sigma_k = nn.Parameter(torch.zeros(t))
        self.sigma_s = nn.Parameter(torch.zeros(t))
        self.log_lam = nn.Parameter(torch.full((t,), math.log(LAM0)))
        self.log_robust = nn.Parameter(torch.full((t,), math.log(3.0)))

    def param_groups(self) -> list[dict]:
        """Adam groups for training: the scalars learn 50x faster than the network."""
        scalars = [p for n, p in self.named_parameters() if not n.startswith("prior.")]
        return [{"params": list(self.prior.parameters()), "lr_scale": 1.0},
                {"params": scalars, "lr_scale": 50.0}]

    def init_prior(self, denoiser: UNetDenoiser) -> None:
        """Start the prior from a trained denoiser (same architecture)."""
        self.prior.load_state_dict(denoiser.state_dict())

    def stage_sigma(self, t: int, k: int, scale: int, sigma: float) -> torch.Tensor:
        """``log sigma_t = (1 - f_t) log SIGMA_MAX + f_t log sigma + d_t + b_t log K +
        c_t log s`` with ``f_t = t / (T - 1)``."""
        f = self.frac[t]
        return torch.exp((1 - f) * math.log(SIGMA_MAX) + f * math.log(max(sigma, 1e-3))
                         + self.sigma_offset[t] + self.sigma_k[t] * math.log(k)
                         + self.sigma_s[t] * math.log(scale))

    def precision_factor(self, a: BurstOperator, wgt: torch.Tensor) -> torch.Tensor:
        """Per-pixel factor (1, 1, sH, sW) of the prior's level by the local weight of the
        data: ``r = clip((median P / P)^e, 1 / r_max, r_max)``, ``P = mean_c (sum_k U_k^T
        W_k 1)`` (5 x 5 mean) the weight of the samples that see a pixel, ``e`` =
        ``local_sigma`` and ``r_max`` = ``local_sigma_max``. Where ``g`` distrusts frames
        (moving objects) or saturation removes them, ``z`` averages fewer samples than
        elsewhere, while ``sigma_t`` is one level for the whole image. No gain worth keeping
        at test time, either sign (``benchmarks/hdr_local_sigma.py``); off."""
        cfg = self.config
        with torch.no_grad():
            p = a.T(wgt.detach()).mean(dim=1, keepdim=True)
            p = torch.nn.functional.avg_pool2d(p, 5, stride=1, padding=2,
                                               count_include_pad=False)
            ref = p.flatten().median().clamp(min=1e-12)
            return (ref / p.clamp(min=1e-12 * float(ref))).pow(cfg.local_sigma) \
                .clamp(1.0 / cfg.local_sigma_max, cfg.local_sigma_max)

    def forward(self, raw: torch.Tensor, cfa: str, motions_hr: torch.Tensor, scale: int,
                noise: NoiseLevels, valid: torch.Tensor | None = None,
                x0: torch.Tensor | None = None,
                gain: torch.Tensor | None = None,
                flow: torch.Tensor | None = None,
                operator: LinearOperator | None = None) -> torch.Tensor:
        """Reconstruct one burst ``raw`` (K, h, w) -> ``(1, 3, s h, s w)``.

        ``motions_hr`` (K, 3, 3) frame -> reference in high-resolution pixels (from the
        aligner), refined inside; ``valid`` (K, h, w) optional sample mask (tiles,
        frames left out, HDR weights); ``x0`` the start (default: ``merge``); ``gain``
        (K,) exposures ``raw`` was divided by (HDR, see
        :func:`~inversa.burst.forward.data_weights`); ``flow`` (K, 2, s h, s w) a
        displacement on top of the motions (moving objects, HDR). ``operator``: a forward
        model to use as it is, in every stage, instead of the burst model of the motions
        (no motion refinement; ``x0`` required), whose input is ``L`` images of three
        channels side by side, ``(1, 3 L, s h, s w)`` (a layered scene,
        :class:`~inversa.burst.layered.LayeredBurstOperator`): the prior step denoises
        each apart, and the result is the ``L`` images.
        """
        cfg = self.config
        k, h, w = raw.shape
        s = scale
        m = motions_hr.to(torch.float64)
        y = raw[None].float()
        if operator is not None and x0 is None:
            raise ValueError("a given operator needs a start x0 of its input's shape")
        if x0 is None:
            with torch.no_grad():
                x0 = merge(raw.float(), cfa, m, s, noise, sample_weights=valid, flow=flow)
        x = x0.float().clamp(min=0)
        z = x
        vmask = torch.ones_like(y) if valid is None else valid[None].float()
        peak = 1.0 if gain is None else float(1 / gain.min())  # of the companded prior
        sigma = None
        for t in range(cfg.stages):
            if operator is not None:
                a = operator
            else:
                if t >= cfg.refine_from and k > 1:
                    m_new = refine_motions(x, raw, cfa, m, s, iterations=1, differentiable=True,
                                           dtype=torch.float32)
                    # a degenerate step (no usable sample left in a frame) keeps the motion
                    ok = torch.isfinite(m_new).all(dim=-1).all(dim=-1)
                    m = torch.where(ok[:, None, None], m_new, m.to(m_new.dtype))
                a = BurstOperator(m, (3, h * s, w * s), s, cfa, flow=flow)
                a.warp.keep_graph = True  # one sampling pattern for the whole stage
            # bounded, so that dark pixels (or a read level estimated as zero) do not
            # dominate the data term
            wgt, ref_var = data_weights(a(x).detach(), y, noise,
                                        width=torch.exp(self.log_robust[t]), cap=MAX_WEIGHT,
                                        gain=gain)
            wgt = wgt * vmask
            if sigma is None:
                sigma = math.sqrt(ref_var)
            sig_t = self.stage_sigma(t, k, s, sigma)
            mu = torch.exp(self.log_lam[t]) * ref_var / sig_t ** 2
            rhs = a.T(wgt * y) + mu * x

            def normal(v: torch.Tensor, a=a, wgt=wgt, mu=mu) -> torch.Tensor:
                return a.T(wgt * a(v)) + mu * v

            z = conjugate_gradient(normal, rhs, z, max_iter=cfg.cg_iter, tol=0.0)
            level = sig_t * self.precision_factor(a, wgt) if cfg.local_sigma != 0 else sig_t
            layers = z.shape[1] // 3  # the images side by side, denoised as a batch
            zb = z.reshape(layers, 3, *z.shape[-2:])
            if cfg.tone > 0:
                x = companded_prior(self.prior, zb, level, cfg.tone, peak)
            else:
                x = self.prior(zb, level if level.dim() == 4 else level.reshape(1))
            x = x.reshape(z.shape)
        return x


def save_lkr(model: LKRNet, path: str | Path) -> None:
    """Write the weights (float16) and architecture, atomically."""
    save_weights(model, model.config.to_dict(), Path(path))


def _path(name_or_path: str | Path) -> Path:
    """A ``.pt`` path as given, else the shipped weights of that name."""
    p = Path(name_or_path)
    return p if p.suffix == ".pt" else weights_path(str(name_or_path))


def load_lkr(name_or_path: str | Path = "burst_lkr",
             device: str | torch.device = "cpu") -> LKRNet:
    """Load a shipped (by name) or saved (by path) :class:`LKRNet`, ready for inference;
    never touches the network."""
    path = _path(name_or_path)
    if not path.exists():
        raise InputError("weights of the learned burst model not found; train them with "
                         "`inversa train burst`", source=str(path))
    blob = torch.load(path, map_location="cpu", weights_only=True)
    fields = set(LKRConfig.__dataclass_fields__)
    cfg = {k: v for k, v in blob["config"].items() if k in fields}
    cfg["scales"] = tuple(cfg.get("scales", (2, 4)))
    net = LKRNet(LKRConfig(**cfg))
    net.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return net.eval().requires_grad_(False).to(device)


def trainable_lkr(name_or_path: str | Path, **changes) -> LKRNet:
    """Saved weights (name or ``.pt``) as a model to fine-tune: in training mode, with
    gradients, its architecture kept except the fields in ``changes`` that the weights
    do not fix (``scales``, ``tone``)."""
    base = load_lkr(name_or_path)
    model = LKRNet(dataclasses.replace(base.config, **changes))
    model.load_state_dict(base.state_dict())
    return model.train().requires_grad_(True)


def has_weights(name_or_path: str | Path = "burst_lkr") -> bool:
    """Whether :func:`load_lkr` would find these weights."""
    return _path(name_or_path).exists()
