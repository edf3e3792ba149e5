"""Branch-free polynomial exp, log, tanh, sigmoid, sin and cos as LLVM IR, for float and double.

``llvm.exp``/``llvm.log`` and libm's ``tanhf`` lower to scalar calls, which stop the loop
vectorizer. These emit only arithmetic, integer bit tricks, ``select`` and intrinsics with
native x86 vector forms (``llvm.fma``, ``llvm.fabs``, ``llvm.copysign``, ``llvm.minnum``,
``llvm.maxnum``), so a loop ``out[i] = f(in[i])`` over float32 becomes 8-wide ymm code.

Every function takes a builder ``b`` positioned in a function of ``module`` and a scalar
``float``/``double`` value, and returns a value of the same type. ``ACCURACY`` at the end is
what tests/test_mathlib.py measures. Results assume the FPU is not in flush-to-zero or
denormals-are-zero mode (numpy's default); subnormal inputs and results are then handled.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from llvmlite import ir

# ---------------------------------------------------------------- coefficients
#
# Derived offline: each correction function below was evaluated in numpy longdouble (x87,
# 64-bit mantissa) from its Taylor series with exact rational terms (tanh's from Bernoulli
# numbers; for x^2 >= 0.25 from np.tanh in longdouble), on 4000 Chebyshev nodes of the
# interval shown, and fitted by weighted minimax (Lawson's iteratively reweighted least
# squares; weights make the error relative to the final function). Coefficients were then
# rounded to the target precision one at a time, lowest power first, refitting the rest after
# each rounding. The worst relative error of the rounded polynomial, before evaluation
# rounding, is given as 2^-bits.
#
#   exp:  e^r = 1 + r + r^2 Q(r),                  |r| <= 0.35      f32 2^-28.1  f64 2^-56.1
#   log:  log1p(f) = 2 atanh(s), s = f / (2 + f);  R(z) = 2 atanh(s)/s - 2 = z P(z), z = s^2,
#         z <= 0.02945 (|s| <= (sqrt2 - 1)/(sqrt2 + 1))           f32 2^-30.2  f64 2^-58.9
#   tanh: tanh x = x + x^3 T(x^2),                |x| <= 1         f32 2^-30.9  f64 2^-58.2
#   sin:  sin r = r + r^3 S(r^2),                  |r| <= R         f32 2^-31.7  f64 2^-57.6
#   cos:  cos r = 1 - r^2/2 + r^4 C(r^2),          |r| <= R         f32 2^-29.9  f64 2^-58.8
#
# with R = 0.96 for float32 and 1.01 pi/4 for float64 (see _Format.reduced_bound).
#
# Tables list coefficients from the constant term up.

_EXP_Q = {
    "float32": (0.49999994, 0.16666517, 0.04166828, 0.008369248, 0.0013820775),
    "float64": (0.500000000000004, 0.1666666666666702, 0.04166666666628388,
                0.008333333333041317, 0.001388888900730296, 0.00019841270588906746,
                2.4801428719736732e-05, 2.7556553677415097e-06, 2.7652553106748093e-07,
                2.5342107756706327e-08),
}
_LOG_P = {
    "float32": (0.66666776, 0.3997758, 0.2987093),
    "float64": (0.6666666666666662, 0.39999999999808733, 0.28571428666389326,
                0.2222220555838673, 0.18183232358993162, 0.15321929488592242,
                0.14722044562954692),
}
_TANH_T = {
    "float32": (-0.33333328, 0.13333175, -0.053950716, 0.021774355, -0.008571075, 0.003048127,
                -0.0008212084, 0.00011621051),
    "float64": (-0.3333333333333333, 0.13333333333332156, -0.05396825396735544,
                0.02186948851093948, -0.008863235157279544, 0.003592124641660177,
                -0.0014558136126544394, 0.0005899375260047303, -0.00023884467355958568,
                9.624382050653859e-05, -3.807985892297444e-05, 1.4291083922333497e-05,
                -4.763275930465778e-06, 1.272830048146383e-06, -2.3322122412336848e-07,
                2.130962180540406e-08),
}
_SIN_S = {
    "float32": (-0.16666667, 0.008333359, -0.00019843952, 2.738447e-06),
    "float64": (-0.16666666666666624, 0.008333333333320588, -0.0001984126982845914,
                2.755731325139317e-06, -2.505069191619311e-08, 1.589305853750862e-10),
}
_COS_C = {
    "float32": (0.041666593, -0.0013885285, 2.4245173e-05),
    "float64": (0.0416666666666681, -0.0013888888889109214, 2.480158742347212e-05,
                -2.7557349938891477e-07, 2.088019703299026e-09, -1.157494081893964e-11),
}
# Below it tanh uses T; above, 1 - 2 / (exp(2|x|) + 1), where the quotient is under 1/4:
# its ulp is a quarter of the result's, so exp's and the division's errors hardly show.
_TANH_POLY_LIMIT = 1.0
# float32 tanh is x P(x^2) / Q(x^2) on |x| <= 10 (beyond, float32 tanh rounds to 1): a
# relative-error minimax fit (error 2e-8 in exact arithmetic; float32 rounding of P and Q
# makes it up to 5.06 ulp, at 6.2386). No exp, no select between ranges: ~12 fma and one
# division, which keeps a fused gelu loop near memory speed.
_TANH_P32 = (1.0, 0.13039303, 0.0030542405, 1.0642148e-05, -1.8207071e-08, 4.3459646e-11,
             -6.2148854e-14)
_TANH_Q32 = (1.0, 0.4637262, 0.024296558, 0.00024741777)
_TANH_RATIONAL_LIMIT = 10.0


@dataclass(frozen=True)
class _Format:
    """What the bit tricks need to know about one floating-point type."""

    name: str
    int_type: ir.IntType
    mantissa_bits: int
    bias: int
    magic: float  # 1.5 * 2^mantissa_bits: adding it rounds to an integer kept in the low bits
    sqrt_half_bits: int  # bit pattern of sqrt(1/2) rounded to the type
    # Constants split hi + lo (+ lo2): the hi parts are the type's nearest values, so with fma
    # x - n * hi is exact (Cody-Waite reduction).
    ln2: tuple[float, ...]
    pio2: tuple[float, ...]
    log2e: float
    two_over_pi: float
    exp_limits: tuple[float, float]  # below: exp is 0; above: inf (after rounding)
    # sin/cos: k = round(x * two_over_pi) can be off by one near a half, so |r| can pass
    # pi/4 by |x| |2/pi - two_over_pi| pi/2. The polynomials are fitted up to reduced_bound,
    # which for float32 covers |x| < 2^22 (where the rounding trick stops): the error grows
    # slowly past sin_cos_limit, to 2.5 ulp at 2^22. Beyond that r is clamped, so results
    # stay in [-1, 1] but mean nothing.
    reduced_bound: float
    sin_cos_limit: float  # |x| up to which ACCURACY holds


_F32 = _Format("float32", ir.IntType(32), 23, 127, 1.5 * 2.0**23, 0x3F3504F3,
               ln2=(0.6931472, -1.9046542e-09),
               pio2=(1.5707964, -4.371139e-08, -1.7151245e-15),
               log2e=1.442695, two_over_pi=0.63661975, exp_limits=(-104.0, 89.0),
               reduced_bound=0.96, sin_cos_limit=2.0**17)
_F64 = _Format("float64", ir.IntType(64), 52, 1023, 1.5 * 2.0**52, 0x3FE6A09E667F3BCD,
               ln2=(0.6931471805599453, 2.3190468138462996e-17),
               pio2=(1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33),
               log2e=1.4426950408889634, two_over_pi=0.6366197723675814,
               exp_limits=(-746.0, 710.0), reduced_bound=1.01 * math.pi / 4,
               sin_cos_limit=1e12)


def _format(t: ir.Type) -> _Format:
    if isinstance(t, ir.FloatType):
        return _F32
    if isinstance(t, ir.DoubleType):
        return _F64
    raise TypeError(f"mathlib handles float and double, not {t}")


# ---------------------------------------------------------------- emission helpers

def _const(x, value: float) -> ir.Constant:
    return ir.Constant(x.type, value)


def call_intrinsic(b: ir.IRBuilder, name: str, *args) -> ir.Value:
    """``name(*args)`` for an LLVM intrinsic over one float type, scalar or vector
    (``llvm.fma.v8f32``), declared with the right arity once per module. (llvmlite's
    ``declare_intrinsic`` assumes one argument for most names and no vector types.)"""
    t = args[0].type
    elem = t.element if isinstance(t, ir.VectorType) else t
    suffix = "f32" if isinstance(elem, ir.FloatType) else "f64"
    if isinstance(t, ir.VectorType):
        suffix = f"v{t.count}{suffix}"
    module = b.module
    full = f"{name}.{suffix}"
    fn = module.globals.get(full) or ir.Function(module, ir.FunctionType(t, [t] * len(args)),
                                                 name=full)
    return b.call(fn, list(args))


def _fma(b: ir.IRBuilder, module: ir.Module, x, y, z) -> ir.Value:
    return call_intrinsic(b, "llvm.fma", x, y, z)


def _horner(b: ir.IRBuilder, module: ir.Module, x, coeffs: tuple[float, ...]) -> ir.Value:
    """sum(coeffs[k] * x**k), one fma per step."""
    acc = _const(x, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = _fma(b, module, acc, x, _const(x, c))
    return acc


def _round_to_int(b: ir.IRBuilder, module: ir.Module, x, scale: float, fmt: _Format):
    """n = round(x * scale) as (float, low integer bits), |n| < 2^(mantissa_bits - 1).

    Adding 1.5 * 2^mantissa_bits leaves n in the low bits of the sum: unlike fptosi, this has
    a vector form for i64 on AVX2, and is defined for any input.
    """
    magic = _const(x, fmt.magic)
    t = _fma(b, module, x, _const(x, scale), magic)
    return b.fsub(t, magic), b.bitcast(t, fmt.int_type)


def _int_to_float(b: ir.IRBuilder, n, t: ir.Type, fmt: _Format):
    """Small integer n (|n| < 2^(mantissa_bits - 1)) as a float, without sitofp (no AVX2 form
    for i64)."""
    magic = ir.Constant(t, fmt.magic)
    magic_bits = ir.Constant(fmt.int_type, _bits(fmt.magic, fmt))
    return b.fsub(b.bitcast(b.add(n, magic_bits), t), magic)


def _bits(value: float, fmt: _Format) -> int:
    if fmt is _F32:
        return struct.unpack("<I", struct.pack("<f", value))[0]
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def _pow2(b: ir.IRBuilder, n, t: ir.Type, fmt: _Format):
    """2^n for an integer n in the normal exponent range, built from its exponent bits."""
    biased = b.add(n, ir.Constant(fmt.int_type, fmt.bias))
    return b.bitcast(b.shl(biased, ir.Constant(fmt.int_type, fmt.mantissa_bits)), t)


def _is_nan(b: ir.IRBuilder, x):
    return b.fcmp_unordered("uno", x, x)


# ---------------------------------------------------------------- exp, tanh, sigmoid

def _exp_parts(b: ir.IRBuilder, module: ir.Module, x) -> tuple:
    """(r, t, s1, s2) with e^x = (1 + r t) s1 s2: x = n ln2 + r, |r| <= ln2/2, s1 s2 = 2^n.

    2^n is split into two normal factors so that e^x can be subnormal (or just below the
    overflow threshold) while n is out of the exponent range of one factor. NaN x gives
    the parts of e^hi; callers put NaN back.
    """
    fmt = _format(x.type)
    lo, hi = fmt.exp_limits
    # Clamp where the result is already 0 or inf, which keeps n in range.
    xc = b.select(b.fcmp_ordered("<", x, _const(x, hi)), x, _const(x, hi))
    xc = b.select(b.fcmp_ordered(">", xc, _const(x, lo)), xc, _const(x, lo))
    n, n_bits = _round_to_int(b, module, xc, fmt.log2e, fmt)
    n_int = b.sub(n_bits, ir.Constant(fmt.int_type, _bits(fmt.magic, fmt)))
    ln2_hi, ln2_lo = fmt.ln2
    r = _fma(b, module, n, _const(x, -ln2_hi), xc)  # exact
    r = _fma(b, module, n, _const(x, -ln2_lo), r)
    t = _horner(b, module, r, (1.0,) + _EXP_Q[fmt.name])
    half = b.ashr(n_int, ir.Constant(fmt.int_type, 1))
    return r, t, _pow2(b, half, x.type, fmt), _pow2(b, b.sub(n_int, half), x.type, fmt)


def exp(b: ir.IRBuilder, module: ir.Module, x) -> ir.Value:
    """e^x. Subnormal results are computed (gradual underflow), not flushed: only the last
    multiply rounds into the subnormal range."""
    r, t, s1, s2 = _exp_parts(b, module, x)
    y = b.fmul(b.fmul(_fma(b, module, r, t, _const(x, 1.0)), s1), s2)
    return b.select(_is_nan(b, x), x, y)


def tanh(b: ir.IRBuilder, module: ir.Module, x) -> ir.Value:
    """tanh x. float32: a rational fit (see _TANH_P32). float64: an odd polynomial near 0
    (no cancellation, keeps -0.0), else 1 - 2/(e^2|x| + 1)."""
    fmt = _format(x.type)
    if fmt.name == "float32":
        return _tanh_rational(b, module, x)
    z = b.fmul(x, x)
    small = _fma(b, module, b.fmul(x, z), _horner(b, module, z, _TANH_T[fmt.name]), x)
    ax = call_intrinsic(b, "llvm.fabs", x)
    e2 = exp(b, module, b.fadd(ax, ax))  # inf for large |x|: the result is then 1
    large = b.fsub(_const(x, 1.0), b.fdiv(_const(x, 2.0), b.fadd(e2, _const(x, 1.0))))
    large = call_intrinsic(b, "llvm.copysign", large, x)  # NaN stays NaN
    r = b.select(b.fcmp_ordered("<", ax, _const(x, _TANH_POLY_LIMIT)), small, large)
    return call_intrinsic(b, "llvm.copysign", r, x)  # tanh is odd: tanh(-0.0) is -0.0


def _tanh_rational(b: ir.IRBuilder, module: ir.Module, x) -> ir.Value:
    ax = call_intrinsic(b, "llvm.fabs", x)
    limit = _const(x, _TANH_RATIONAL_LIMIT)
    ax = b.select(b.fcmp_unordered("<", ax, limit), ax, limit)  # NaN passes through
    t = b.fmul(ax, ax)
    r = b.fdiv(b.fmul(ax, _horner(b, module, t, _TANH_P32)), _horner(b, module, t, _TANH_Q32))
    one = _const(x, 1.0)
    r = b.select(b.fcmp_ordered(">", r, one), one, r)  # rounding may overshoot 1 near the limit
    return call_intrinsic(b, "llvm.copysign", r, x)  # odd; tanh(-0.0) is -0.0


def sigmoid(b: ir.IRBuilder, module: ir.Module, x) -> ir.Value:
    """1 / (1 + e^-x), as e^x / (1 + e^x) for x < 0 so the left tail keeps relative accuracy.

    With e = e^-|x| in (0, 1], q = 1 / (1 + e) is corrected with fma for the rounding of
    1 + e and of the division. For x < 0, e q is formed before e's last rounding, as
    (q + r (t q)) 2^n, which keeps e's error from adding to q's.
    """
    one = _const(x, 1.0)
    r, t, s1, s2 = _exp_parts(b, module, b.fneg(call_intrinsic(b, "llvm.fabs", x)))
    e = b.fmul(b.fmul(_fma(b, module, r, t, one), s1), s2)
    d = b.fadd(one, e)
    d_err = b.fsub(e, b.fsub(d, one))  # 1 + e == d + d_err exactly (Fast2Sum)
    q = b.fdiv(one, d)
    residual = _fma(b, module, b.fneg(d), q, one)  # 1 - d q, exact
    q = _fma(b, module, q, _fma(b, module, b.fneg(d_err), q, residual), q)
    left = b.fmul(b.fmul(_fma(b, module, r, b.fmul(t, q), q), s1), s2)
    y = b.select(b.fcmp_ordered("<", x, _const(x, 0.0)), left, q)
    return b.select(_is_nan(b, x), x, y)


# ---------------------------------------------------------------- log

def log(b: ir.IRBuilder, module: ir.Module, x) -> ir.Value:
    """Natural log: x = 2^k m with m in [sqrt(1/2), sqrt(2)), log x = k ln2 + log1p(m - 1).

    log1p(f) = f - (f^2/2 - s (f^2/2 + R(s^2))) with s = f / (2 + f), so f enters exactly and
    only small terms carry rounding error. Subnormal x is scaled by 2^(mantissa bits + 1)
    first.
    """
    fmt = _format(x.type)
    it = fmt.int_type
    scale_bits = fmt.mantissa_bits + 1
    smallest_normal = 2.0 ** (1 - fmt.bias)
    subnormal = b.fcmp_ordered("<", x, _const(x, smallest_normal))
    xs = b.select(subnormal, b.fmul(x, _const(x, 2.0**scale_bits)), x)
    # Subtracting sqrt(1/2)'s bits moves the exponent boundary to sqrt(1/2) * 2^k.
    shifted = b.sub(b.bitcast(xs, it), ir.Constant(it, fmt.sqrt_half_bits))
    k = b.ashr(shifted, ir.Constant(it, fmt.mantissa_bits))
    mantissa = b.and_(shifted, ir.Constant(it, (1 << fmt.mantissa_bits) - 1))
    m = b.bitcast(b.add(mantissa, ir.Constant(it, fmt.sqrt_half_bits)), x.type)
    k = b.fsub(_int_to_float(b, k, x.type, fmt),
               b.select(subnormal, _const(x, scale_bits), _const(x, 0.0)))

    f = b.fsub(m, _const(x, 1.0))  # exact
    s = b.fdiv(f, b.fadd(f, _const(x, 2.0)))
    z = b.fmul(s, s)
    r = b.fmul(z, _horner(b, module, z, _LOG_P[fmt.name]))
    half_f2 = b.fmul(b.fmul(f, f), _const(x, 0.5))
    ln2_hi, ln2_lo = fmt.ln2
    tail = _fma(b, module, s, b.fadd(half_f2, r), b.fmul(k, _const(x, ln2_lo)))
    y = _fma(b, module, k, _const(x, ln2_hi), b.fsub(f, b.fsub(half_f2, tail)))

    inf = _const(x, float("inf"))
    y = b.select(b.fcmp_ordered("==", x, inf), inf, y)
    y = b.select(b.fcmp_ordered("==", x, _const(x, 0.0)), _const(x, float("-inf")), y)
    y = b.select(b.fcmp_ordered("<", x, _const(x, 0.0)), _const(x, float("nan")), y)
    return b.select(_is_nan(b, x), x, y)


# ---------------------------------------------------------------- sin, cos

SIN_COS_LIMIT = {f.name: f.sin_cos_limit for f in (_F32, _F64)}


def _sin_cos(b: ir.IRBuilder, module: ir.Module, x, quadrant_shift: int) -> ir.Value:
    """sin(x + quadrant_shift * pi/2): x = k pi/2 + r, |r| <= pi/4 (three-part Cody-Waite)."""
    fmt = _format(x.type)
    k, k_bits = _round_to_int(b, module, x, fmt.two_over_pi, fmt)
    r = x
    for part in fmt.pio2:  # the first step is exact; k * -p keeps sin(-0.0) == -0.0
        r = _fma(b, module, k, _const(x, -part), r)
    # Far past the limit k is wrong and r large: clamp so |result| <= 1. (minnum/maxnum drop
    # NaN; NaN or inf x is restored below.)
    bound = fmt.reduced_bound
    r = call_intrinsic(b, "llvm.maxnum",
                   call_intrinsic(b, "llvm.minnum", r, _const(x, bound)), _const(x, -bound))
    z = b.fmul(r, r)
    sin_r = _fma(b, module, b.fmul(r, z), _horner(b, module, z, _SIN_S[fmt.name]), r)
    cos_r = _fma(b, module, z, _fma(b, module, z, _horner(b, module, z, _COS_C[fmt.name]),
                                    _const(x, -0.5)), _const(x, 1.0))

    quadrant = b.add(k_bits, ir.Constant(fmt.int_type, quadrant_shift))  # magic's low bits are 0
    odd = b.trunc(quadrant, ir.IntType(1))
    negate = b.trunc(b.lshr(quadrant, ir.Constant(fmt.int_type, 1)), ir.IntType(1))
    y = b.select(odd, cos_r, sin_r)
    y = b.select(negate, b.fneg(y), y)
    finite = b.fcmp_ordered("<", call_intrinsic(b, "llvm.fabs", x), _const(x, float("inf")))
    return b.select(finite, y, _const(x, float("nan")))


def sin(b: ir.IRBuilder, module: ir.Module, x) -> ir.Value:
    """sin x; accurate to ACCURACY for |x| <= SIN_COS_LIMIT, in [-1, 1] beyond."""
    r = _sin_cos(b, module, x, 0)
    return b.select(b.fcmp_ordered("==", x, _const(x, 0.0)), x, r)  # sin(-0.0) is -0.0


def cos(b: ir.IRBuilder, module: ir.Module, x) -> ir.Value:
    """cos x = sin(x + pi/2), with the same reduction and limits as ``sin``."""
    return _sin_cos(b, module, x, 1)


# ---------------------------------------------------------------- measured accuracy

# Max error in ulps measured by tests/test_mathlib.py, rounded up to 0.5 ulp: float32 against
# numpy float64, float64 against numpy longdouble (x87 extended, 11 more bits). For float32
# the measurement includes the worst input over all float32s (sin/cos: |x| < 2^17), so these
# are bounds; for float64 the worst of 10^8 random inputs, an estimate.
ACCURACY: dict[str, dict[str, float]] = {
    "exp": {"float32": 1.0, "float64": 1.0},
    "log": {"float32": 1.0, "float64": 1.0},
    "tanh": {"float32": 5.5, "float64": 1.0},
    "sigmoid": {"float32": 2.0, "float64": 2.0},
    "sin": {"float32": 1.5, "float64": 2.0},  # for |x| <= SIN_COS_LIMIT
    "cos": {"float32": 1.5, "float64": 2.0},
}
