"""Reductions written with ``sum`` and ``max``: mean, var, argmax, prod, softmax, ..."""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ..creation import arange
from ..fused import fused
from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.errors import DTypeError, InvalidArgument, ShapeError, reports_as
from ..ir.shapes import normalize_axes, normalize_axis
from ..tensor import Tensor, _bind, _float_input, _input, _t
from ._util import _float, _label, _pymax
from .elementwise import exp, isinf, isnan, log, logical_not, maximum, minimum, sqrt, where
from .linalg import matmul
from .shape import gather, movedim


def _axes(x: Tensor, dim, op: str) -> tuple[int, ...]:
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(x.ndim))
    return normalize_axes(dim, x.ndim, op)


def sum(x, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    x = _t(x)
    if dtype is not None:
        x = x.type(dtype)
    out = _bind(P.SUM, x._node, axes=_axes(x, dim, "sum"), keepdims=keepdim)
    return _label(out, "SumBackward0" if dim is None else "SumBackward1")


def mean(x, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = _t(x)
    if dtype is not None:
        x = x.type(dtype)
    if x.dtype.kind != dt.FLOAT:
        raise DTypeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                         f"floating point or complex dtype. Got: {x.dtype.name}")
    axes = _axes(x, dim, "mean")
    n = 1
    for a in axes:
        n *= x.shape[a] if a < x.ndim else 1  # dim 0 or -1 of a 0-d tensor
    s = _bind(P.SUM, x._node, axes=axes, keepdims=keepdim)
    return _label(s / n if n else s * math.nan, "MeanBackward1" if dim is not None
                  else "MeanBackward0")


@reports_as("amax")
def amax(x, dim=(), keepdim: bool = False) -> Tensor:
    x = _t(x)
    return _label(_bind(P.MAX, x._node, axes=_axes(x, dim, "amax"), keepdims=keepdim),
                  "AmaxBackward0")


@reports_as("amin")
def amin(x, dim=(), keepdim: bool = False) -> Tensor:
    x = _t(x)
    if x.dtype is dt.bool_ or (x.dtype.kind == dt.INT and not x.dtype.is_signed):
        return amax(x.long().neg(), dim, keepdim).neg().type(x.dtype)
    return _label(-amax(-x, dim, keepdim), "AminBackward0")


def _return_type(name: str):
    """PyTorch's ``torch.return_types.max``/``min``: a named (values, indices) pair."""
    cls = namedtuple(name, ["values", "indices"])
    cls.__repr__ = lambda self: (f"graphc.return_types.{name}(\nvalues={self.values!r},\n"
                                 f"indices={self.indices!r})")
    return cls


_RETURN_TYPES = {"Max": _return_type("max"), "Min": _return_type("min")}


def _index_of(x: Tensor, m: Tensor, dim: int, keepdim: bool) -> Tensor:
    """Index of the first element along ``dim`` equal to ``m`` (broadcast with keepdim)."""
    n = x.shape[dim] if x.ndim else 1  # a 0-d tensor: dim 0 or -1, index 0
    idx = arange(n, device=x.device).reshape([n if a == dim else 1 for a in range(x.ndim)])
    hit = (x == m) | (isnan(x) if x.dtype.kind == dt.FLOAT else False)
    cand = where(hit, idx, n)
    return amin(cand, dim, keepdim)


def _extreme(x, dim, keepdim: bool, reduce, pairwise, name: str):
    """max/min: the value; (values, indices) along a dim; elementwise against a tensor."""
    x = _t(x)
    if isinstance(dim, Tensor):
        return pairwise(x, dim)
    if dim is None:
        if x.numel() == 0:
            raise ShapeError(f"{name.lower()}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                             f"argument.")
        return _label(reduce(x), f"{name}Backward1")
    d = normalize_axis(dim, x.ndim, name.lower())
    index = _index_of(x.detach(), reduce(x.detach(), d, True), d, True)
    if not x.ndim:
        values = reduce(x, d, keepdim)
    else:  # as PyTorch, the gradient goes to the element at ``indices`` only, not to all ties
        values = gather(x, d, index)
        if not keepdim:
            values, index = values.squeeze(d), index.squeeze(d)
    return _RETURN_TYPES[name](_label(values, f"{name}Backward0"), index)


@reports_as("max")
def max(x, dim=None, keepdim: bool = False):  # noqa: A001
    """max(x) -> scalar; max(x, dim) -> (values, indices); max(x, other) -> maximum."""
    return _extreme(x, dim, keepdim, amax, maximum, "Max")


@reports_as("min")
def min(x, dim=None, keepdim: bool = False):  # noqa: A001
    """min(x) -> scalar; min(x, dim) -> (values, indices); min(x, other) -> minimum."""
    return _extreme(x, dim, keepdim, amin, minimum, "Min")


def _arg(x, dim, keepdim: bool, reduce, name: str) -> Tensor:
    x = _input(x, name).detach()
    if x.dtype is dt.bool_:
        raise DTypeError(f"{name}(): does not support bool input")
    if dim is None:
        return _arg(x.reshape(-1), 0, False, reduce, name)
    d = normalize_axis(dim, x.ndim, name)
    return _index_of(x, reduce(x, d, True), d, keepdim)


@reports_as("argmax")
def argmax(x, dim=None, keepdim: bool = False) -> Tensor:
    return _arg(x, dim, keepdim, amax, "argmax")


@reports_as("argmin")
def argmin(x, dim=None, keepdim: bool = False) -> Tensor:
    return _arg(x, dim, keepdim, amin, "argmin")


def prod(x, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product by a tree of multiplications: exact gradients even where elements are 0."""
    x = _t(x)
    if dtype is not None:
        x = x.type(dtype)
    elif x.dtype.kind != dt.FLOAT:
        x = x.long()
    if dim is None:
        out = prod(x.reshape(-1), 0)
        return _label(out.reshape([1] * x.ndim) if keepdim else out, "ProdBackward0")
    d = normalize_axis(dim, x.ndim, "prod")
    y = movedim(x, d, -1)
    n = y.shape[-1]
    if n == 0:  # the empty product: ones, still attached to x (zero gradient) like PyTorch
        y = sum(y, -1, keepdim=True) * 0 + 1
    while n > 1:
        if n % 2:
            y = _bind(P.PAD, y._node, widths=((0, 0),) * (y.ndim - 1) + ((0, 1),), value=1)
            n += 1
        y = y[..., : n // 2] * y[..., n // 2:]
        n //= 2
    y = y.squeeze(-1)
    return _label(y.unsqueeze(d) if keepdim else y, "ProdBackward1")


@reports_as("var")
def var(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    x = _t(x)
    if x.dtype.kind != dt.FLOAT:
        raise DTypeError(f"var(): std and var only support floating point and complex dtypes, "
                         f"got {x.dtype.name}")
    if isinstance(dim, bool):  # var(x, False): the old positional `unbiased`
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _axes(x, dim, "var")
    n = 1
    for a in axes:
        n *= x.shape[a]
    dev = x - mean(x, axes, keepdim=True)
    s = sum(dev * dev, axes, keepdim)
    return _label(s / _pymax(n - correction, 0), "VarBackward0")


@reports_as("std")
def std(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    v = var(x, dim, unbiased, keepdim, correction=correction)
    # zero gradient where the deviation is 0 (PyTorch's std_backward), not 0 * inf
    positive = v > 0
    return _label(where(positive, sqrt(where(positive, v, 1.0)), 0.0), "StdBackward0")


def var_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def std_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def _shift(x: Tensor, dim) -> Tensor:
    """The max along ``dim`` (kept), detached: softmax's shift, which cancels. Over an empty
    dim (where max has nothing to reduce) there is nothing to shift: zeros."""
    axes = _axes(x, dim, "softmax")
    if 0 in [x.shape[a] for a in axes if a < x.ndim]:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        return _bind(P.CONSTANT, value=0, shape=shape, dtype=x.dtype)
    return amax(x.detach(), dim, keepdim=True)


def _finite_max(x: Tensor, dim) -> Tensor:
    """The max along ``dim`` (kept), 0 where it is infinite: the shift that keeps exp() in
    range. It cancels, so it carries no gradient."""
    m = _shift(x, dim)
    v = m._node.value
    # eager on the host, all finite: the select is a no-op (3 ops); else the general path
    if not isinstance(v, np.ndarray) or np.logical_or.reduce(np.isinf(v), None):
        m = where(isinf(m), 0.0, m)
    return m


@reports_as("logsumexp")
@fused
def logsumexp(x, dim, keepdim: bool = False) -> Tensor:
    x = _float(_t(x))
    m = _finite_max(x, dim)
    out = log(sum(exp(x - m), dim, keepdim=True)) + m
    if not keepdim:
        out = out.squeeze(_axes(x, dim, "logsumexp"))
    return _label(out, "LogsumexpBackward0")


@reports_as("softmax")
@fused
def softmax(x, dim: int, dtype=None) -> Tensor:
    x = _float_input(_t(x) if dtype is None else _t(x).type(dtype), "softmax")
    e = exp(x - _shift(x, dim))  # the shift cancels: no gradient
    return _label(e / sum(e, dim, keepdim=True), "SoftmaxBackward0")


@reports_as("log_softmax")
@fused
def log_softmax(x, dim: int, dtype=None) -> Tensor:
    # (x - m) - log(sum(exp(x - m))): one op fewer than x - logsumexp(x), and nearer to
    # PyTorch's numbers (the same order of operations as its CPU kernel)
    x = _float_input(_t(x) if dtype is None else _t(x).type(dtype), "log_softmax")
    z = x - _finite_max(x, dim)
    return _label(z - log(sum(exp(z), dim, keepdim=True)), "LogSoftmaxBackward0")


@reports_as("all")
def all(x, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    x = _t(x)
    falses = sum(logical_not(x.bool()), dim, keepdim)
    return falses == 0


@reports_as("any")
def any(x, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    x = _t(x)
    return sum(x.bool(), dim, keepdim) > 0


def count_nonzero(x, dim=None) -> Tensor:
    return sum(_t(x) != 0, dim)


@reports_as("norm")
def norm(x, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Vector p-norms over ``dim`` (all elements by default); 'fro' is the 2-norm."""
    x = _float_input(_t(x) if dtype is None else _t(x).type(dtype), "norm")
    if not (p in ("fro", "inf", "-inf") or isinstance(p, (int, float)) and
            not isinstance(p, bool)):
        raise InvalidArgument(f"norm(): Order {p} not supported.")
    if p in ("fro", 2, 2.0):
        s = sum(x * x, dim, keepdim)
        zero = s == 0  # zero gradient at 0, as PyTorch, not 0 * inf; NaN stays NaN
        return _label(where(zero, 0.0, sqrt(where(zero, 1.0, s))), "NormBackward1")
    if p in (float("inf"), "inf"):
        return amax(x.abs(), () if dim is None else dim, keepdim)
    if p in (float("-inf"), "-inf"):
        return amin(x.abs(), () if dim is None else dim, keepdim)
    if p == 0:
        return sum((x != 0).type(x.dtype), dim, keepdim)
    if p == 1:
        return sum(x.abs(), dim, keepdim)
    return sum(x.abs() ** p, dim, keepdim) ** (1.0 / p)


def cumsum(x, dim: int) -> Tensor:
    """Cumulative sum as a matmul with a triangular mask (exact gradients, small dims)."""
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "cumsum")
    n = x.shape[d]
    i = arange(n, device=x.device)
    tri = (i.reshape(n, 1) <= i.reshape(1, n)).type(x.dtype if x.dtype.kind == dt.FLOAT
                                                    else dt.int64)
    y = movedim(x if x.dtype.kind == dt.FLOAT else x.long(), d, -1)
    return movedim(matmul(y, tri), -1, d)
