"""Physical forward models ``A`` with exact adjoints (torch, batched, differentiable)."""

from inversa.operators.base import (
    Adjoint,
    Composed,
    Identity,
    LinearOperator,
    Mask,
    Scale,
    Stack,
    Sum,
    inner,
    operator_norm,
)
from inversa.operators.conv import Conv2d
from inversa.operators.kernels import gaussian_kernel, motion_kernel
from inversa.operators.mosaic import PATTERNS, BayerMosaic, cfa_masks
from inversa.operators.sampling import BoxDecimate, Decimate
from inversa.operators.signal1d import Conv1d, Resample1d
from inversa.operators.warp import Rotation, Warp, rotation_matrix

__all__ = [
    "PATTERNS",
    "Adjoint",
    "BayerMosaic",
    "BoxDecimate",
    "Composed",
    "Conv1d",
    "Conv2d",
    "Decimate",
    "Identity",
    "LinearOperator",
    "Mask",
    "Resample1d",
    "Rotation",
    "Scale",
    "Stack",
    "Sum",
    "Warp",
    "cfa_masks",
    "gaussian_kernel",
    "inner",
    "motion_kernel",
    "operator_norm",
    "rotation_matrix",
]
