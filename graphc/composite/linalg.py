"""Linear algebra: matmul with PyTorch's 1-D rules, mm, bmm, dot, outer, einsum."""
from __future__ import annotations

from ..ir import ops as P
from ..ir.errors import ShapeError
from ..tensor import Tensor, _bind, _t


def matmul(x, y) -> Tensor:
    x, y = _t(x), _t(y)
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


def mm(x, y) -> Tensor:
    x, y = _t(x), _t(y)
    if x.ndim != 2 or y.ndim != 2:
        raise ShapeError(f"mm(): expected 2-D tensors, got {x.ndim}-D and {y.ndim}-D")
    return matmul(x, y)


def bmm(x, y) -> Tensor:
    x, y = _t(x), _t(y)
    if x.ndim != 3 or y.ndim != 3 or x.shape[0] != y.shape[0]:
        raise ShapeError(f"bmm(): expected 3-D tensors with equal batch sizes, got "
                         f"{list(x.shape)} and {list(y.shape)}")
    return matmul(x, y)


def dot(x, y) -> Tensor:
    x, y = _t(x), _t(y)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ShapeError(f"dot(): expected 1-D tensors of the same size, got {list(x.shape)} and "
                         f"{list(y.shape)}")
    return matmul(x, y)


def outer(x, y) -> Tensor:
    return _t(x).unsqueeze(1) * _t(y).unsqueeze(0)


def einsum(equation: str, *operands) -> Tensor:
    from ._einsum import einsum as _einsum
    return _einsum(equation, *operands)
