"""The list of every operator, as small examples, that the adjoint test runs over.

Adding an operator means adding one entry here: a name and a function returning an example
instance (float64 parameters are fine; the test runs in float64).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import torch

from inversa.operators.base import Identity, LinearOperator, Mask, Scale, Stack
from inversa.operators.conv import Conv2d
from inversa.operators.kernels import gaussian_kernel, motion_kernel
from inversa.operators.mosaic import BayerMosaic
from inversa.operators.sampling import BoxDecimate, Decimate
from inversa.operators.signal1d import Conv1d, Resample1d
from inversa.operators.warp import Rotation, Warp

_g = torch.Generator().manual_seed(0)
_k = torch.rand(5, 4, generator=_g, dtype=torch.float64)  # asymmetric, even width
_S = (2, 12, 14)


def _homography() -> torch.Tensor:
    return torch.tensor([[1.02, 0.05, 0.7], [-0.03, 0.97, -0.4], [1e-3, -2e-3, 1.0]],
                        dtype=torch.float64)


REGISTRY: list[tuple[str, Callable[[], LinearOperator]]] = [
    ("identity", lambda: Identity(_S)),
    ("scale", lambda: Scale(-2.5, _S)),
    ("mask", lambda: Mask((torch.rand(_S, generator=_g) > 0.3).double(), _S)),
    *[(f"conv2d-{m}-{b}", (lambda m=m, b=b: Conv2d(_k, _S, boundary=b, method=m)))
      for m in ("direct", "fft") for b in ("circular", "reflect", "replicate", "zero")],
    ("conv2d-perchannel", lambda: Conv2d(torch.stack([gaussian_kernel(1.0, 5).double(),
                                                      motion_kernel(4, 20, 5).double()]), _S)),
    ("decimate", lambda: Decimate(3, _S)),
    ("box-decimate", lambda: BoxDecimate(2, _S)),
    ("warp-translation-bilinear", lambda: Warp.translation(0.3, -1.7, _S)),
    ("warp-translation-bicubic", lambda: Warp.translation(-2.2, 0.6, _S,
                                                          interpolation="bicubic")),
    ("warp-affine", lambda: Warp.affine(torch.tensor([[0.9, 0.1, 0.5], [-0.2, 1.1, 0.3]],
                                                     dtype=torch.float64), _S,
                                        interpolation="bicubic")),
    ("warp-homography", lambda: Warp.homography(_homography(), _S, out_hw=(10, 16))),
    ("warp-batch", lambda: Warp.translation(torch.tensor([0.5, -1.0]), torch.tensor([1.5, 0.2]),
                                            _S)),
    ("warp-flow-bilinear", lambda: Warp.translation(0.3, -0.2, _S, flow=3 * torch.randn(
        1, 2, *_S[-2:], generator=_g, dtype=torch.float64))),
    ("warp-flow-batch-bicubic", lambda: Warp.affine(torch.tensor(
        [[0.95, 0.1, 0.5], [-0.1, 1.05, 0.3]], dtype=torch.float64), _S,
        interpolation="bicubic", flow=torch.randn(2, 2, *_S[-2:], generator=_g,
                                                  dtype=torch.float64))),
    ("rotation", lambda: Rotation(17.0, _S)),
    *[(f"bayer-{p}", (lambda p=p: BayerMosaic(p, (3, 8, 10))))
      for p in ("RGGB", "BGGR", "GRBG", "GBRG")],
    ("conv1d", lambda: Conv1d(torch.rand(7, generator=_g, dtype=torch.float64), 40)),
    ("resample1d-int", lambda: Resample1d(40, 2)),
    ("resample1d-rational", lambda: Resample1d(40, Fraction(3, 2))),
    ("composed-blur-decimate", lambda: BoxDecimate(2, _S) @ Conv2d(_k, _S, boundary="reflect")),
    ("composed-burst-frame", lambda: BayerMosaic("RGGB", (3, 6, 7)) @ BoxDecimate(2, (3, 12, 14))
     @ Warp.translation(0.4, 0.9, (3, 12, 14))),
    ("stack", lambda: Stack([Decimate(2, _S), Warp.translation(0.5, 0.5, _S),
                             Conv2d(_k, _S, boundary="zero")])),
    ("sum-adjoint", lambda: Conv2d(_k, _S) + Scale(0.5, _S) @ Conv2d(_k, _S).T),
]
