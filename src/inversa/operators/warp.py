"""Sub-pixel warps (translation, affine, homography, rotation) with exact adjoints.

A warp resamples the image at transformed coordinates:

.. math::  (W x)(q) = \\sum_{p} w(T q - p) \\, x(p)

where ``q = (x, y)`` is an output pixel (x the column, y the row), ``T`` the transform (a
3x3 homogeneous matrix mapping output coordinates to input coordinates), and ``w`` the
bilinear or bicubic (Keys, a = -0.5) interpolation weights. Outside the image the signal
is zero. Forward is a gather with weights, the adjoint the matching scatter-add, so the
adjoint is exact. Everything is torch code, differentiable in ``x`` *and* in the transform
parameters (Lucas-Kanade uses that). A batch of transforms ``(B, 3, 3)`` warps each image
of the batch with its own matrix.

An optional displacement field ``u`` (B, 2, H_out, W_out) adds a per-pixel offset to the
transform, ``(W x)(q) = sum_p w(T q + u(q) - p) x(p)``: a dense motion (optical flow)
on top of the global one, for scene parts that move on their own. Still a gather with
fixed weights, so the adjoint stays exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from inversa.operators.base import LinearOperator


def _keys(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    t = t.abs()
    return torch.where(t <= 1, (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1,
                       torch.where(t < 2, a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a,
                                   torch.zeros_like(t)))


def _taps(p: torch.Tensor, n: int, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer sample positions and weights along one axis: shapes (..., taps)."""
    if method == "bilinear":
        p0 = torch.floor(p)
        f = (p - p0).unsqueeze(-1)
        idx = p0.unsqueeze(-1) + torch.arange(2, device=p.device, dtype=p.dtype)
        w = torch.cat([1 - f, f], dim=-1)
    elif method == "bicubic":
        p0 = torch.floor(p) - 1
        idx = p0.unsqueeze(-1) + torch.arange(4, device=p.device, dtype=p.dtype)
        w = _keys(p.unsqueeze(-1) - idx)
    else:
        raise ValueError(f"interpolation must be 'bilinear' or 'bicubic', got {method!r}")
    ok = (idx >= 0) & (idx <= n - 1)
    return idx.clamp(0, n - 1).long(), w * ok


