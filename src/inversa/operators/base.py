"""The linear operator abstraction: ``forward``, ``adjoint``, shapes, algebra.

A linear operator ``A`` maps a batch ``x`` of shape ``(B, *in_shape)`` to ``(B, *out_shape)``
and its adjoint satisfies ``<A x, y> = <x, A^T y>`` exactly (up to rounding). A new operator
subclasses :class:`LinearOperator` and writes two methods, ``forward`` and ``adjoint``
(see ``docs/adding-an-operator.md``). Operators compose with ``@`` (``(A @ B) x = A(B x)``),
add with ``+``, scale with ``*`` and transpose with ``.T``. They are differentiable (plain
torch code) and follow the device and dtype of their input.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Shape = tuple[int, ...]


class LinearOperator:
    """Base class. Subclasses set ``in_shape``/``out_shape`` (per sample, or ``None`` when
    the operator works on any shape and preserves it) and implement ``forward``/``adjoint``.
    """

    in_shape: Shape | None = None
    out_shape: Shape | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        """``A^T A x``."""
        return self.adjoint(self.forward(x))

    @property
    def T(self) -> LinearOperator:
        return Adjoint(self)

    def __matmul__(self, other: LinearOperator) -> LinearOperator:
        return Composed(self, other)

    def __add__(self, other: LinearOperator) -> LinearOperator:
        return Sum(self, other)

    def __mul__(self, alpha: float) -> LinearOperator:
        return Composed(Scale(alpha), self)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(in={self.in_shape}, out={self.out_shape})"


class Identity(LinearOperator):
    """``A x = x``."""

    def __init__(self, shape: Sequence[int] | None = None):
        self.in_shape = self.out_shape = tuple(shape) if shape is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y


class Scale(LinearOperator):
    """``A x = alpha x`` (real ``alpha``)."""

    def __init__(self, alpha: float, shape: Sequence[int] | None = None):
        self.alpha = float(alpha)
        self.in_shape = self.out_shape = tuple(shape) if shape is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * x

    adjoint = forward


class Mask(LinearOperator):
    """``A x = m * x`` (element-wise, ``m`` broadcast against ``x``; e.g. missing pixels)."""

    def __init__(self, mask: torch.Tensor, shape: Sequence[int] | None = None):
        self.mask = torch.as_tensor(mask)
        self.in_shape = self.out_shape = tuple(shape) if shape is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask.to(x)

    adjoint = forward


class Adjoint(LinearOperator):
    """The adjoint ``A^T`` as an operator."""

    def __init__(self, op: LinearOperator):
        self.op = op
        self.in_shape, self.out_shape = op.out_shape, op.in_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op.adjoint(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.op.forward(y)


class Composed(LinearOperator):
    """``(A @ B) x = A(B x)``; adjoint ``B^T A^T``."""

    def __init__(self, a: LinearOperator, b: LinearOperator):
        self.a, self.b = a, b
        self.in_shape = b.in_shape if b.in_shape is not None else a.in_shape
        self.out_shape = a.out_shape if a.out_shape is not None else b.out_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a.forward(self.b.forward(x))

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.b.adjoint(self.a.adjoint(y))


class Sum(LinearOperator):
    """``(A + B) x = A x + B x``."""

    def __init__(self, a: LinearOperator, b: LinearOperator):
        self.a, self.b = a, b
        self.in_shape = a.in_shape if a.in_shape is not None else b.in_shape
        self.out_shape = a.out_shape if a.out_shape is not None else b.out_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a.forward(x) + self.b.forward(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.a.adjoint(y) + self.b.adjoint(y)


class Stack(LinearOperator):
    """Vertical stack ``[A_1; ...; A_n]``: one signal, many measurements.

    The output of sample ``b`` is the concatenation of the flattened ``A_i x_b``:
    shape ``(B, sum_i prod(out_shape_i))``; :meth:`split` recovers the measurements.
    The adjoint is ``sum_i A_i^T y_i``.
    """

    def __init__(self, ops: Sequence[LinearOperator]):
        if not ops:
            raise ValueError("Stack needs at least one operator")
        self.ops = list(ops)
        for op in self.ops:
            if op.out_shape is None:
                raise ValueError(f"{op!r} needs a known out_shape to be stacked")
        self.in_shape = next((o.in_shape for o in self.ops if o.in_shape is not None), None)
        self.sizes = [int(torch.Size(o.out_shape).numel()) for o in self.ops]
        self.out_shape = (sum(self.sizes),)

    def split(self, y: torch.Tensor) -> list[torch.Tensor]:
        parts = torch.split(y, self.sizes, dim=1)
        return [p.reshape(y.shape[0], *o.out_shape) for p, o in zip(parts, self.ops)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([op.forward(x).reshape(x.shape[0], -1) for op in self.ops], dim=1)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        parts = self.split(y)
        out = self.ops[0].adjoint(parts[0])
        for op, p in zip(self.ops[1:], parts[1:]):
            out = out + op.adjoint(p)
        return out


def inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Real inner product over all dimensions."""
    return torch.sum(a * b)


def operator_norm(op: LinearOperator, in_shape: Sequence[int] | None = None, iters: int = 50,
                  seed: int = 0, dtype: torch.dtype = torch.float32,
                  device: str | torch.device = "cpu", tol: float = 1e-6) -> float:
    """Spectral norm ``||A||_2`` by power iteration on ``A^T A``.

    ``L = ||A||^2`` is the Lipschitz constant of the gradient of ``1/2 ||y - A x||^2``.

    Examples
    --------
    >>> operator_norm(Scale(3.0), (4, 4))  # doctest: +ELLIPSIS
    3.0...
    """
    shape = tuple(in_shape) if in_shape is not None else op.in_shape
    if shape is None:
        raise ValueError("operator_norm needs in_shape for a shape-agnostic operator")
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn((1, *shape), generator=g, dtype=dtype).to(device)
    x = x / x.norm()
    lam = 0.0
    with torch.no_grad():
        for _ in range(iters):
            z = op.normal(x)
            new = float(z.norm())
            if new == 0.0:
                return 0.0
            x = z / new
            if abs(new - lam) <= tol * new:
                lam = new
                break
            lam = new
    return lam ** 0.5
