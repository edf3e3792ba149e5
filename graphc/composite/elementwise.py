"""Elementwise composites: arithmetic helpers, activations, comparisons, logic."""
from __future__ import annotations

import math

import numpy as np

from ..creation import tensor
from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.errors import ArgumentError, DTypeError, ValueArgumentError
from ..tensor import Tensor, _bind, _n, _t
from ._util import _float, _label


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


def _lhs(x, y) -> Tensor:
    """``x`` as a tensor; a number on the left (``2.5 // t``, ``np.float64(3) % t``) takes the
    result dtype, so it promotes like a Python scalar and not like a tensor of its own."""
    return x if isinstance(x, Tensor) else tensor(x, dtype=_result_dtype(x, y))


def floor_divide(x, y) -> Tensor:
    d = _result_dtype(x, y)
    x = _lhs(x, y)
    if d.kind == dt.FLOAT:
        return floor(x / y)
    yv = y._node.value if isinstance(y, Tensor) else y
    if yv is not None and np.any(np.asarray(yv) == 0):  # PyTorch raises rather than wrap
        raise DTypeError("ZeroDivisionError: integer division (// or %) by zero")
    return floor(x.double() / (y.double() if isinstance(y, Tensor) else y)).type(d)


def remainder(x, y) -> Tensor:
    return _lhs(x, y).type(_result_dtype(x, y)) - floor_divide(x, y) * y


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
    r = floor(x)
    frac = x - r  # exact, unlike x + 0.5 (which rounds 0.49999997 up to 1)
    odd = (r - floor(r * 0.5) * 2.0) != 0
    r = where((frac > 0.5) | ((frac == 0.5) & odd), r + 1.0, r)
    r = where(r == 0, x * 0.0, r)  # the sign of zero, as PyTorch: round(-0.3) is -0.
    return _label(r, "RoundBackward0")


def exp2(x) -> Tensor:
    return exp(_float(_t(x)) * math.log(2.0))


def expm1(x) -> Tensor:
    """exp(x) - 1, accurate near 0: 2t / (1 - t) with t = tanh(x/2) for |x| < 1."""
    x = _float(_t(x))
    t = tanh(where(abs(x) < 1.0, x, 0.0) * 0.5)
    return _label(where(abs(x) < 1.0, t * 2.0 / (1.0 - t), exp(x) - 1.0), "Expm1Backward0")


def log2(x) -> Tensor:
    return log(x) * (1.0 / math.log(2.0))


def log10(x) -> Tensor:
    return log(x) * (1.0 / math.log(10.0))


def log1p(x) -> Tensor:
    """log(1 + x), accurate near 0.

    The value uses Goldberg's correction log(u) * x / (u - 1), u = 1 + x, which
    cancels the rounding of 1 + x; the gradient is that of log(1 + x), 1 / (1 + x),
    which is accurate as it is (the correction is detached).
    """
    x = _float(_t(x))
    u = x + 1.0
    plain = log(u)
    exact = where(u == 1.0, x, plain * x / where(u == 1.0, 1.0, u - 1.0))
    return _label(plain + (exact - plain).detach(), "Log1PBackward0")


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
    return _label(where(x <= 0, 0, x), "ReluBackward0")  # NaN stays NaN, as in PyTorch


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
        from .shape import nonzero
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
    return bool(isclose(x, y, rtol, atol, equal_nan).all())


def equal(x, y) -> bool:
    x, y = _t(x), _t(y)
    return x.shape == y.shape and bool((x == y).all())


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
