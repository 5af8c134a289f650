"""2-D convolution (blur) with a given kernel, direct or by FFT, with exact adjoints.

.. math::  (A x)[i] = \\sum_m k[m] \\, \\bar x[i + c - m]

with ``c = (kh // 2, kw // 2)`` the kernel centre and ``\\bar x`` the boundary extension of
``x`` (``circular``, ``reflect``, ``replicate`` or ``zero``). The output has the size of the
input ("same"). The kernel is ``(kh, kw)`` (shared by all channels) or ``(C, kh, kw)``.
``method="direct"`` uses ``conv2d``; ``method="fft"`` multiplies spectra (faster for big
kernels). With a circular boundary the operator is diagonalised by the 2-D DFT, which
:meth:`Conv2d.transfer` exposes for exact FFT solves of ``(A^T A + rho I) x = b``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from inversa.operators.base import LinearOperator
from inversa.operators.padding import MODES, pad2d, pad2d_adjoint


class Conv2d(LinearOperator):
    """Same-size 2-D convolution of ``(B, C, H, W)`` images.

    Examples
    --------
    >>> from inversa.operators import gaussian_kernel
    >>> A = Conv2d(gaussian_kernel(1.5), (1, 32, 32), boundary="reflect")
    >>> A(torch.rand(2, 1, 32, 32)).shape
    torch.Size([2, 1, 32, 32])
    """

    def __init__(self, kernel: torch.Tensor, shape: Sequence[int], boundary: str = "circular",
                 method: str = "direct"):
        k = torch.as_tensor(kernel)
        if k.dim() not in (2, 3):
            raise ValueError(f"kernel must be 2-D (kh, kw) or 3-D (C, kh, kw), got {tuple(k.shape)}")
        if boundary not in MODES:
            raise ValueError(f"boundary must be one of {MODES}, got {boundary!r}")
        if method not in ("direct", "fft"):
            raise ValueError(f"method must be 'direct' or 'fft', got {method!r}")
        self.kernel = k
        self.boundary, self.method = boundary, method
        self.in_shape = self.out_shape = tuple(shape)
        kh, kw = k.shape[-2:]
        cy, cx = kh // 2, kw // 2
        self.pads = (kw - 1 - cx, cx, kh - 1 - cy, cy)  # left, right, top, bottom

    # -- helpers -------------------------------------------------------------
    def _weight(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel.to(device=x.device, dtype=x.dtype)
        c = x.shape[1]
        k = k.expand(c, *k.shape[-2:]) if k.dim() == 2 else k
        if k.shape[0] != c:
            raise ValueError(f"kernel has {k.shape[0]} channels, image has {c}")
        return k.flip(-1, -2).unsqueeze(1)  # (C, 1, kh, kw): correlation with flipped k

    def transfer(self, shape: Sequence[int], device=None, dtype=torch.float32) -> torch.Tensor:
        """``rfft2`` of the kernel placed with its centre at the origin, on an ``(H, W)`` grid:
        for a circular boundary ``A x = irfft2(rfft2(x) * transfer)``. Shape ``(C|1, H, W//2+1)``.
        """
        h, w = shape
        k = self.kernel.to(device=device, dtype=dtype)
        k = k.unsqueeze(0) if k.dim() == 2 else k
        kh, kw = k.shape[-2:]
        iy = (torch.arange(kh, device=device) - kh // 2) % h
        ix = (torch.arange(kw, device=device) - kw // 2) % w
        grid = k.new_zeros((k.shape[0], h, w))
        grid = grid.index_put((torch.arange(k.shape[0], device=device)[:, None, None],
                               iy[None, :, None], ix[None, None, :]), k, accumulate=True)
        return torch.fft.rfft2(grid)

    def _fft_conv(self, x: torch.Tensor, adjoint: bool) -> torch.Tensor:
        if self.boundary == "circular":
            t = self.transfer(x.shape[-2:], x.device, x.dtype)
            t = t.conj() if adjoint else t
            return torch.fft.irfft2(torch.fft.rfft2(x) * t, s=x.shape[-2:])
        # non-circular: circular convolution on the padded grid, then crop (or its adjoint)
        kh, kw = self.kernel.shape[-2:]
        h, w = self.in_shape[-2:]
        hp, wp = h + kh - 1, w + kw - 1
        k = self.kernel.to(device=x.device, dtype=x.dtype)
        k = k.unsqueeze(0) if k.dim() == 2 else k
        t = torch.fft.rfft2(F.pad(k, (0, wp - kw, 0, hp - kh)))
        if not adjoint:
            z = torch.fft.irfft2(torch.fft.rfft2(pad2d(x, self.pads, self.boundary)) * t,
                                 s=(hp, wp))
            return z[..., kh - 1:kh - 1 + h, kw - 1:kw - 1 + w]
        z = F.pad(x, (kw - 1, 0, kh - 1, 0))
        z = torch.fft.irfft2(torch.fft.rfft2(z) * t.conj(), s=(hp, wp))
        return pad2d_adjoint(z, self.pads, self.boundary, (h, w))

    # -- the two methods -------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.method == "fft":
            return self._fft_conv(x, adjoint=False)
        xp = pad2d(x, self.pads, self.boundary)
        return F.conv2d(xp, self._weight(x), groups=x.shape[1])

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        if self.method == "fft":
            return self._fft_conv(y, adjoint=True)
        z = F.conv_transpose2d(y, self._weight(y), groups=y.shape[1])
        return pad2d_adjoint(z, self.pads, self.boundary, tuple(self.in_shape[-2:]))