class Warp(LinearOperator):
    """Warp ``(B, C, H, W)`` images by a homography ``T`` (output -> input coordinates).

    Examples
    --------
    >>> W = Warp.translation(0.5, -1.25, (1, 16, 16))
    >>> W(torch.rand(1, 1, 16, 16)).shape
    torch.Size([1, 1, 16, 16])
    """

    def __init__(self, matrix: torch.Tensor, shape: Sequence[int],
                 out_hw: Sequence[int] | None = None, interpolation: str = "bilinear",
                 flow: torch.Tensor | None = None):
        m = torch.as_tensor(matrix)
        if m.shape[-2:] != (3, 3):
            raise ValueError(f"transform must be (3, 3) or (B, 3, 3), got {tuple(m.shape)}")
        self.matrix = m if m.dim() == 3 else m.unsqueeze(0)
        self.interpolation = interpolation
        self.in_shape = tuple(shape)
        oh, ow = tuple(out_hw) if out_hw is not None else self.in_shape[-2:]
        self.out_shape = (*self.in_shape[:-2], oh, ow)
        if flow is not None:
            flow = torch.as_tensor(flow)
            if flow.dim() != 4 or flow.shape[1] != 2 or tuple(flow.shape[-2:]) != (oh, ow):
                raise ValueError(f"flow must be (B, 2, {oh}, {ow}), got {tuple(flow.shape)}")
            if flow.shape[0] != self.matrix.shape[0] and self.matrix.shape[0] != 1:
                raise ValueError(f"{flow.shape[0]} flow fields for {self.matrix.shape[0]} "
                                 "transforms")
        self.flow = flow

    def positions(self, device=None, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        """Input coordinates ``T q + u(q)`` of every output pixel (row-major): x, y, (B, N)
        each."""
        oh, ow = self.out_shape[-2:]
        ys, xs = torch.meshgrid(torch.arange(oh, device=device, dtype=dtype),
                                torch.arange(ow, device=device, dtype=dtype), indexing="ij")
        q = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones_like(xs).reshape(-1)])
        p = self.matrix.to(device=device, dtype=dtype) @ q  # (B, 3, N)
        px, py = p[:, 0] / p[:, 2], p[:, 1] / p[:, 2]
        if self.flow is not None:
            u = self.flow.to(device=device, dtype=dtype).flatten(2)  # (B', 2, N)
            px, py = px + u[:, 0], py + u[:, 1]
        return px, py

    # -- constructors ----------------------------------------------------------
    @classmethod
    def translation(cls, tx: float | torch.Tensor, ty: float | torch.Tensor,
                    shape: Sequence[int], **kw) -> Warp:
        """``(W x)(q) = x(q + t)``: samples the input at ``(x + tx, y + ty)``."""
        tx, ty = torch.as_tensor(tx, dtype=torch.float64), torch.as_tensor(ty, dtype=torch.float64)
        tx, ty = torch.broadcast_tensors(tx.reshape(-1), ty.reshape(-1))
        m = torch.eye(3, dtype=torch.float64).repeat(tx.numel(), 1, 1)
        m[:, 0, 2], m[:, 1, 2] = tx, ty
        return cls(m, shape, **kw)

    @classmethod
    def affine(cls, a: torch.Tensor, shape: Sequence[int], **kw) -> Warp:
        """``(W x)(q) = x(A q + b)`` with ``a = [A | b]`` of shape (2, 3) or (B, 2, 3)."""
        a = torch.as_tensor(a)
        a = a if a.dim() == 3 else a.unsqueeze(0)
        last = torch.tensor([0.0, 0.0, 1.0], dtype=a.dtype).expand(a.shape[0], 1, 3)
        return cls(torch.cat([a, last], dim=1), shape, **kw)

    @classmethod
    def homography(cls, h: torch.Tensor, shape: Sequence[int], **kw) -> Warp:
        """``(W x)(q) = x(pi(H [q; 1]))`` with ``pi(u, v, w) = (u / w, v / w)``."""
        return cls(torch.as_tensor(h), shape, **kw)

    # -- sampling pattern --------------------------------------------------------
    def _pattern(self, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices and weights of the interpolation taps, cached while the transform is a
        constant (not when it requires grad: Lucas-Kanade differentiates through it),
        unless ``keep_graph`` was set: then the pattern, with its autograd graph, is reused
        by every call on this instance (an operator built for one forward pass)."""
        if not self.__dict__.get("keep_graph", False) and (
                self.matrix.requires_grad or (torch.is_grad_enabled() and self.matrix.grad_fn)):
            return self._compute_pattern(device, dtype)
        key = (device, dtype)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache.clear()
            cache[key] = self._compute_pattern(device, dtype)
        return cache[key]

    def _compute_pattern(self, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = self.in_shape[-2:]
        px, py = self.positions(device, dtype)
        ix, wx = _taps(px, w, self.interpolation)
        iy, wy = _taps(py, h, self.interpolation)
        idx = (iy.unsqueeze(-1) * w + ix.unsqueeze(-2)).flatten(-2)  # (B, N, T)
        wts = (wy.unsqueeze(-1) * wx.unsqueeze(-2)).flatten(-2)
        return idx, wts

    def _check_batch(self, b: int) -> None:
        nt = self.matrix.shape[0] if self.flow is None else max(self.matrix.shape[0],
                                                                 self.flow.shape[0])
        if nt != 1 and nt != b:
            raise ValueError(f"{nt} transforms for a batch of {b} images")

    # -- fast path: the same bilinear warp through torch's grid sampler ----------------
    def _fast(self, v: torch.Tensor) -> bool:
        """Bilinear, no autograd graph to build: ``grid_sample`` computes the same
        interpolation (zero outside, ``align_corners=True`` puts pixel centres on the
        integers) and its input-gradient kernel is the exact adjoint, several times
        faster than the gather/scatter below (which stays for differentiation)."""
        if self.interpolation != "bilinear" or min(self.in_shape[-2:]) < 2:
            return False
        m = self.matrix
        return not (torch.is_grad_enabled()
                    and (v.requires_grad or m.requires_grad or m.grad_fn is not None))

    def _grid(self, device, dtype) -> torch.Tensor:
        key = ("grid", device, dtype)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            h, w = self.in_shape[-2:]
            oh, ow = self.out_shape[-2:]
            with torch.no_grad():
                px, py = self.positions(device, torch.float64)
            gx = 2 * px / (w - 1) - 1
            gy = 2 * py / (h - 1) - 1
            cache[key] = torch.stack([gx, gy], -1).reshape(-1, oh, ow, 2).to(dtype)
        return cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        self._check_batch(b)
        if self._fast(x):
            grid = self._grid(x.device, x.dtype)
            nb = max(b, grid.shape[0])
            return torch.nn.functional.grid_sample(
                x.expand(nb, *x.shape[1:]), grid.expand(nb, -1, -1, -1), mode="bilinear",
                padding_mode="zeros", align_corners=True)
        idx, wts = self._pattern(x.device, x.dtype)
        nb = max(b, idx.shape[0])
        flat = x.reshape(b, c, -1).expand(nb, c, -1)
        n, t = idx.shape[1:]
        g = torch.gather(flat, 2, idx.reshape(-1, 1, n * t).expand(nb, c, n * t))
        out = (g.reshape(nb, c, n, t) * wts.unsqueeze(1)).sum(-1)
        return out.reshape(nb, c, *self.out_shape[-2:])

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        b, c = y.shape[:2]
        self._check_batch(b)
        if self._fast(y):
            grid = self._grid(y.device, y.dtype)
            nb = max(b, grid.shape[0])
            h, w = self.in_shape[-2:]
            return torch.ops.aten.grid_sampler_2d_backward(
                y.expand(nb, *y.shape[1:]).contiguous(), y.new_zeros(nb, c, h, w),
                grid.expand(nb, -1, -1, -1).contiguous(), 0, 0, True, [True, False])[0]
        idx, wts = self._pattern(y.device, y.dtype)
        nb = max(b, idx.shape[0])
        n, t = idx.shape[1:]
        contrib = (y.reshape(b, c, n, 1) * wts.unsqueeze(1)).expand(nb, c, n, t)
        h, w = self.in_shape[-2:]
        out = y.new_zeros((nb, c, h * w))
        out = out.scatter_add(2, idx.reshape(-1, 1, n * t).expand(nb, c, n * t),
                              contrib.reshape(nb, c, n * t))
        return out.reshape(nb, c, h, w)


def rotation_matrix(angle: float, center: tuple[float, float]) -> torch.Tensor:
    """Output->input matrix rotating image content by ``angle`` degrees counter-clockwise
    in (x = column, y = row) coordinates about ``center = (cx, cy)``.

    A point at offset ``(dx, dy)`` from the centre moves to ``R(angle) (dx, dy)``, so the
    output pixel q samples the input at ``c + R(-angle)(q - c)``. Displayed with
    ``origin="lower"`` (astronomy), this is a counter-clockwise rotation on screen.
    """
    a = math.radians(angle)
    ca, sa = math.cos(a), math.sin(a)
    cx, cy = center
    r = torch.tensor([[ca, sa], [-sa, ca]], dtype=torch.float64)  # R(-angle)
    c = torch.tensor([cx, cy], dtype=torch.float64)
    m = torch.eye(3, dtype=torch.float64)
    m[:2, :2] = r
    m[:2, 2] = c - r @ c
    return m


class Rotation(Warp):
    """Rotation about the image centre ``(nx // 2, ny // 2)`` (the ADI star position)."""

    def __init__(self, angle: float, shape: Sequence[int],
                 center: tuple[float, float] | None = None, interpolation: str = "bicubic"):
        h, w = tuple(shape)[-2:]
        center = center if center is not None else (w // 2, h // 2)
        self.angle = float(angle)
        super().__init__(rotation_matrix(angle, center), shape, interpolation=interpolation)
