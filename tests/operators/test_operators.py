"""Conventions and numerics of individual operators."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inversa.operators import (
    BayerMosaic,
    BoxDecimate,
    Conv2d,
    Decimate,
    Rotation,
    Stack,
    Warp,
    gaussian_kernel,
    motion_kernel,
    operator_norm,
)
from inversa.operators.base import inner


def _dense(op, shape):
    n = math.prod(shape)
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    return op.forward(basis).reshape(n, -1).T


def test_operator_norm_matches_svd():
    op = BoxDecimate(2, (1, 8, 8)) @ Conv2d(torch.rand(3, 3, dtype=torch.float64), (1, 8, 8),
                                            boundary="reflect")
    ref = float(torch.linalg.matrix_norm(_dense(op, (1, 8, 8)), ord=2))
    est = operator_norm(op, iters=500, dtype=torch.float64, tol=1e-12)
    assert abs(est - ref) < 1e-4 * ref


def test_fft_equals_direct():
    k = motion_kernel(7, 35).double()
    x = torch.randn(2, 3, 20, 23, dtype=torch.float64)
    for b in ("circular", "reflect", "replicate", "zero"):
        d = Conv2d(k, (3, 20, 23), boundary=b)(x)
        f = Conv2d(k, (3, 20, 23), boundary=b, method="fft")(x)
        torch.testing.assert_close(d, f)


def test_conv_is_a_true_convolution():
    k = torch.zeros(3, 3, dtype=torch.float64)
    k[1, 2] = 1.0  # shift right by one: (A x)[i, j] = x[i, j - 1]
    x = torch.randn(1, 1, 5, 6, dtype=torch.float64)
    y = Conv2d(k, (1, 5, 6), boundary="circular")(x)
    torch.testing.assert_close(y, torch.roll(x, 1, dims=-1))


def test_kernels_normalised():
    for k in (gaussian_kernel(0.8), gaussian_kernel(3.0), motion_kernel(12, 0),
              motion_kernel(5.5, 123)):
        assert abs(float(k.sum()) - 1) < 1e-6 and (k >= 0).all()
        assert k.shape[0] % 2 == 1


def test_box_decimate_convention():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y = BoxDecimate(2, (1, 4, 4))(x)
    assert y[0, 0, 0, 0] == (0 + 1 + 4 + 5) / 4
    assert Decimate(2, (1, 4, 4))(x)[0, 0, 1, 1] == x[0, 0, 2, 2]


def test_integer_translation_is_exact_shift():
    x = torch.randn(1, 1, 10, 12, dtype=torch.float64)
    for interp in ("bilinear", "bicubic"):
        y = Warp.translation(2.0, -1.0, (1, 10, 12), interpolation=interp)(x)
        # (W x)(q) = x(q + t): output pixel (row r, col c) = x[r - 1, c + 2]
        torch.testing.assert_close(y[0, 0, 1:, :-2], x[0, 0, :-1, 2:])


def test_rotation_90_is_rot90():
    x = torch.randn(1, 1, 9, 9, dtype=torch.float64)
    y = Rotation(90.0, (1, 9, 9))(x)
    # content rotates counter-clockwise in (x = col, y = row) coordinates:
    # a point at (dx, dy) goes to (-dy, dx)
    ref = torch.rot90(x, k=-1, dims=(-2, -1))
    torch.testing.assert_close(y, ref, atol=1e-9, rtol=0)


def test_bayer_patterns():
    x = torch.stack([torch.full((4, 4), v) for v in (1.0, 2.0, 3.0)])[None]
    assert BayerMosaic("RGGB", (3, 4, 4))(x)[0, 0, :2, :2].tolist() == [[1, 2], [2, 3]]
    assert BayerMosaic("BGGR", (3, 4, 4))(x)[0, 0, :2, :2].tolist() == [[3, 2], [2, 1]]
    assert BayerMosaic("GRBG", (3, 4, 4))(x)[0, 0, :2, :2].tolist() == [[2, 1], [3, 2]]
    assert BayerMosaic("GBRG", (3, 4, 4))(x)[0, 0, :2, :2].tolist() == [[2, 3], [1, 2]]


def test_stack_split():
    s = Stack([Decimate(2, (1, 6, 6)), BoxDecimate(3, (1, 6, 6))])
    x = torch.randn(2, 1, 6, 6)
    parts = s.split(s(x))
    assert parts[0].shape == (2, 1, 3, 3) and parts[1].shape == (2, 1, 2, 2)


@settings(max_examples=25, deadline=None)
@given(kh=st.integers(1, 7), kw=st.integers(1, 7), h=st.integers(4, 12), w=st.integers(4, 12),
       boundary=st.sampled_from(["circular", "reflect", "replicate", "zero"]),
       method=st.sampled_from(["direct", "fft"]), seed=st.integers(0, 1000))
def test_conv_adjoint_property(kh, kw, h, w, boundary, method, seed):
    g = torch.Generator().manual_seed(seed)
    op = Conv2d(torch.randn(kh, kw, generator=g, dtype=torch.float64), (2, h, w),
                boundary=boundary, method=method)
    x = torch.randn(1, 2, h, w, generator=g, dtype=torch.float64)
    y = torch.randn(1, 2, h, w, generator=g, dtype=torch.float64)
    a, b = inner(op(x), y), inner(x, op.adjoint(y))
    assert abs(a - b) <= 1e-9 * max(1.0, abs(float(a)))


@settings(max_examples=20, deadline=None)
@given(tx=st.floats(-5, 5), ty=st.floats(-5, 5), ang=st.floats(-30, 30),
       interp=st.sampled_from(["bilinear", "bicubic"]))
def test_warp_adjoint_property(tx, ty, ang, interp):
    c, s = math.cos(math.radians(ang)), math.sin(math.radians(ang))
    op = Warp.affine(torch.tensor([[c, -s, tx], [s, c, ty]], dtype=torch.float64), (1, 9, 11),
                     interpolation=interp)
    x = torch.randn(1, 1, 9, 11, dtype=torch.float64)
    y = torch.randn(1, 1, 9, 11, dtype=torch.float64)
    a, b = inner(op(x), y), inner(x, op.adjoint(y))
    assert abs(a - b) <= 1e-9 * max(1.0, abs(float(a)))


def test_warp_flow_is_a_per_pixel_translation():
    """A constant flow field equals the same translation; a flow on part of the image
    moves only that part."""
    x = torch.randn(1, 1, 10, 12, dtype=torch.float64)
    flow = torch.zeros(1, 2, 10, 12, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = 1.25, -0.5
    eye = torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(Warp(eye, (1, 10, 12), flow=flow)(x),
                               Warp.translation(1.25, -0.5, (1, 10, 12))(x))
    part = torch.zeros(1, 2, 10, 12, dtype=torch.float64)
    part[:, 0, :5] = 2.0  # top half samples 2 columns to the right
    y = Warp(eye, (1, 10, 12), flow=part)(x)
    torch.testing.assert_close(y[0, 0, :5, :-2], x[0, 0, :5, 2:])
    torch.testing.assert_close(y[0, 0, 5:], x[0, 0, 5:])
    with pytest.raises(ValueError, match="flow"):
        Warp(eye, (1, 10, 12), flow=torch.zeros(1, 2, 9, 12))
