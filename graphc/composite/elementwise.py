"""Elementwise composites: arithmetic helpers, activations, comparisons, logic."""
from __future__ import annotations

import math

from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.errors import ArgumentError, DTypeError, InvalidArgument, reports_as
from ..tensor import Tensor, _bind, _float_input, _input, _n, _t
from ._util import _float, _label


def add(x, y, *, alpha=1) -> Tensor:
    if alpha != 1:
        _check_alpha(x, y, alpha, "add")
    return _t(x) + (y if alpha == 1 else _t(y) * alpha)


def _check_alpha(x, y, alpha, op: str) -> None:
    if isinstance(alpha, float) and _result_dtype(x, y).kind != dt.FLOAT:
        raise InvalidArgument(f"{op}(): For integral input tensors, argument alpha must not be "
                              f"a floating point number.")


def sub(x, y, *, alpha=1) -> Tensor:
    if alpha != 1:
        _check_alpha(x, y, alpha, "sub")
    return _t(x) - (y if alpha == 1 else _t(y) * alpha)


def mul(x, y) -> Tensor:
    return _t(x) * y


def div(x, y, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return _t(x) / y
    if rounding_mode == "floor":
        return floor_divide(x, y)
    if rounding_mode == "trunc":
        if _result_dtype(x, y).kind != dt.FLOAT:
            # floored, then one more towards zero where the quotient is negative and inexact
            # (the remainder has the divisor's sign)
            q, r = floor_divide(x, y), remainder(x, y)
            return q + ((r != 0) & ((_t(x) < 0) != (r < 0)))
        q = _t(x) / y
        return where(q < 0, ceil(q), floor(q))
    raise InvalidArgument(f"div(): div expected rounding_mode to be one of None, 'trunc', or "
                          f"'floor' but found {rounding_mode!r}")


def _result_dtype(x, y) -> dt.DType:
    return dt.result_type([_n(x), _n(y)])


def floor_divide(x, y) -> Tensor:
    """Floored division (Python's ``//``): integers exactly, an integer zero divisor raises."""
    return _bind(P.FLOOR_DIVIDE, _n(x), _n(y))


def remainder(x, y) -> Tensor:
    """Python's ``%``: the remainder of floored division, with the divisor's sign."""
    return _bind(P.REMAINDER, _n(x), _n(y))


def pow(x, y) -> Tensor:  # noqa: A001
    return _t(x) ** y if isinstance(x, Tensor) or not isinstance(y, Tensor) else y.__rpow__(x)


def neg(x) -> Tensor:
    return -_t(x)


def _unary(op, name: str):
    def fn(x) -> Tensor:
        return _bind(op, (x if type(x) is Tensor else _input(x, name))._node)
    fn.__name__ = fn.__qualname__ = name
    return fn


exp = _unary(P.EXP, "exp")
log = _unary(P.LOG, "log")
sin = _unary(P.SIN, "sin")
cos = _unary(P.COS, "cos")
sqrt = _unary(P.SQRT, "sqrt")
tanh = _unary(P.TANH, "tanh")
sign = _unary(P.SIGN, "sign")
reciprocal = _unary(P.RECIPROCAL, "reciprocal")
logical_not = _unary(P.LOGICAL_NOT, "logical_not")


def abs(x) -> Tensor:  # noqa: A001
    return _bind(P.ABS, _float_input(x, "abs", ints=True)._node)


def floor(x) -> Tensor:
    x = _input(x, "floor")
    return x if x.dtype.kind != dt.FLOAT else _bind(P.FLOOR, x._node)


def ceil(x) -> Tensor:
    x = _input(x, "ceil")
    return x if x.dtype.kind != dt.FLOAT else _bind(P.CEIL, x._node)


def trunc(x) -> Tensor:
    x = _input(x, "trunc")
    return x if x.dtype.kind != dt.FLOAT else where(x < 0, ceil(x), floor(x))


def frac(x) -> Tensor:
    return _float_input(x, "frac") - trunc(x)


def round(x, *, decimals: int = 0) -> Tensor:  # noqa: A001
    """Round half to even, like PyTorch (and numpy)."""
    x = _input(x, "round")
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
    """2 ** x: one pow, exact at integers (exp(x * log 2) is off by x * ulp(log 2))."""
    return _label(2.0 ** _float(_input(x, "exp2")), "Exp2Backward0")


_TINY = 1e-17  # below this, expm1(x) and log1p(x) are x itself in float32 and float64


def expm1(x) -> Tensor:
    """exp(x) - 1, accurate near 0: 2t / (1 - t) with t = tanh(x/2) for |x| < 1, and x itself
    for tiny x (x/2 would lose a subnormal's last bit)."""
    x = _float(_input(x, "expm1"))
    small = abs(x) < 1.0
    t = tanh(where(small, x, 0.0) * 0.5)
    out = where(small, where(abs(x) < _TINY, x, t * 2.0 / (1.0 - t)), exp(x) - 1.0)
    return _label(out, "Expm1Backward0")


def log2(x) -> Tensor:
    return log(_input(x, "log2")) * (1.0 / math.log(2.0))


def log10(x) -> Tensor:
    return log(_input(x, "log10")) * (1.0 / math.log(10.0))


def log1p(x) -> Tensor:
    """log(1 + x), accurate near 0, for huge x and at the ends of its domain.

    The value is Goldberg's log(u) * x / (u - 1), u = 1 + x, which cancels the rounding
    of 1 + x (x itself where u rounds to 1); the gradient is that of log(u), 1 / (1 + x)
    to rounding, because the correction is added detached. Where it is not finite (u
    infinite, zero or negative) log(u) alone gives inf, -inf (x = -1) and NaN.
    """
    x = _float(_input(x, "log1p"))
    u = x + 1.0
    plain = log(u)
    d = u - 1.0
    exact = (d != 0) & (abs(plain) < math.inf)
    correction = where(exact, plain * (x / where(exact, d, 1.0)) - plain, 0.0).detach()
    return _label(where(u == 1.0, x, plain + correction), "Log1PBackward0")


# erf: its Taylor series below 1, and 1 - exp(-x^2) erfcx(x) from 1 to 6, erfcx a Chebyshev
# interpolant on [1, 6] in t = (x - 3.5) / 2.5 (beyond 6, erf is 1 in float64). Coefficients
# made with mpmath for each precision: within an ulp or so (tests/test_special_values.py).
_ERF_TAYLOR = (  # 2/sqrt(pi) * (-1)^n / (n! (2n + 1)), in powers of x^2
    1.1283791670955126, -0.37612638903183754, 0.11283791670955126, -0.026866170645131252,
    0.005223977625442188, -0.0008548327023450853, 0.00012055332981789664,
    -1.492565035840625e-05, 1.6462114365889248e-06, -1.6365844691234924e-07,
    1.4807192815879218e-08, -1.2290555301717928e-09, 9.422759064650411e-11,
    -6.7113668551641105e-12, 4.4632242632864775e-13, -2.7835162072109215e-14,
    1.6342614095367152e-15, -9.063970842808673e-17, 4.763348040515068e-18)
_ERFCX = {  # exp(x^2) erfc(x), in powers of t
    dt.float64: (
        0.1552936556088943, -0.10330894458313108, 0.06663208245319104, -0.04176678811945303,
        0.02549555964371531, -0.015182511544736937, 0.008833423916019923,
        -0.005028067985897489, 0.002803326193753514, -0.0015325155208559278,
        0.0008222551763227133, -0.0004333630245212691, 0.00022453048643318593,
        -0.00011443636902313971, 5.741823232072277e-05, -2.8395881636091154e-05,
        1.3828928244542998e-05, -6.597721129314622e-06, 3.1285932958036703e-06,
        -1.5335203223793152e-06, 7.043754988574408e-07, -2.4029191446724603e-07,
        1.1143084433615192e-07, -1.1370578545985852e-07, 4.825961898969941e-08,
        1.2368852435201621e-08, -4.723529684323121e-09, -8.27808017002486e-09,
        3.403549128809476e-09),
    dt.float32: (
        0.15529365837574005, -0.1033090129494667, 0.06663211435079575, -0.041764337569475174,
        0.025494396686553955, -0.015208601951599121, 0.00884580984711647,
        -0.004907038528472185, 0.002745833480730653, -0.0018155903089791536,
        0.0009568690438754857, -9.06966597540304e-05, 6.12674411968328e-05,
        -0.00030822408734820783, 0.0001501239457866177),
}


def _horner(t: Tensor, coeffs: tuple) -> Tensor:
    """sum(coeffs[k] * t**k)."""
    acc = t * coeffs[-1] + coeffs[-2]
    for c in reversed(coeffs[:-2]):
        acc = acc * t + c
    return acc


def erf(x) -> Tensor:
    """The error function, to about an ulp in float32 and float64. Each branch is evaluated
    at an argument clamped into its range, so the branch not taken is finite and passes no
    NaN into the gradient."""
    x = _float(_input(x, "erf"))
    small = abs(x) < 1.0
    xs = where(small, x, 0.0)
    below = xs * _horner(xs * xs, _ERF_TAYLOR if x.dtype is dt.float64 else _ERF_TAYLOR[:11])
    a = clamp(abs(x), 1.0, 6.0)
    above = 1.0 - exp(-(a * a)) * _horner((a - 3.5) * 0.4, _ERFCX.get(x.dtype,
                                                                     _ERFCX[dt.float32]))
    return _label(where(small, below, where(x < 0, -above, above)), "ErfBackward0")


_ERFC_TAIL = {  # x erfcx(x) for x >= 6, in powers of s = 72 / x^2 - 1 (1/x^2 on [0, 1/36])
    dt.float64: (
        0.5603505205560211, -0.0037627248730775446, 7.387138313213954e-05,
        -2.3578333301085973e-06, 1.0286465748175719e-07, -5.637658486009592e-09,
        3.6926538357111996e-10, -2.796197072281091e-11, 2.392502249393551e-12,
        -2.3496779857871983e-13, 2.4593329548333384e-14),
    dt.float32: (
        0.5603505373001099, -0.0037627248093485832, 7.387138612102717e-05,
        -2.3578086256748065e-06, 1.0286252916102967e-07, -5.687105897322908e-09,
        3.735060594145523e-10),
}


def _exp_neg_square(x: Tensor) -> Tensor:
    """exp(-x^2) for x >= 0 without the error of rounding x^2 (relative x^2 ulps, hundreds
    at x = 20): x = h + l with h short enough that h^2 is exact, x^2 = h^2 + l (x + h)."""
    scale = 65536.0 if x.dtype is dt.float64 else 128.0
    h = floor(x * scale) * (1.0 / scale)
    return exp(-(h * h)) * exp(-((x - h) * (x + h)))


def erfc(x) -> Tensor:
    """1 - erf(x) without its cancellation: exp(-x^2) erfcx(x) from 1 on (erfcx: the
    interpolant of erf's, then x erfcx(x) as a series in 1/x^2 beyond 6)."""
    x = _float(_input(x, "erfc"))
    table = _ERFC_TAIL.get(x.dtype, _ERFC_TAIL[dt.float32])
    a = clamp(x, 1.0, 6.0)
    mid = _horner((a - 3.5) * 0.4, _ERFCX.get(x.dtype, _ERFCX[dt.float32]))
    b = clamp(x, 6.0, None)
    tail = _horner(72.0 / (b * b) - 1.0, table) / b
    scaled = where(x <= 6.0, mid, tail) * _exp_neg_square(clamp(x, 1.0, 30.0))
    return _label(where(x < 1.0, 1.0 - erf(x), scaled), "ErfcBackward0")


def rsqrt(x) -> Tensor:
    return _label(reciprocal(sqrt(_input(x, "rsqrt"))), "RsqrtBackward0")


def square(x) -> Tensor:
    return _input(x, "square") * x


def tan(x) -> Tensor:
    x = _input(x, "tan")
    return sin(x) / cos(x)


def sigmoid(x) -> Tensor:
    """Stable both ways: exp only ever sees -|x|, so neither branch overflows."""
    x = _float(_input(x, "sigmoid"))
    pos = x >= 0
    e = exp(where(pos, -x, x))
    return _label(where(pos, 1.0 / (1.0 + e), e / (1.0 + e)), "SigmoidBackward0")


def relu(x) -> Tensor:
    x = _float_input(x, "relu", ints=True)
    return _label(where(x <= 0, 0, x), "ReluBackward0")  # NaN stays NaN, as in PyTorch


def maximum(x, y) -> Tensor:
    return _bind(P.MAXIMUM, _n(x), _n(y))


def minimum(x, y) -> Tensor:
    return _bind(P.MINIMUM, _n(x), _n(y))


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002
    """PyTorch's clamp: gradient 1 inside [min, max] (bounds included), NaN passes through."""
    x = _t(x)
    if min is None and max is None:
        raise InvalidArgument("clamp(): At least one of 'min' or 'max' must not be None")
    for bound in (min, max):
        if not isinstance(bound, (Tensor, int, float, type(None))):
            raise ArgumentError(f"clamp(): min and max must be numbers or tensors, not "
                                f"{type(bound).__name__}")
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


@reports_as("lerp")
def lerp(start, end, weight) -> Tensor:
    start, end = _float_input(start, "lerp"), _input(end, "lerp")
    if end.dtype is not start.dtype:
        raise DTypeError(f"lerp(): expected dtype {start.dtype.name} for `end` but got dtype "
                         f"{end.dtype.name}")
    return start + (end - start) * weight


def isnan(x) -> Tensor:
    x = _input(x, "isnan")
    return x != x


def isinf(x) -> Tensor:
    x = _input(x, "isinf")
    return abs(x) == math.inf if x.dtype.kind == dt.FLOAT else x != x


def isfinite(x) -> Tensor:
    x = _input(x, "isfinite")
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


@reports_as("logical_xor")
def logical_xor(x, y) -> Tensor:
    return _t(x).bool() != _t(y).bool()
