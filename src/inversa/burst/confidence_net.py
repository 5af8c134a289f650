"""A learned alignment confidence ``g`` for HDR bursts: a small network that corrects the
analytic test of :func:`inversa.burst.hdr.confidence` sample by sample.

The analytic ``g`` asks whether a window of samples agrees with the reference frame's
prediction, measured against the noise. It has to pick one window and one threshold for
every situation: on the training bursts, replacing it by the truth (a sample is trusted
where the point its motion puts it on shows what it shows) gains 1.0 dB in the moving
regions at x2 (about half from samples it distrusts wrongly, half from ones it trusts
wrongly) and 0.4 at x1, while the true displacements with the analytic ``g`` gain nothing
(``benchmarks/hdr_bottleneck.py``). The network sees, for every sample of every frame,
the evidence the analytic test summarises, at two scales:

- the mean normalised difference ``z`` and the mean squared normalised difference
  ``chi`` over 3 x 3 and 7 x 7 windows, and the sample's own normalised difference;
- whether the sample has a displacement of its own, whether its prediction comes from
  clipped reference samples, whether it is clipped itself, its exposure (log2, relative
  to the reference), whether it is usable, the local texture relative to the signal;
- the analytic ``g``,

compressed (``asinh``, ``log1p``), and outputs ``logit g = logit g_analytic + N(f)``: three
3 x 3 convolutions (the last dilated, a 9 x 9 view) and a 1 x 1 output, about 11 k
parameters, whose last layer starts at zero so that an untrained network is the analytic
``g``. It is trained (``inversa train hdr-confidence``) with a binary cross-entropy against
the true ``g`` of synthetic bracketed bursts of the training photographs, prepared exactly
as at inference (estimated camera motions and object displacements). The truth is
geometric (:func:`inversa.burst.truth.true_confidence`: the point the motion puts a
sample on is within half a pixel of the true one). A photometric truth (the sample's model
error is below its noise, :func:`inversa.burst.truth.photometric_confidence`) would not
ask the network to reject misplaced samples that show the right value, but a network
trained on it did worse in the moving regions (``benchmarks/hdr_g_target.py``).

The learned ``g`` weighs the data term only: the saturation bound (which clipped samples
say the radiance is at least) keeps the analytic test and its hard rules, since one
wrongly trusted clipped sample raises a pixel by the whole bracket.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn

from inversa.burst.hdr import (
    DEFAULT_G_MODEL,
    WHITE,
    HDRConfig,
    HDRResult,
    Residuals,
    displaced,
    frames_inside,
    prepare_hdr,
    residuals,
)
from inversa.camera.burstio import Burst
from inversa.errors import InputError
from inversa.nets.weights import save_weights, weights_path

FEATURES = 12
USABLE = 9  # the feature channel that marks usable samples inside the reference's field


def confidence_features(r: Residuals, y_n: torch.Tensor, flow_moved: torch.Tensor | None,
                        g: torch.Tensor, config: HDRConfig) -> torch.Tensor:
    """(K, 12, h, w) inputs of the network from the residuals ``r``
    (:class:`~inversa.burst.hdr.Residuals`), the normalised frames ``y_n``, the samples with
    a displacement of their own ``flow_moved`` (K, h, w) bool or None, and the analytic
    ``g``."""
    feats = []
    for n in (3, 7):
        d, sig2 = r.window_z(n, config)
        feats += [torch.asinh(d / sig2.sqrt() / 2), torch.log1p(r.window_chi(n, config))]
    one = torch.asinh(r.diff / r.per_sample_var(config).sqrt() / 2)
    moved = flow_moved.to(y_n) if flow_moved is not None else torch.zeros_like(y_n)
    clipped_k = ((r.e * y_n >= WHITE) & ~r.clipped).to(y_n)
    log_e = (torch.log2(r.e) / 4).expand_as(y_n)
    tex = torch.log(r.tex / (r.pred.abs() + 1e-3) + 1e-3) / 4
    f = torch.stack([*feats, one, moved, r.clipped.to(y_n), clipped_k, log_e, r.ok, tex, g], 1)
    return f.float()


def analytic_evidence(burst: Burst, config: HDRConfig,
                      ) -> tuple[torch.Tensor, HDRResult, torch.Tensor]:
    """The network's inputs for every frame of ``burst`` (K, 12, h, w), made as
    ``inversa hdr`` makes them with the analytic ``g`` (``config.g_model`` is ignored):
    also the prepared result (its ``confidence`` the analytic ``g``) and the frame ->
    reference motions (K, 3, 3) in high-resolution pixels. For training and tests."""
    config = replace(config, g_model=None)
    s = config.scale
    res = prepare_hdr(burst, config).result
    h, w = burst.raw.shape[-2:]
    m_hr = res.alignment.to_hr(s) if res.alignment is not None else \
        torch.eye(3, dtype=torch.float64)[None]
    y_n = burst.raw.float() / res.exposures.reshape(-1, 1, 1)
    r = residuals(y_n, res.exposures, m_hr, s, burst.cfa, res.noise, ~res.saturated, config,
                  frames_inside(m_hr, h, w, s), res.flow)
    moved = displaced(res.flow, s) if res.flow is not None else None
    return confidence_features(r, y_n, moved, res.confidence, config), res, m_hr


class ConfidenceNet(nn.Module):
    """``logit g = logit g_analytic + N(f)`` (module docstring); ``f`` (B, 12, h, w) with the
    analytic ``g`` last."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        self.width = width
        self.body = nn.Sequential(
            nn.Conv2d(FEATURES, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(width, 1, 1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1, h, w)."""
        g0 = f[:, -1:].clamp(1e-3, 1 - 1e-3)
        return torch.logit(g0) + self.body(f)

    def confidence(self, f: torch.Tensor) -> torch.Tensor:
        """``g`` (B, h, w) in [0, 1]."""
        return torch.sigmoid(self(f))[:, 0]


def _path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    return p if p.suffix == ".pt" else weights_path(str(name_or_path))


def has_confidence_net(name_or_path: str | Path = DEFAULT_G_MODEL) -> bool:
    return _path(name_or_path).exists()


def save_confidence_net(net: ConfidenceNet, path: str | Path) -> None:
    save_weights(net, {"width": net.width, "features": FEATURES}, Path(path))


@lru_cache(maxsize=4)
def load_confidence_net(name_or_path: str | Path = DEFAULT_G_MODEL) -> ConfidenceNet:
    """The learned confidence (shipped by name, or a ``.pt``), ready for inference."""
    path = _path(name_or_path)
    if not path.exists():
        raise InputError("weights of the learned confidence not found; train them with "
                         "`inversa train hdr-confidence`", source=str(path))
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob["config"].get("features") != FEATURES:
            raise ValueError("feature count")
        net = ConfidenceNet(int(blob["config"]["width"]))
        net.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    except Exception as exc:  # corrupted or another kind of file
        raise InputError(f"not a learned-confidence weights file ({exc})",
                         source=str(path)) from None
    return net.eval().requires_grad_(False)


__all__ = [
    "DEFAULT_G_MODEL",
    "FEATURES",
    "USABLE",
    "ConfidenceNet",
    "confidence_features",
    "has_confidence_net",
    "load_confidence_net",
    "save_confidence_net",
]
