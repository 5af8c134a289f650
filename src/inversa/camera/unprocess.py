"""Unprocessing: display sRGB -> plausible linear camera RGB (Brooks et al. 2019).

The inverse of :func:`inversa.camera.isp.render`, with random camera parameters so that
ordinary photos become realistic raw training data:

1. inverse tone curve ``x = 1/2 - sin(asin(1 - 2y)/3)``;
2. inverse sRGB transfer (linear sRGB);
3. linear sRGB -> camera RGB with ``C^{-1} = M_{xyz->cam} M_{rgb->xyz}`` (rows normalised
   so that grey stays grey), where ``M_{xyz->cam}`` is a random convex combination of the
   colour matrices of four real cameras (the set published with the paper);
4. inverse white-balance and brightening gains ``g = k (r, 1, b)`` with
   ``r ~ U(1.9, 2.4)``, ``b ~ U(1.5, 1.9)``, ``1/k ~ N(0.8, 0.1)``, *with highlight
   protection*: with ``t = (max(mean_c x - 0.9, 0) / 0.1)^2`` the applied factor is
   ``max(t + (1 - t)/g, 1/g)``, so bright pixels are not pulled below saturation in a way
   no real sensor would produce.

The result is in [0, 1]; the returned :class:`ISPParams` (``wb = g``, ``ccm = C``) renders
it back to the input, exactly where no highlight protection or clipping occurred.
"""

from __future__ import annotations

import torch

from inversa.camera.isp import ISPParams, apply_ccm, inverse_smoothstep, srgb_degamma

# XYZ -> camera matrices of four real cameras (Brooks et al. 2019, unprocessing code)
XYZ2CAMS = torch.tensor([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
], dtype=torch.float64)
# linear sRGB (D65) -> XYZ
RGB2XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]], dtype=torch.float64)


def cam2rgb_from_xyz2cam(xyz2cam: torch.Tensor) -> torch.Tensor:
    """Camera RGB -> linear sRGB from an XYZ -> camera matrix (rows of rgb->cam sum to 1)."""
    rgb2cam = xyz2cam.double() @ RGB2XYZ
    rgb2cam = rgb2cam / rgb2cam.sum(dim=1, keepdim=True)
    return torch.linalg.inv(rgb2cam)


def random_ccm(generator: torch.Generator | None = None) -> torch.Tensor:
    """A random camera RGB -> linear sRGB matrix (3, 3), float64."""
    w = torch.rand(len(XYZ2CAMS), generator=generator, dtype=torch.float64) + 1e-6
    xyz2cam = (w[:, None, None] * XYZ2CAMS).sum(0) / w.sum()
    return cam2rgb_from_xyz2cam(xyz2cam)


def random_gains(generator: torch.Generator | None = None) -> torch.Tensor:
    """White-balance and brightening gains ``k (r, 1, b)`` (see module docstring)."""
    u = torch.rand(2, generator=generator, dtype=torch.float64)
    red, blue = 1.9 + 0.5 * u[0], 1.5 + 0.4 * u[1]
    inv_k = 0.8 + 0.1 * float(torch.randn((), generator=generator, dtype=torch.float64))
    k = 1.0 / max(inv_k, 0.4)
    return torch.tensor([red * k, k, blue * k], dtype=torch.float64)


def safe_invert_gains(x: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """Divide by ``gains`` with highlight protection (step 4 of the module docstring)."""
    inv = (1.0 / gains).to(x).reshape(3, 1, 1)
    gray = x.mean(dim=-3, keepdim=True)
    t = ((gray - 0.9).clamp(min=0) / 0.1) ** 2
    return x * torch.maximum(t + (1 - t) * inv, inv)


def unprocess(srgb: torch.Tensor, generator: torch.Generator | None = None,
              ccm: torch.Tensor | None = None, gains: torch.Tensor | None = None,
              ) -> tuple[torch.Tensor, ISPParams]:
    """sRGB ``(..., 3, H, W)`` in [0, 1] -> (linear camera RGB, the parameters to render it).

    Examples
    --------
    >>> from inversa.camera.isp import render
    >>> g = torch.Generator().manual_seed(0)
    >>> x = 0.8 * torch.rand(3, 8, 8, generator=g)
    >>> lin, params = unprocess(x, g)
    >>> bool((render(lin, params) - x).abs().max() < 1e-4)
    True
    """
    ccm = random_ccm(generator) if ccm is None else torch.as_tensor(ccm, dtype=torch.float64)
    gains = random_gains(generator) if gains is None else torch.as_tensor(gains,
                                                                          dtype=torch.float64)
    x = srgb_degamma(inverse_smoothstep(srgb))
    x = apply_ccm(x, torch.linalg.inv(ccm).to(x))
    x = safe_invert_gains(x.clamp(0, 1), gains).clamp(0, 1)
    return x, ISPParams(wb=tuple(gains.tolist()), ccm=tuple(map(tuple, ccm.tolist())))
