"""Sorting: sort, argsort, topk, kthvalue, median — one ``argsort`` primitive and gathers.

Gradients flow through the gather to the selected elements, as in PyTorch.
"""
from __future__ import annotations

from collections import namedtuple

from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.errors import DTypeError, InvalidArgument, ShapeError, reports_as
from ..ir.shapes import int_arg, normalize_axis
from ..tensor import Tensor, _bind, _input, _t
from ._util import _label

Sorted = namedtuple("Sorted", ["values", "indices"])


def argsort(x, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    x = _t(x)
    axis = normalize_axis(dim, x.ndim, "argsort") if x.ndim else 0
    return _bind(P.ARGSORT, x.detach()._node, axis=axis, descending=bool(descending))


@reports_as("sort")
def sort(x, dim: int = -1, descending: bool = False, stable: bool = False) -> Sorted:
    x = _t(x)
    if x.ndim == 0:
        return Sorted(x * 1, argsort(x))
    idx = argsort(x, dim, descending)
    axis = normalize_axis(dim, x.ndim, "sort")
    return Sorted(_label(_bind(P.GATHER, x._node, idx._node, axis=axis), "SortBackward0"), idx)


@reports_as("topk")
def topk(x, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Sorted:  # noqa: A002
    x = _no_bool(x, "topk")
    k = int_arg(k, "topk", "k")
    axis = normalize_axis(dim, x.ndim, "topk") if x.ndim else 0
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise InvalidArgument(f"topk(): selected index k out of range (k={k} for a dim of "
                              f"size {n})")
    values, idx = sort(x, dim, descending=largest)
    if x.ndim == 0:
        return Sorted(values, idx)
    keep = tuple(slice(None) if d != axis else slice(0, k) for d in range(x.ndim))
    return Sorted(_label(values[keep], "TopkBackward0"), idx[keep])


@reports_as("kthvalue")
def kthvalue(x, k: int, dim: int = -1, keepdim: bool = False) -> Sorted:
    """The k-th smallest value (1-based) along ``dim`` and its index."""
    x = _no_bool(x, "kthvalue")
    k = int_arg(k, "kthvalue", "k")
    axis = normalize_axis(dim, x.ndim, "kthvalue") if x.ndim else 0
    n = x.shape[axis] if x.ndim else 1
    if not 1 <= k <= n:
        raise InvalidArgument(f"kthvalue(): selected number k out of range (k={k} for a dim "
                              f"of size {n})")
    values, idx = sort(x, dim)
    if x.ndim == 0:
        return Sorted(values, idx)
    pick = tuple(slice(None) if d != axis else slice(k - 1, k) for d in range(x.ndim))
    v, i = values[pick], idx[pick]
    if not keepdim:
        v, i = v.squeeze(axis), i.squeeze(axis)
    return Sorted(_label(v, "KthvalueBackward0"), i)


@reports_as("median")
def median(x, dim: int | None = None, keepdim: bool = False):
    """The lower median, as PyTorch: of all elements, or (values, indices) along ``dim``."""
    x = _no_bool(x, "median")
    if dim is None:
        flat = x.reshape(-1)
        if flat.numel() == 0:
            raise ShapeError("median() of an empty tensor")
        return kthvalue(flat, (flat.numel() + 1) // 2).values
    axis = normalize_axis(dim, x.ndim, "median") if x.ndim else 0
    n = x.shape[axis] if x.ndim else 1
    return kthvalue(x, (n + 1) // 2, dim, keepdim)


def _no_bool(x, op: str) -> Tensor:
    """PyTorch's topk, kthvalue and median refuse bool tensors."""
    x = _input(x, op)
    if x.dtype is dt.bool_:
        raise DTypeError(f"{op}(): does not support bool tensors (\"{op}\" not implemented for "
                         f"'Bool')")
    return x


def msort(x) -> Tensor:
    return sort(x, 0).values
