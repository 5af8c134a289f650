"""ADI geometry: where the star is, where a sky position lands in each frame, derotation.

Conventions (docs/formats.md, DESIGN.md): ``x`` is the column, ``y`` the row; the star is
at ``(cy, cx) = (ny // 2, nx // 2)``; position angles ``theta`` in degrees,
counter-clockwise from +x with y increasing upwards when the image is shown with its
origin at the bottom (``x = cx + r cos theta``, ``y = cy + r sin theta``). A source at
position angle ``theta`` in the derotated image sits at ``theta - angles[t]`` in frame
``t`` (vip-hci's convention): derotating frame ``t`` turns it by ``+angles[t]``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def centre(shape: tuple[int, ...]) -> tuple[int, int]:
    """Star position ``(cy, cx)`` for frames of shape ``(..., ny, nx)``.

    >>> centre((48, 128, 127))
    (64, 63)
    """
    return shape[-2] // 2, shape[-1] // 2


def polar_grid(shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Separation (pixels) and position angle (degrees, in [0, 360)) of every pixel."""
    cy, cx = centre(shape)
    y, x = torch.meshgrid(torch.arange(shape[-2], dtype=torch.float64) - cy,
                          torch.arange(shape[-1], dtype=torch.float64) - cx, indexing="ij")
    return torch.hypot(x, y), torch.rad2deg(torch.atan2(y, x)) % 360


def to_xy(sep: float | torch.Tensor, pa: float | torch.Tensor, shape: tuple[int, ...]
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates of separation ``sep`` and position angle ``pa`` (degrees).

    >>> x, y = to_xy(10.0, 90.0, (64, 64))
    >>> round(float(x), 6), round(float(y), 6)
    (32.0, 42.0)
    """
    cy, cx = centre(shape)
    sep = torch.as_tensor(sep, dtype=torch.float64)
    th = torch.deg2rad(torch.as_tensor(pa, dtype=torch.float64))
    return cx + sep * torch.cos(th), cy + sep * torch.sin(th)


def to_polar(x: float | torch.Tensor, y: float | torch.Tensor, shape: tuple[int, ...]
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Separation and position angle (degrees, [0, 360)) of pixel coordinates."""
    cy, cx = centre(shape)
    dx = torch.as_tensor(x, dtype=torch.float64) - cx
    dy = torch.as_tensor(y, dtype=torch.float64) - cy
    return torch.hypot(dx, dy), torch.rad2deg(torch.atan2(dy, dx)) % 360


def trajectory(x: torch.Tensor, y: torch.Tensor, angles: torch.Tensor, shape: tuple[int, ...]
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame coordinates ``(..., T)`` of derotated-image positions ``(x, y)`` (any shape).

    A rotation by ``-angles[t]`` about the star:
    ``x_t = cx + cos(a_t) dx + sin(a_t) dy``, ``y_t = cy - sin(a_t) dx + cos(a_t) dy``.

    >>> xt, yt = trajectory(torch.tensor(42.), torch.tensor(32.), torch.tensor([0., 90.]),
    ...                     (64, 64))
    >>> [round(v, 6) for v in xt.tolist()], [round(v, 6) for v in yt.tolist()]
    ([42.0, 32.0], [32.0, 22.0])
    """
    cy, cx = centre(shape)
    a = torch.deg2rad(angles.to(torch.float64))
    c, s = torch.cos(a), torch.sin(a)
    dx = (x.to(torch.float64) - cx)[..., None]
    dy = (y.to(torch.float64) - cy)[..., None]
    return cx + c * dx + s * dy, cy - s * dx + c * dy


def rotate_frames(cube: torch.Tensor, angles: torch.Tensor, mode: str = "bicubic"
                  ) -> torch.Tensor:
    """Turn frame ``t`` of ``cube`` (T, H, W) by ``angles[t]`` degrees counter-clockwise
    about the star: ``out_t(p) = cube_t(R(-angles[t]) p)`` (derotation; pass ``-angles``
    to rotate the other way). NaNs are treated as 0; pixels coming from outside are 0."""
    _, h, w = cube.shape
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                          torch.arange(w, dtype=torch.float64), indexing="ij")
    xt, yt = trajectory(x, y, angles.to(torch.float64).cpu(), cube.shape)  # (H, W, T)
    gx = (2 * xt / max(w - 1, 1) - 1).permute(2, 0, 1)
    gy = (2 * yt / max(h - 1, 1) - 1).permute(2, 0, 1)
    grid = torch.stack([gx, gy], dim=-1).to(cube.device, torch.float32)
    src = torch.nan_to_num(cube.to(torch.float32), nan=0.0)[:, None]
    out = F.grid_sample(src, grid, mode=mode, padding_mode="zeros", align_corners=True)
    return out[:, 0].to(cube.dtype)


def derotate(cube: torch.Tensor, angles: torch.Tensor, mode: str = "bicubic") -> torch.Tensor:
    """Frames turned by ``+angles[t]``: a source fixed on the sky lines up across frames."""
    return rotate_frames(cube, angles, mode)


def fourier_shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``img`` moved by ``(dx, dy)`` pixels (exact for band-limited images, periodic)."""
    ny, nx = img.shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.fftfreq(nx)[None, :]
    ph = np.exp(-2j * math.pi * (fx * dx + fy * dy))
    return np.real(np.fft.ifft2(np.fft.fft2(img) * ph))
