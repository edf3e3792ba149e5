"""Composite operations: PyTorch's functions written with the primitives.

Nothing here has gradient code: autodiff differentiates the primitives each
composite expands to. Each function is also attached as a Tensor method
(bottom of the file) where PyTorch has one.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple
from collections.abc import Sequence

from .ir import dtypes as dt
from .ir import ops as P
from .ir.errors import ArgumentError, DTypeError, ShapeError, ValueArgumentError
from .ir.shapes import broadcast_shapes, infer_reshape, normalize_axes, normalize_axis
from .tensor import Tensor, _bind, _n, _t, _view, arange, tensor

_pymax, _pymin, _pysum = builtins.max, builtins.min, builtins.sum


def _label(t: Tensor, name: str) -> Tensor:
    """Name ``t``'s grad_fn after the composite that produced it (PyTorch's names)."""
    if t._node.requires_grad:
        t._node.label = name
    return t


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == dt.FLOAT else x.type(dt.get_default_dtype())


# ---------------------------------------------------------------- elementwise

def add(x, y, *, alpha=1) -> Tensor:
    return _t(x) + (y if alpha == 1 else _t(y) * alpha)


def sub(x, y, *, alpha=1) -> Tensor:
    return _t(x) - (y if alpha == 1 else _t(y) * alpha)


def mul(x, y) -> Tensor:
    return _t(x) * y


def div(x, y, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return _t(x) / y
    if rounding_mode == "floor":
        return floor_divide(x, y)
    if rounding_mode == "trunc":
        q = _t(x) / y
        q = where(q < 0, ceil(q), floor(q))
        return q if _t(x).dtype.kind == dt.FLOAT else q.type(_result_dtype(x, y))
    raise ValueArgumentError(f"div(): rounding_mode must be None, 'floor' or 'trunc', "
                             f"got {rounding_mode!r}")


def _result_dtype(x, y) -> dt.DType:
    return dt.result_type([_n(x), _n(y)])


def floor_divide(x, y) -> Tensor:
    d = _result_dtype(x, y)
    if d.kind == dt.FLOAT:
        return floor(_t(x) / y)
    return floor(_t(x).double() / (y.double() if isinstance(y, Tensor) else y)).type(d)


def remainder(x, y) -> Tensor:
    return _t(x) - floor_divide(x, y) * y


def pow(x, y) -> Tensor:  # noqa: A001
    return _t(x) ** y if isinstance(x, Tensor) or not isinstance(y, Tensor) else y.__rpow__(x)


def neg(x) -> Tensor:
    return -_t(x)


def _unary(op, name: str):
    def fn(x) -> Tensor:
        return _bind(op, _t(x)._node)
    fn.__name__ = name
    return fn


exp = _unary(P.EXP, "exp")
log = _unary(P.LOG, "log")
sin = _unary(P.SIN, "sin")
cos = _unary(P.COS, "cos")
sqrt = _unary(P.SQRT, "sqrt")
tanh = _unary(P.TANH, "tanh")
abs = _unary(P.ABS, "abs")  # noqa: A001
sign = _unary(P.SIGN, "sign")
reciprocal = _unary(P.RECIPROCAL, "reciprocal")
logical_not = _unary(P.LOGICAL_NOT, "logical_not")


def floor(x) -> Tensor:
    x = _t(x)
    return x if x.dtype.kind != dt.FLOAT else _bind(P.FLOOR, x._node)


def ceil(x) -> Tensor:
    x = _t(x)
    return x if x.dtype.kind != dt.FLOAT else _bind(P.CEIL, x._node)


def trunc(x) -> Tensor:
    x = _t(x)
    return x if x.dtype.kind != dt.FLOAT else where(x < 0, ceil(x), floor(x))


def frac(x) -> Tensor:
    return _t(x) - trunc(x)


def round(x, *, decimals: int = 0) -> Tensor:  # noqa: A001
    """Round half to even, like PyTorch (and numpy)."""
    x = _t(x)
    if x.dtype.kind != dt.FLOAT:
        return x
    if decimals:
        scale = 10.0 ** decimals
        return round(x * scale) / scale
    r = floor(x + 0.5)
    tie = (r - x) == 0.5
    odd = (r - floor(r * 0.5) * 2.0) != 0
    r = where(tie & odd, r - 1.0, r)
    exact = 2.0 ** {dt.float16: 10, dt.float32: 23, dt.float64: 52}[x.dtype]
    return _label(where(abs(x) >= exact, x, r), "RoundBackward0")


def exp2(x) -> Tensor:
    return exp(_float(_t(x)) * math.log(2.0))


def expm1(x) -> Tensor:
    return exp(x) - 1.0


def log2(x) -> Tensor:
    return log(x) * (1.0 / math.log(2.0))


def log10(x) -> Tensor:
    return log(x) * (1.0 / math.log(10.0))


def log1p(x) -> Tensor:
    return log(_t(x) + 1.0)


def rsqrt(x) -> Tensor:
    return _label(reciprocal(sqrt(x)), "RsqrtBackward0")


def square(x) -> Tensor:
    return _t(x) * x


def tan(x) -> Tensor:
    return sin(x) / cos(x)


def sigmoid(x) -> Tensor:
    """Stable both ways: exp only ever sees -|x|, so neither branch overflows."""
    x = _float(_t(x))
    pos = x >= 0
    e = exp(where(pos, -x, x))
    return _label(where(pos, 1.0 / (1.0 + e), e / (1.0 + e)), "SigmoidBackward0")


def relu(x) -> Tensor:
    x = _t(x)
    return _label(where(x > 0, x, 0), "ReluBackward0")


def maximum(x, y) -> Tensor:
    return _bind(P.MAXIMUM, _n(x), _n(y))


def minimum(x, y) -> Tensor:
    return _bind(P.MINIMUM, _n(x), _n(y))


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002
    """PyTorch's clamp: gradient 1 inside [min, max] (bounds included), NaN passes through."""
    x = _t(x)
    if min is None and max is None:
        raise ArgumentError("clamp(): at least one of 'min' or 'max' must not be None")
    out = x
    if min is not None:
        out = where(x < min, min, out)
    if max is not None:
        out = where(x > max, max, out)
    return _label(out, "ClampBackward1")


