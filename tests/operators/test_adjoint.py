"""Every registered operator: exact adjoint, adjoint == autograd vjp, batched, device dtype."""

import pytest
import torch

from inversa.operators.base import inner
from inversa.operators.registry import REGISTRY


@pytest.mark.parametrize("name,make", REGISTRY, ids=[n for n, _ in REGISTRY])
def test_dot_product(name, make):
    op = make()
    g = torch.Generator().manual_seed(1)
    x = torch.randn((2, *op.in_shape), generator=g, dtype=torch.float64)
    ax = op.forward(x)
    assert tuple(ax.shape[1:]) == tuple(op.out_shape)
    y = torch.randn(ax.shape, generator=g, dtype=torch.float64)
    aty = op.adjoint(y)
    assert aty.shape == x.shape
    lhs, rhs = inner(ax, y), inner(x, aty)
    assert abs(lhs - rhs) <= 1e-5 * max(abs(lhs), abs(rhs), 1e-12), (float(lhs), float(rhs))


@pytest.mark.parametrize("name,make", REGISTRY, ids=[n for n, _ in REGISTRY])
def test_adjoint_matches_autograd(name, make):
    op = make()
    g = torch.Generator().manual_seed(2)
    x = torch.randn((2, *op.in_shape), generator=g, dtype=torch.float64, requires_grad=True)
    ax = op.forward(x)
    y = torch.randn(ax.shape, generator=g, dtype=torch.float64)
    (vjp,) = torch.autograd.grad(ax, x, y)
    torch.testing.assert_close(op.adjoint(y), vjp, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name,make", REGISTRY, ids=[n for n, _ in REGISTRY])
def test_float32_and_linearity(name, make):
    op = make()
    g = torch.Generator().manual_seed(3)
    x1 = torch.randn((2, *op.in_shape), generator=g)
    x2 = torch.randn((2, *op.in_shape), generator=g)
    out = op.forward(2 * x1 - x2)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, 2 * op.forward(x1) - op.forward(x2), rtol=1e-4, atol=1e-4)


def test_registry_is_not_trivially_passing():
    """A wrong adjoint must fail the dot-product check (the test can fail)."""
    from inversa.operators import Conv2d

    op = Conv2d(torch.rand(3, 4, dtype=torch.float64), (1, 8, 8))
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    y = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    wrong = op.forward(y)  # forward instead of adjoint on an asymmetric kernel
    assert abs(inner(op.forward(x), y) - inner(x, wrong)) > 1e-3
