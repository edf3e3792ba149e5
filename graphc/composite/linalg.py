"""Linear algebra: matmul with PyTorch's 1-D rules, mm, bmm, dot, outer, einsum."""
from __future__ import annotations

from ..ir import ops as P
from ..ir.errors import ShapeError, reports_as
from ..tensor import Tensor, _bind, _input


def matmul(x, y) -> Tensor:
    x, y = _input(x, "matmul"), _input(y, "matmul", "other", 2)
    if x.ndim == 0 or y.ndim == 0:
        raise ShapeError(f"matmul(): both arguments to matmul need to be at least 1D, but they "
                         f"are {x.ndim}D and {y.ndim}D")
    xv = x.unsqueeze(0) if x.ndim == 1 else x
    yv = y.unsqueeze(-1) if y.ndim == 1 else y
    if xv.shape[-1] != yv.shape[-2]:
        raise ShapeError(f"matmul(): mat1 and mat2 shapes cannot be multiplied "
                         f"({'x'.join(map(str, xv.shape))} and "
                         f"{'x'.join(map(str, yv.shape))}) for operands {list(x.shape)} @ "
                         f"{list(y.shape)}")
    out = _bind(P.MATMUL, xv._node, yv._node)
    if y.ndim == 1:
        out = out.squeeze(-1)
    if x.ndim == 1:
        out = out.squeeze(-2 if y.ndim > 1 else -1)
    return out


@reports_as("mm")
def mm(x, y) -> Tensor:
    x, y = _input(x, "mm"), _input(y, "mm", "mat2", 2)
    for what, t in (("self", x), ("mat2", y)):
        if t.ndim != 2:
            raise ShapeError(f"mm(): {what} must be a matrix, got a {t.ndim}-D tensor")
    return matmul(x, y)


@reports_as("bmm")
def bmm(x, y) -> Tensor:
    x, y = _input(x, "bmm"), _input(y, "bmm", "mat2", 2)
    for what, t in (("batch1", x), ("batch2", y)):
        if t.ndim != 3:
            raise ShapeError(f"bmm(): {what} must be a 3D tensor, got {list(t.shape)}")
    if x.shape[0] != y.shape[0]:
        raise ShapeError(f"bmm(): Expected size for first two dimensions of batch2 tensor to "
                         f"be: [{x.shape[0]}, {x.shape[2]}] but got: {list(y.shape[:2])}.")
    return matmul(x, y)


@reports_as("dot")
def dot(x, y) -> Tensor:
    x, y = _input(x, "dot"), _input(y, "dot", "tensor", 2)
    if x.ndim != 1 or y.ndim != 1:
        raise ShapeError(f"dot(): 1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
    if x.shape != y.shape:
        raise ShapeError(f"dot(): inconsistent tensor size, expected tensor [{x.shape[0]}] and "
                         f"src [{y.shape[0]}] to have the same number of elements")
    return matmul(x, y)


def outer(x, y) -> Tensor:
    x, y = _input(x, "outer"), _input(y, "outer", "vec2", 2)
    for what, t in (("self", x), ("vec2", y)):
        if t.ndim != 1:
            raise ShapeError(f"outer: Expected 1-D argument {what}, but got {t.ndim}-D")
    return x.unsqueeze(1) * y.unsqueeze(0)


def einsum(equation: str, *operands) -> Tensor:
    from ._einsum import einsum as _einsum
    return _einsum(equation, *operands)