clip = clamp


def where(cond, x=None, y=None) -> Tensor:
    if x is None and y is None:
        return nonzero(cond, as_tuple=True)
    c = _t(cond)
    if c.dtype is not dt.bool_:
        raise DTypeError(f"where(): expected condition to be a boolean tensor, but got a tensor "
                         f"with dtype {c.dtype.name}")
    out = _bind(P.WHERE, c._node, _n(x), _n(y))
    return _label(out, "WhereBackward0")


def lerp(start, end, weight) -> Tensor:
    return _t(start) + (_t(end) - start) * weight


def isnan(x) -> Tensor:
    x = _t(x)
    return x != x


def isinf(x) -> Tensor:
    x = _t(x)
    return abs(x) == math.inf if x.dtype.kind == dt.FLOAT else x != x


def isfinite(x) -> Tensor:
    x = _t(x)
    return (abs(x) < math.inf) if x.dtype.kind == dt.FLOAT else x == x


def isclose(x, y, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    x, y = _t(x), _t(y)
    close = (x == y) | (abs(x - y) <= atol + rtol * abs(y))
    if equal_nan:
        close = close | (isnan(x) & isnan(y))
    return close


def allclose(x, y, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    return bool(all(isclose(x, y, rtol, atol, equal_nan)))


def equal(x, y) -> bool:
    x, y = _t(x), _t(y)
    return x.shape == y.shape and bool(all(x == y))


def _compare(op, name):
    def fn(x, y) -> Tensor:
        return _bind(op, _n(x), _n(y))
    fn.__name__ = name
    return fn


eq, ne, lt, le, gt, ge = (_compare(P.EQ, "eq"), _compare(P.NE, "ne"), _compare(P.LT, "lt"),
                          _compare(P.LE, "le"), _compare(P.GT, "gt"), _compare(P.GE, "ge"))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def logical_and(x, y) -> Tensor:
    return _bind(P.LOGICAL_AND, _n(x), _n(y))


def logical_or(x, y) -> Tensor:
    return _bind(P.LOGICAL_OR, _n(x), _n(y))


def logical_xor(x, y) -> Tensor:
    return _t(x).bool() != _t(y).bool()


# ---------------------------------------------------------------- reductions

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
        n *= x.shape[a]
    s = _bind(P.SUM, x._node, axes=axes, keepdims=keepdim)
    return _label(s / n if n else s * math.nan, "MeanBackward1" if dim is not None
                  else "MeanBackward0")


def amax(x, dim=(), keepdim: bool = False) -> Tensor:
    x = _t(x)
    return _label(_bind(P.MAX, x._node, axes=_axes(x, dim, "amax"), keepdims=keepdim),
                  "AmaxBackward0")


def amin(x, dim=(), keepdim: bool = False) -> Tensor:
    x = _t(x)
    if x.dtype is dt.bool_ or (x.dtype.kind == dt.INT and not x.dtype.is_signed):
        return amax(x.long().neg(), dim, keepdim).neg().type(x.dtype)
    return _label(-amax(-x, dim, keepdim), "AminBackward0")


MinMax = namedtuple("MinMax", ["values", "indices"])
MinMax.__repr__ = lambda self: (f"graphc.return_types(\nvalues={self.values!r},\n"
                                f"indices={self.indices!r})")


def _index_of(x: Tensor, m: Tensor, dim: int, keepdim: bool) -> Tensor:
    """Index of the first element along ``dim`` equal to ``m`` (broadcast with keepdim)."""
    n = x.shape[dim]
    shape = [1] * x.ndim
    shape[dim] = n
    idx = arange(n).reshape(shape)
    hit = (x == m) | (isnan(x) if x.dtype.kind == dt.FLOAT else False)
    cand = where(hit, idx, n)
    return amin(cand, dim, keepdim)


def max(x, dim=None, keepdim: bool = False):  # noqa: A001
    """max(x) -> scalar; max(x, dim) -> (values, indices); max(x, other) -> maximum."""
    x = _t(x)
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    if dim is None:
        return _label(amax(x), "MaxBackward1")
    d = normalize_axis(dim, x.ndim, "max")
    values = _label(amax(x, d, keepdim), "MaxBackward0")
    return MinMax(values, _index_of(x.detach(), amax(x.detach(), d, True), d, keepdim))


def min(x, dim=None, keepdim: bool = False):  # noqa: A001
    x = _t(x)
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    if dim is None:
        return _label(amin(x), "MinBackward1")
    d = normalize_axis(dim, x.ndim, "min")
    values = _label(amin(x, d, keepdim), "MinBackward0")
    return MinMax(values, _index_of(x.detach(), amin(x.detach(), d, True), d, keepdim))


def argmax(x, dim=None, keepdim: bool = False) -> Tensor:
    x = _t(x).detach()
    if dim is None:
        return argmax(x.reshape(-1), 0)
    d = normalize_axis(dim, x.ndim, "argmax")
    return _index_of(x, amax(x, d, True), d, keepdim)


def argmin(x, dim=None, keepdim: bool = False) -> Tensor:
    x = _t(x).detach()
    if dim is None:
        return argmin(x.reshape(-1), 0)
    d = normalize_axis(dim, x.ndim, "argmin")
    return _index_of(x, amin(x, d, True), d, keepdim)


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


def var(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    x = _t(x)
    if x.dtype.kind != dt.FLOAT:
        raise DTypeError(f"var(): input dtype should be floating point, got {x.dtype.name}")
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


def std(x, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    v = var(x, dim, unbiased, keepdim, correction=correction)
    # zero gradient where the deviation is 0 (PyTorch's std_backward), not 0 * inf
    positive = v > 0
    return _label(where(positive, sqrt(where(positive, v, 1.0)), 0.0), "StdBackward0")


def var_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def std_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def logsumexp(x, dim, keepdim: bool = False) -> Tensor:
    x = _float(_t(x))
    m = amax(x, dim, keepdim=True)
    m = where(isinf(m), 0.0, m)
    out = log(sum(exp(x - m), dim, keepdim=True)) + m
    if not keepdim:
        out = out.squeeze(_axes(x, dim, "logsumexp"))
    return _label(out, "LogsumexpBackward0")


def softmax(x, dim: int, dtype=None) -> Tensor:
    x = _float(_t(x) if dtype is None else _t(x).type(dtype))
    e = exp(x - amax(x, dim, keepdim=True))
    return _label(e / sum(e, dim, keepdim=True), "SoftmaxBackward0")


def log_softmax(x, dim: int, dtype=None) -> Tensor:
    x = _float(_t(x) if dtype is None else _t(x).type(dtype))
    return _label(x - logsumexp(x, dim, keepdim=True), "LogSoftmaxBackward0")


def all(x, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    x = _t(x)
    falses = sum(logical_not(x.bool()), dim, keepdim)
    return falses == 0


def any(x, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    x = _t(x)
    return sum(x.bool(), dim, keepdim) > 0


def count_nonzero(x, dim=None) -> Tensor:
    return sum(_t(x) != 0, dim)


def cumsum(x, dim: int) -> Tensor:
    """Cumulative sum as a matmul with a triangular mask (exact gradients, small dims)."""
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "cumsum")
    n = x.shape[d]
    i = arange(n)
    tri = (i.reshape(n, 1) <= i.reshape(1, n)).type(x.dtype if x.dtype.kind == dt.FLOAT
                                                    else dt.int64)
    y = movedim(x if x.dtype.kind == dt.FLOAT else x.long(), d, -1)
    return movedim(matmul(y, tri), -1, d)


# ---------------------------------------------------------------- linear algebra

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


# ---------------------------------------------------------------- shape

def _shape_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x, *shape) -> Tensor:
    x = _t(x)
    new = infer_reshape(x.shape, _shape_args(shape), "reshape")
    if new == x.shape:
        return _alias(x)
    return _view(x, _bind(P.RESHAPE, x._node, shape=new)._node,
                 lambda b: b.reshape(new))


def _alias(x: Tensor) -> Tensor:
    """A new tensor object on the same node (PyTorch returns a view for no-op reshapes)."""
    return _view(x, _bind(P.RESHAPE, x._node, shape=x.shape)._node, lambda b: b)


def view(x, *shape) -> Tensor:
    x = _t(x)
    if len(shape) == 1 and isinstance(shape[0], dt.DType):
        raise ArgumentError("view(dtype) is not supported; use .type(dtype)")
    out = reshape(x, *shape)
    v = x._node.value
    if v is not None and out._node.vbox is not x._node.vbox and v.size:
        raise ShapeError(f"view(): view size {list(out.shape)} is not compatible with input "
                         f"tensor's size and stride {list(x.shape)} (at least one dimension "
                         "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return _label(out, "ViewBackward0")


def view_as(x, other) -> Tensor:
    return view(x, _t(other).shape)


def reshape_as(x, other) -> Tensor:
    return reshape(x, _t(other).shape)


def permute(x, *dims) -> Tensor:
    x = _t(x)
    dims = _shape_args(dims)
    if len(dims) != x.ndim:
        raise ShapeError(f"permute(): number of dims don't match in permute: {list(dims)} for "
                         f"a {x.ndim}-D tensor")
    perm = tuple(normalize_axis(d, x.ndim, "permute") for d in dims)
    if perm == tuple(range(x.ndim)):
        return _alias(x)
    return _view(x, _bind(P.PERMUTE, x._node, perm=perm)._node, lambda b: b.permute(perm))


def transpose(x, dim0: int, dim1: int) -> Tensor:
    x = _t(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(dim0, x.ndim, "transpose"), normalize_axis(dim1, x.ndim, "transpose")
    if x.ndim == 0:
        return _alias(x)
    perm[a], perm[b] = perm[b], perm[a]
    return _label(permute(x, perm), "TransposeBackward0")


swapaxes = swapdims = transpose


def t(x) -> Tensor:
    x = _t(x)
    if x.ndim > 2:
        raise ShapeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return _label(transpose(x, 0, -1), "TBackward0") if x.ndim == 2 else _alias(x)


def movedim(x, source: int, destination: int) -> Tensor:
    x = _t(x)
    s, d = normalize_axis(source, x.ndim, "movedim"), normalize_axis(destination, x.ndim,
                                                                      "movedim")
    perm = [i for i in range(x.ndim) if i != s]
    perm.insert(d, s)
    return permute(x, perm)


def squeeze(x, dim=None) -> Tensor:
    x = _t(x)
    if dim is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    else:
        axes = tuple(a for a in normalize_axes(dim, x.ndim, "squeeze")
                     if x.ndim and x.shape[a] == 1)
    new = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return _label(reshape(x, new), "SqueezeBackward0")


def unsqueeze(x, dim: int) -> Tensor:
    x = _t(x)
    d = normalize_axis(dim, x.ndim + 1, "unsqueeze")
    new = x.shape[:d] + (1,) + x.shape[d:]
    return _label(reshape(x, new), "UnsqueezeBackward0")


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    x = _t(x)
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = normalize_axis(start_dim, x.ndim, "flatten"), normalize_axis(end_dim, x.ndim,
                                                                        "flatten")
    if s > e:
        raise ShapeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for d in x.shape[s:e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])


def unflatten(x, dim: int, sizes) -> Tensor:
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "unflatten")
    sizes = infer_reshape((x.shape[d],), tuple(sizes), "unflatten")
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def expand(x, *sizes) -> Tensor:
    x = _t(x)
    sizes = _shape_args(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand(): the number of sizes provided ({len(sizes)}) must be greater "
                         f"or equal to the number of dimensions in the tensor ({x.ndim})")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if shape == x.shape:
        return _alias(x)
    out = _bind(P.EXPAND, x._node, shape=shape)
    return _view(x, out._node, lambda b: b.expand(shape))


def expand_as(x, other) -> Tensor:
    return expand(x, _t(other).shape)


def broadcast_to(x, shape) -> Tensor:
    return expand(x, tuple(shape))


def broadcast_tensors(*tensors) -> tuple[Tensor, ...]:
    shape = broadcast_shapes(*(_t(x).shape for x in tensors), op="broadcast_tensors")
    return tuple(expand(x, shape) for x in tensors)


def repeat(x, *sizes) -> Tensor:
    x = _t(x)
    sizes = _shape_args(sizes)
    if len(sizes) < x.ndim:
        raise ShapeError("repeat(): number of dimensions of repeat dims can not be smaller than "
                         "number of dimensions of tensor")
    x = reshape(x, (1,) * (len(sizes) - x.ndim) + x.shape)
    inter = []
    for s in x.shape:
        inter += [1, s]
    y = reshape(x, inter)
    target = []
    for r, s in zip(sizes, x.shape):
        target += [r, s]
    y = _bind(P.EXPAND, y._node, shape=tuple(target))
    return reshape(y, tuple(r * s for r, s in zip(sizes, x.shape)))


def tile(x, dims) -> Tensor:
    x = _t(x)
    dims = tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def cat(tensors: Sequence, dim: int = 0) -> Tensor:
    ts = [_t(x) for x in tensors]
    if not ts:
        raise ShapeError("cat(): expected a non-empty list of Tensors")
    # PyTorch skips legacy empty 1-D tensors of shape (0,)
    real = [x for x in ts if not (x.ndim == 1 and x.shape[0] == 0)] or ts[:1]
    d = normalize_axis(dim, real[0].ndim, "cat")
    if len(real) == 1:
        return real[0].clone()
    return _bind(P.CONCAT, *[x._node for x in real], axis=d)


concat = concatenate = cat


def stack(tensors: Sequence, dim: int = 0) -> Tensor:
    ts = [_t(x) for x in tensors]
    if not ts:
        raise ShapeError("stack(): expects a non-empty TensorList")
    for x in ts[1:]:
        if x.shape != ts[0].shape:
            raise ShapeError(f"stack(): expects each tensor to be equal size, but got "
                             f"{list(ts[0].shape)} and {list(x.shape)}")
    d = normalize_axis(dim, ts[0].ndim + 1, "stack")
    return _label(cat([unsqueeze(x, d) for x in ts], d), "StackBackward0")


def hstack(tensors) -> Tensor:
    ts = [_t(x) for x in tensors]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    return cat([x if _t(x).ndim > 1 else _t(x).reshape(1, -1) for x in tensors], 0)


def narrow(x, dim: int, start: int, length: int) -> Tensor:
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "narrow")
    start = start + x.shape[d] if start < 0 else start
    if not 0 <= start <= start + length <= x.shape[d]:
        raise ShapeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size "
                         f"({x.shape[d]})")
    idx = (slice(None),) * d + (slice(start, start + length),)
    return x[idx]


def split(x, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and n:
            raise ShapeError(f"split(): split_size must be positive, got {step}")
        sizes = [_pymin(step, n - i) for i in range(0, n, step)] if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if _pysum(sizes) != n:
            raise ShapeError(f"split_with_sizes(): expects split_sizes to sum exactly to {n} "
                             f"(input tensor's size at dimension {d}), but got {sizes}")
    out, pos = [], 0
    for s in sizes:
        out.append(narrow(x, d, pos, s))
        pos += s
    return tuple(out)


def chunk(x, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    x = _t(x)
    if chunks <= 0:
        raise ValueArgumentError(f"chunk(): chunks must be greater than 0, got {chunks}")
    n = x.shape[normalize_axis(dim, x.ndim, "chunk")]
    return split(x, _pymax(1, -(-n // chunks)), dim)


def unbind(x, dim: int = 0) -> tuple[Tensor, ...]:
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "unbind")
    return tuple(squeeze(s, d) for s in split(x, 1, d)) if x.shape[d] else ()


def tril(x, diagonal: int = 0) -> Tensor:
    x = _t(x)
    r, c = x.shape[-2], x.shape[-1]
    keep = arange(r).reshape(r, 1) + diagonal >= arange(c).reshape(1, c)
    return where(keep, x, 0)


def triu(x, diagonal: int = 0) -> Tensor:
    x = _t(x)
    r, c = x.shape[-2], x.shape[-1]
    keep = arange(r).reshape(r, 1) + diagonal <= arange(c).reshape(1, c)
    return where(keep, x, 0)


def flip(x, dims) -> Tensor:
    x = _t(x)
    axes = normalize_axes(dims, x.ndim, "flip")
    out = x
    for a in axes:
        n = x.shape[a]
        out = index_select(out, a, arange(n - 1, -1, -1)) if n else out
    return out


# ---------------------------------------------------------------- gather / scatter

def _check_index(index: Tensor, op: str) -> Tensor:
    if index.dtype.kind != dt.INT:
        raise DTypeError(f"{op}(): Expected dtype int64 for index, got {index.dtype.name}")
    return index.long()


def gather(x, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    x, index = _t(x), _check_index(_t(index), "gather")
    d = normalize_axis(dim, x.ndim, "gather")
    return _bind(P.GATHER, x._node, index._node, axis=d)


def scatter_add(x, dim: int, index, src) -> Tensor:
    x, index, src = _t(x), _check_index(_t(index), "scatter_add"), _t(src)
    d = normalize_axis(dim, x.ndim, "scatter_add")
    return _bind(P.SCATTER_ADD, x._node, index._node, src._node, axis=d)


def scatter_add_(x: Tensor, dim: int, index, src) -> Tensor:
    return x._assign(scatter_add(x, dim, index, src)._node, "scatter_add_")


def index_select(x, dim: int, index) -> Tensor:
    x, index = _t(x), _check_index(_t(index), "index_select")
    if index.ndim > 1:
        raise ShapeError(f"index_select(): Index is supposed to be a vector, got "
                         f"{list(index.shape)}")
    d = normalize_axis(dim, x.ndim, "index_select")
    if x.ndim == 0:
        return gather(x.reshape(1), 0, index.reshape(-1)).reshape(())
    shape = [1] * x.ndim
    shape[d] = index.numel()
    target = list(x.shape)
    target[d] = index.numel()
    idx = expand(reshape(index, shape), target)
    return gather(x, d, idx)


def take(x, index) -> Tensor:
    x, index = _t(x), _t(index)
    return gather(x.reshape(-1), 0, index.reshape(-1)).reshape(index.shape)


def masked_fill(x, mask, value) -> Tensor:
    x, mask = _t(x), _t(mask)
    if mask.dtype is not dt.bool_:
        raise DTypeError(f"masked_fill_(): expected mask to be a bool tensor, got "
                         f"{mask.dtype.name}")
    v = value
    if isinstance(v, Tensor):
        if v.ndim:
            raise ShapeError("masked_fill(): only supports a 0-dimensional value tensor")
        v = v.type(x.dtype)
    elif x.dtype.kind != dt.FLOAT and isinstance(v, float):
        v = int(v) if x.dtype.kind == dt.INT else bool(v)
    out = where(mask, v, x)
    if out.dtype is not x.dtype:
        out = out.type(x.dtype)
    if out.shape != x.shape:
        raise ShapeError(f"masked_fill(): mask {list(mask.shape)} cannot be broadcast to "
                         f"{list(x.shape)}")
    return _label(out, "MaskedFillBackward0")


def masked_fill_(x: Tensor, mask, value) -> Tensor:
    return x._assign(masked_fill(x, mask, value)._node, "masked_fill_")


def clamp_(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    return x._assign(clamp(x, min, max)._node, "clamp_")


def one_hot(x, num_classes: int = -1) -> Tensor:
    x = _t(x)
    if x.dtype is not dt.int64:
        raise DTypeError(f"one_hot is only applicable to index tensor of type int64, got "
                         f"{x.dtype.name}")
    if num_classes < 0:
        if x.numel() == 0:
            raise ValueArgumentError("one_hot(): can not infer total number of classes from "
                                     "empty tensor")
        num_classes = int(amax(x).item()) + 1
    if x.numel() and x._node.value is not None:
        lo, hi = int(amin(x).item()), int(amax(x).item())
        if lo < 0 or hi >= num_classes:
            from .ir.errors import IndexOutOfRange
            raise IndexOutOfRange(f"one_hot(): class values must be in [0, {num_classes}), got "
                                  f"{lo if lo < 0 else hi}")
    return (unsqueeze(x, -1) == arange(num_classes)).long()


def nonzero(x, *, as_tuple: bool = False):
    """Indices of nonzero elements (data-dependent shape: eager only)."""
    import numpy as np
    v = _t(x)._value("call nonzero() on")
    idx = np.nonzero(v)
    if as_tuple:
        return tuple(tensor(i.astype(np.int64)) for i in idx)
    return tensor(np.stack(idx, axis=1).astype(np.int64).reshape(-1, v.ndim))


def detach(x) -> Tensor:
    return _t(x).detach()


def clone(x) -> Tensor:
    return _t(x).clone()


def numel(x) -> int:
    return _t(x).numel()


# ---------------------------------------------------------------- Tensor methods

_METHODS = """
exp log sin cos sqrt tanh sign reciprocal logical_not floor ceil trunc frac round exp2 expm1
log2 log10 log1p rsqrt square tan sigmoid relu maximum minimum clamp clip where lerp isnan
isinf isfinite isclose allclose equal eq ne lt le gt ge greater greater_equal less less_equal
not_equal logical_and logical_or logical_xor sum mean amax amin max min argmax argmin prod var
std logsumexp softmax log_softmax all any count_nonzero cumsum matmul mm bmm dot outer
reshape view view_as reshape_as permute transpose swapaxes swapdims t movedim squeeze
unsqueeze flatten unflatten expand expand_as broadcast_to repeat tile narrow split chunk
unbind tril triu flip gather scatter_add scatter_add_ index_select take masked_fill
masked_fill_ clamp_ nonzero add sub mul div floor_divide remainder pow neg abs
""".split()
for _name in _METHODS:
    if not hasattr(Tensor, _name) or _name in ("abs", "pow", "neg"):
        setattr(Tensor, _name, globals()[_name])
Tensor.true_divide = div
Tensor.multiply = mul
Tensor.subtract = sub
Tensor.absolute = abs
Tensor.__floordiv__ = floor_divide
Tensor.__rfloordiv__ = lambda self, other: floor_divide(other, self)
Tensor.__mod__ = remainder
Tensor.__rmod__ = lambda self, other: remainder(other, self)
Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))))
Tensor.mT = property(lambda self: transpose(self, -2, -1))
Tensor.clamp_min = lambda self, m: clamp(self, min=m)
Tensor.clamp_max = lambda self, m: clamp(self, max=m)
Tensor.sigmoid_ = lambda self: self._assign(sigmoid(self)._node, "sigmoid_")
Tensor.relu_ = lambda self: self._assign(relu(self)._node, "relu_")
Tensor.exp_ = lambda self: self._assign(exp(self)._node, "exp_")
Tensor.sqrt_ = lambda self: self._assign(sqrt(self)._node, "sqrt_")
Tensor.abs_ = lambda self: self._assign(abs(self)._node, "abs_")
Tensor.tanh_ = lambda self: self._assign(tanh(self)._node, "tanh_")
Tensor.addcmul_ = lambda self, a, b, value=1: self.add_(_t(a) * b * value)
Tensor.addcdiv_ = lambda self, a, b, value=1: self.add_(_t(a) / b * value)
Tensor.lerp_ = lambda self, end, weight: self._assign(lerp(self, end, weight)._node, "lerp_")
Tensor.__abs__ = abs
