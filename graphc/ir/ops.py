"""The primitive ops: one registry entry each (shape/dtype rule, numpy code, VJP).

Every op is an :class:`~graphc.ir.core.Op`; calling it (``ADD(x, y)``) binds a
node through the active handler. VJP rules are written with these same
calls, so a gradient is IR like any other. Composite ops (softmax, var, conv,
losses) are written with these in ``graphc/`` and need nothing here.

Conventions: inputs are Nodes or Python scalars; attributes are plain Python
values; a VJP rule receives the node, its cotangent ``g`` and ``need`` (which
inputs want a gradient) and returns one cotangent or None per input; the
autodiff transform sums broadcast axes and casts, so rules may return
cotangents of the output's shape.
"""
from __future__ import annotations

import math

import numpy as np

from . import dtypes as dt
from . import random as rng
from .core import EMPTY, Node, Op, register
from .errors import (
    ArgumentError,
    DivisionByZero,
    DomainError,
    DTypeError,
    IndexOutOfRange,
    IndexValueError,
    ShapeError,
    describe,
)
from .shapes import broadcast_shapes, check_allocation, numel, reduced_shape


def _shape(x) -> tuple:
    return x.shape if type(x) is Node else ()


def _need_node(op: str, x) -> Node:
    if type(x) is not Node:
        raise ArgumentError(f"{op}(): expected a tensor operand, got {type(x).__name__}")
    return x


def _operands(op: str, inputs) -> str:
    return ", ".join(describe(x) for x in inputs)


# ---------------------------------------------------------------- elementwise unary

def _unary_infer(kind: str):
    def infer(inputs, attrs):
        (x,) = inputs
        x = _need_node(kind, x)
        if kind == "float":
            return x.shape, dt.float_of(x.dtype)
        if kind == "bool":
            return x.shape, dt.bool_
        return x.shape, x.dtype
    return infer


def _unary(name: str, fn, vjp, kind: str = "float", **kw) -> Op:
    return register(Op(name, _unary_infer(kind), None, vjp, ufunc=fn,
                       cast_inputs=kind == "float", **kw))


def _zeros_like(n: Node) -> Node:
    return CONSTANT(value=0, shape=n.shape, dtype=n.dtype)


def _zero_grad(n, g, need):
    return (_zeros_like(g),)


NEG = _unary("neg", np.negative, lambda n, g, need: (NEG(g),), kind="same")
EXP = _unary("exp", np.exp, lambda n, g, need: (MUL(g, n),))
LOG = _unary("log", np.log, lambda n, g, need: (DIV(g, n.inputs[0]),))
SIN = _unary("sin", np.sin, lambda n, g, need: (MUL(g, COS(n.inputs[0])),))
COS = _unary("cos", np.cos, lambda n, g, need: (NEG(MUL(g, SIN(n.inputs[0]))),))
SQRT = _unary("sqrt", np.sqrt, lambda n, g, need: (DIV(g, MUL(n, 2.0)),))
TANH = _unary("tanh", np.tanh, lambda n, g, need: (MUL(g, SUB(1.0, MUL(n, n))),))
ABS = _unary("abs", np.abs, lambda n, g, need: (MUL(g, SIGN(n.inputs[0])),), kind="same")
def _sign_impl(x):
    if x.dtype.kind == "b":  # numpy has no bool sign; PyTorch's is the identity
        return x.copy()
    s = np.sign(x)
    if x.dtype.kind != "f":
        return s
    return np.where(s == s, s + 0.0, 0.0)  # PyTorch: sign(nan) and sign(-0.0) are +0.0


SIGN = _unary("sign", _sign_impl, _zero_grad, kind="same")
FLOOR = _unary("floor", np.floor, _zero_grad, kind="same")
CEIL = _unary("ceil", np.ceil, _zero_grad, kind="same")
RECIPROCAL = _unary("reciprocal", np.reciprocal,
                    lambda n, g, need: (NEG(MUL(g, MUL(n, n))),))
LOGICAL_NOT = _unary("logical_not", np.logical_not, None, kind="bool")


def _cast_infer(inputs, attrs):
    (x,) = inputs
    return _need_node("cast", x).shape, attrs["dtype"]


CAST = register(Op("cast", _cast_infer, lambda attrs, x: x.astype(attrs["dtype"].np),
                   lambda n, g, need: (g,), grad_name="ToCopy"))


# ---------------------------------------------------------------- elementwise binary

def _binary_infer(name: str, kind: str):
    is_sub = name == "sub"

    def infer(inputs, attrs):
        x, y = inputs
        sx = x.shape if type(x) is Node else ()
        sy = y.shape if type(y) is Node else ()
        if sx == sy or not sy:
            shape = sx
        else:
            shape = sy if not sx else broadcast_shapes(sx, sy, op=name)
        if kind == "bool":
            return shape, dt.bool_
        if type(x) is Node and type(y) is Node and x.dtype is y.dtype:
            d = x.dtype  # (the common case, without a call)
        elif type(x) is not Node and type(y) is not Node:
            raise ArgumentError(f"{name}(): expected at least one tensor operand")
        else:
            d = pair_result_type(x, y)
        if kind == "float":
            d = dt.float_of(d)
        elif d is dt.bool_ and name in _NO_BOOL:
            raise DTypeError(f"{name}(): not supported for bool tensors "
                             f"({_operands(name, inputs)})")
        elif is_sub and (_is_bool(x) or _is_bool(y)):  # as PyTorch, any bool operand
            raise DTypeError(f"sub(): subtraction, the `-` operator, with a bool tensor is not "
                             f"supported ({_operands(name, inputs)}); to invert a mask, use "
                             "`~` or logical_not()")
        return shape, d
    return infer


_SCALARS = (bool, int, float)
_NO_BOOL = ("pow", "floor_divide", "remainder")  # PyTorch: "not implemented for 'Bool'"


def _is_bool(v) -> bool:
    return type(v) is bool or type(v) is Node and v.dtype is dt.bool_


def pair_result_type(x, y) -> dt.DType:
    """PyTorch's result type of two operands; the common cases before the general rule."""
    if type(x) is Node:
        if type(y) is Node:
            if x.dtype is y.dtype:
                return x.dtype
        elif x.dtype.kind == dt.FLOAT and type(y) in _SCALARS:
            return x.dtype  # a Python scalar never widens a float tensor
    elif type(y) is Node and y.dtype.kind == dt.FLOAT and type(x) in _SCALARS:
        return y.dtype
    return dt.result_type((x, y))


def _binary(name: str, fn, vjp, kind: str = "arith", **kw) -> Op:
    cast = kw.pop("cast_inputs", kind != "bool")
    return register(Op(name, _binary_infer(name, kind), None, vjp, ufunc=fn,
                       cast_inputs=cast, **kw))


def _mul_vjp(n, g, need):
    x, y = n.inputs
    return (MUL(g, y) if need[0] else None, MUL(g, x) if need[1] else None)


def _div_vjp(n, g, need):
    x, y = n.inputs
    return (DIV(g, y) if need[0] else None,
            NEG(DIV(MUL(g, n), y)) if need[1] else None)


def _pow_vjp(n, g, need):
    x, y = n.inputs
    gx = gy = None
    if need[0]:
        if type(y) is Node:
            gx = WHERE(EQ(y, 0.0), 0.0, MUL(g, MUL(y, POW(x, SUB(y, 1.0)))))
        elif y == 0:
            gx = _zeros_like(g)
        elif y == 2:
            gx = MUL(g, MUL(x, 2.0))
        else:
            gx = MUL(g, MUL(y, POW(x, y - 1)))
    if need[1]:
        if type(x) is Node:
            at_zero = LOGICAL_AND(EQ(x, 0.0), GE(y, 0.0))
            gy = WHERE(at_zero, 0.0, MUL(g, MUL(n, LOG(x))))
        else:  # a literal base: d(c**y)/dy = c**y * log(c)
            gy = MUL(g, MUL(n, math.log(x))) if x > 0 else _zeros_like(g)
    return gx, gy


def _select_weight(cmp: Op, n):
    """Weight of the first operand in maximum/minimum: 1, 0, or 1/2 on ties (PyTorch)."""
    x, y = n.inputs
    return ADD(CAST(cmp(x, y), dtype=n.dtype), MUL(CAST(EQ(x, y), dtype=n.dtype), 0.5))


def _minmax_vjp(cmp: Op):
    def vjp(n, g, need):
        w = _select_weight(cmp, n)
        return (MUL(g, w) if need[0] else None, MUL(g, SUB(1.0, w)) if need[1] else None)
    return vjp


def _safe_pow(x, y):
    if isinstance(x, np.ndarray) and x.dtype.kind in "iu" and np.any(np.asarray(y) < 0):
        raise DTypeError("pow(): integers to negative integer powers are not allowed")
    if type(y) is float and y == -0.5:  # PyTorch: x ** -0.5 is rsqrt (rsqrt(-0.0) is -inf)
        return np.reciprocal(np.sqrt(x))
    if type(y) in (int, float) and y in (2, 3, -2) and isinstance(x, np.ndarray) and \
            x.dtype.kind == "f":  # PyTorch's x*x, x*x*x and 1/(x*x), its numbers bit for bit;
        # numpy's powf is 100x slower on float32 (GELU's tanh form cubes its input), and
        # its power(x, 2.0) 3x slower than square
        sq = np.square(x)
        return sq if y == 2 else sq * x if y == 3 else np.reciprocal(sq)
    return np.power(x, y)  # (x ** 0.5 is sqrt here too: NaN at -inf, as in PyTorch)


ADD = _binary("add", np.add, lambda n, g, need: (g, g))
SUB = _binary("sub", np.subtract, lambda n, g, need: (g, NEG(g) if need[1] else None))
MUL = _binary("mul", np.multiply, _mul_vjp)
DIV = _binary("div", np.true_divide, _div_vjp, kind="float")
POW = _binary("pow", _safe_pow, _pow_vjp)
MAXIMUM = _binary("maximum", np.maximum, None)
MINIMUM = _binary("minimum", np.minimum, None)
EQ = _binary("eq", np.equal, None, kind="bool", cast_inputs="promote")
NE = _binary("ne", np.not_equal, None, kind="bool", cast_inputs="promote")
LT = _binary("lt", np.less, None, kind="bool", cast_inputs="promote")
LE = _binary("le", np.less_equal, None, kind="bool", cast_inputs="promote")
GT = _binary("gt", np.greater, None, kind="bool", cast_inputs="promote")
GE = _binary("ge", np.greater_equal, None, kind="bool", cast_inputs="promote")
LOGICAL_AND = _binary("logical_and", np.logical_and, None, kind="bool")
LOGICAL_OR = _binary("logical_or", np.logical_or, None, kind="bool")
MAXIMUM.vjp, MAXIMUM.differentiable = _minmax_vjp(GT), True
MINIMUM.vjp, MINIMUM.differentiable = _minmax_vjp(LT), True


# ---------------------------------------------------------------- floor division, remainder
# Python's (and PyTorch's) semantics: the quotient is floored and the remainder takes the
# divisor's sign. Integers are divided as integers (exact at any size); an integer division
# by zero raises, eagerly and in compiled code (its kernels report it).

def _integer_operands(x, y) -> bool:
    """Whether the division is an integer one (the operands were cast to the result type)."""
    v = x if type(x) is np.ndarray else y
    return type(v) is np.ndarray and v.dtype.kind in "iu"


def _division_by_zero(name: str):
    def failure(node: Node, value: int) -> tuple:
        x, y = node.inputs
        return DivisionByZero, (f"{name}(): ZeroDivisionError: integer division by zero "
                                f"({describe(x)} by {describe(y)})")
    return failure


def _check_divisor(name: str, x, y) -> None:
    if _integer_operands(x, y) and not np.all(y):
        raise DivisionByZero(f"{name}(): ZeroDivisionError: integer division by zero")


def _floor_divide_impl(x, y):
    _check_divisor("floor_divide", x, y)
    return np.floor_divide(x, y)  # floats: PyTorch's algorithm too (fmod-based, floored)


def _remainder_impl(x, y):
    _check_divisor("remainder", x, y)
    if not (type(x) is np.ndarray and x.dtype.kind == "f" or
            type(y) is np.ndarray and y.dtype.kind == "f"):
        return np.remainder(x, y)
    # PyTorch's float remainder: fmod moved into the divisor's sign (numpy's differs in the
    # sign of a zero result)
    mod = np.fmod(x, y)
    return np.where((mod != 0) & ((np.asarray(y) < 0) != (mod < 0)), mod + y, mod)


def _remainder_vjp(n, g, need):
    x, y = n.inputs
    return (g if need[0] else None, NEG(MUL(g, FLOOR_DIVIDE(x, y))) if need[1] else None)


FLOOR_DIVIDE = _binary("floor_divide", _floor_divide_impl,
                       lambda n, g, need: tuple(_zeros_like(g) if w else None for w in need),
                       failure=_division_by_zero("floor_divide"))
REMAINDER = _binary("remainder", _remainder_impl, _remainder_vjp,
                    failure=_division_by_zero("remainder"))


# ---------------------------------------------------------------- check_range
# The identity on values in range, which raises for any other: integers in [low, high)
# (IndexValueError, "<what> must be in [low, high), got <value>": one_hot's classes, traced
# indices), floats in [low, high] (DomainError, "<what> must be in [low, high]", NaN too:
# binary_cross_entropy's probabilities), eagerly and from compiled kernels. With
# ``verbatim=True`` the message is ``what`` itself.

def _check_range_infer(inputs, attrs):
    (x,) = inputs
    x = _need_node("check_range", x)
    if x.dtype.kind == dt.BOOL:
        raise DTypeError(f"check_range(): expected a number tensor, got {describe(x)}")
    return x.shape, x.dtype


def _range_failure(attrs: dict, dtype, value) -> tuple:
    """The error and message: ``what`` with the range, or ``what`` itself where it holds a
    "{value}" placeholder (traced indexing: "index {value} is out of bounds for ...")."""
    what = attrs["what"]
    if attrs.get("verbatim"):  # ``what`` is the whole message (clip_grad_norm_'s non-finite)
        return (DomainError if dtype.kind == dt.FLOAT else IndexValueError), what
    if dtype.kind == dt.FLOAT:
        return DomainError, f"{what} must be in [{attrs['low']}, {attrs['high']}]"
    if "{value}" in what:
        return IndexValueError, what.replace("{value}", str(value))
    return IndexValueError, f"{what} must be in [{attrs['low']}, {attrs['high']}), got {value}"


def _check_range_impl(attrs, x):
    if x.size:
        lo, hi = x.min(), x.max()
        if x.dtype.kind == "f":
            if not (lo >= attrs["low"] and hi <= attrs["high"]):  # NaN fails too
                error, message = _range_failure(attrs, dt.from_numpy(x.dtype), None)
                raise error(message)
        elif lo < attrs["low"] or hi >= attrs["high"]:
            raise IndexValueError(_range_failure(attrs, dt.int64, int(
                lo if lo < attrs["low"] else hi))[1])
    return x.view()


CHECK_RANGE = register(Op("check_range", _check_range_infer, _check_range_impl,
                          lambda n, g, need: (g,),
                          failure=lambda n, v: _range_failure(n.attrs, n.dtype, v)))


# ---------------------------------------------------------------- where

def _where_infer(inputs, attrs):
    c, x, y = inputs
    c = _need_node("where", c)
    if c.dtype is not dt.bool_:
        raise DTypeError(f"where(): expected a bool condition, got {describe(c)}")
    return broadcast_shapes(c.shape, _shape(x), _shape(y), op="where"), pair_result_type(x, y)


_INT_OF_SIZE = {4: np.int32, 8: np.int64}
_BRANCH_FREE_MIN = 1024  # below this many elements np.where's branches cost less than masks


def _where_impl(attrs, c, x, y):
    # np.where branches on every element: on a mask with no pattern (relu's and its
    # gradient's) that costs ~4 ns an element; large float selects go branch-free instead
    if c.size >= _BRANCH_FREE_MIN:
        d = _select_dtype(c, x, y)
        if d is not None:
            return _select_bits(c, _bits_of(x, d), _bits_of(y, d)).view(d)
    return np.where(c, x, y)


def _select_dtype(c, x, y) -> np.dtype | None:
    """The float dtype of a select that needs no broadcast or cast: its array operands
    have c's shape and one float dtype (other operands are Python scalars); else None."""
    d = None
    for v in (x, y):
        if type(v) is np.ndarray:
            if v.shape != c.shape or v.dtype.kind != "f" or d is not None and v.dtype != d:
                return None
            d = v.dtype
        elif type(v) not in _SCALARS:
            return None
    return d if d is not None and d.itemsize in _INT_OF_SIZE else None


def _bits_of(v, d: np.dtype) -> np.ndarray | None:
    """``v`` (an array of dtype ``d`` or a Python scalar) as integers of ``d``'s bits; None
    for +0.0 (relu's literal), whose bits are all zero: no array needed."""
    if type(v) is not np.ndarray:
        if v == 0 and math.copysign(1, v) > 0:
            return None
        v = np.array(v, dtype=d)
    return v.view(_INT_OF_SIZE[d.itemsize])


def _select_bits(c: np.ndarray, xb: np.ndarray | None, yb: np.ndarray | None) -> np.ndarray:
    """``where(c, x, y)`` on the integer bits of x and y (None: +0.0): y ^ ((x ^ y) & -c)."""
    if yb is None:  # x & -c
        m = c.astype(xb.dtype)
        np.negative(m, out=m)
        return np.bitwise_and(xb, m, out=m)
    m = c.astype(yb.dtype)
    if xb is None:  # y & (c - 1)
        np.subtract(m, 1, out=m)
        return np.bitwise_and(yb, m, out=m)
    np.negative(m, out=m)
    t = np.bitwise_xor(xb, yb)
    np.bitwise_and(t, m, out=t)
    return np.bitwise_xor(t, yb, out=t)


def _where_vjp(n, g, need):
    c = n.inputs[0]
    return (None, WHERE(c, g, 0.0) if need[1] else None, WHERE(c, 0.0, g) if need[2] else None)


# no input casts: the condition stays bool (a float copy of it cost more than the select)
# and the result is cast to the promoted dtype once
WHERE = register(Op("where", _where_infer, _where_impl, _where_vjp))


# ---------------------------------------------------------------- reductions

def _reduce_infer(name: str):
    def infer(inputs, attrs):
        (x,) = inputs
        x = _need_node(name, x)
        axes, shape = attrs["axes"], x.shape
        top = max(len(shape), 1)
        for a in axes:
            if not 0 <= a < top:
                raise IndexOutOfRange(f"{name}(): axes {axes} out of range for {describe(x)}")
        if not shape:
            axes = ()  # dim 0 or -1 of a 0-d tensor
        elif name == "max":
            for a in axes:
                if shape[a] == 0:
                    raise IndexOutOfRange(f"max(): Expected reduction dim {a} to have non-zero "
                                          f"size (a reduction over an empty dim of "
                                          f"{describe(x)})")
        d = x.dtype
        if name == "sum" and d.kind != dt.FLOAT:
            d = dt.int64
        return reduced_shape(shape, axes, attrs["keepdims"]), d
    return infer


def _keepdims_shape(n: Node) -> tuple:
    x = n.inputs[0]
    axes = tuple(a for a in n.attrs["axes"] if a < x.ndim)
    return reduced_shape(x.shape, axes, True)


def reshape_to(x, shape: tuple):
    """``x`` reshaped, or ``x`` itself when it has the shape already (no no-op nodes)."""
    return x if x.shape == shape else RESHAPE(x, shape=shape)


def expand_to(x, shape: tuple):
    return x if x.shape == shape else EXPAND(x, shape=shape)


def _expand_back(n: Node, g: Node) -> Node:
    """The reduced cotangent reshaped with kept dims and expanded to the input's shape."""
    shape, axes = n.inputs[0].shape, n.attrs["axes"]
    if not n.attrs["keepdims"] and axes == tuple(range(len(axes))):
        return expand_to(g, shape)  # leading axes (or all) reduced: g broadcasts as it is
    return expand_to(reshape_to(g, _keepdims_shape(n)), shape)


def _sum_impl(attrs, x):
    axes = tuple(attrs["axes"]) if x.ndim else ()  # (infer checked them; a 0-d x has none)
    d = None if x.dtype.kind == "f" else np.int64
    return np.add.reduce(x, axis=axes, keepdims=attrs["keepdims"], dtype=d)


def _max_impl(attrs, x):
    axes = tuple(attrs["axes"]) if x.ndim else ()
    return np.maximum.reduce(x, axis=axes, keepdims=attrs["keepdims"])


def _max_vjp(n, g, need):
    x = n.inputs[0]
    out = reshape_to(n, _keepdims_shape(n))
    mask = CAST(EQ(x, out), dtype=n.dtype)
    axes = n.attrs["axes"]
    share = DIV(mask, SUM(mask, axes=axes, keepdims=True))
    return (MUL(share, _expand_back(n, g)),)


SUM = register(Op("sum", _reduce_infer("sum"), _sum_impl,
                  lambda n, g, need: (_expand_back(n, g),)))
MAX = register(Op("max", _reduce_infer("max"), _max_impl, _max_vjp, grad_name="Amax"))


# ---------------------------------------------------------------- movement

def _reshape_infer(inputs, attrs):
    (x,) = inputs
    x = _need_node("reshape", x)
    shape = tuple(attrs["shape"])
    if numel(shape) != numel(x.shape) or any(d < 0 for d in shape):
        raise ShapeError(f"reshape(): shape {list(shape)} is invalid for input {describe(x)}")
    return shape, x.dtype


def _permute_infer(inputs, attrs):
    (x,) = inputs
    x = _need_node("permute", x)
    perm = tuple(attrs["perm"])
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"permute(): {list(perm)} is not a permutation of the dims of "
                         f"{describe(x)}")
    return tuple(x.shape[p] for p in perm), x.dtype


def _expand_infer(inputs, attrs):
    (x,) = inputs
    x = _need_node("expand", x)
    shape = tuple(attrs["shape"])
    lead = len(shape) - x.ndim
    if lead < 0 or any(d != s and d != 1 for d, s in zip(x.shape, shape[lead:])):
        raise ShapeError(f"expand(): the expanded size {list(shape)} must match the existing "
                         f"size {list(x.shape)} at each non-singleton dimension")
    return shape, x.dtype


def _inverse_perm(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


# (the array methods, not np.reshape/np.transpose: those add two Python calls per op)
RESHAPE = register(Op("reshape", _reshape_infer, lambda a, x: x.reshape(a["shape"]),
                      lambda n, g, need: (reshape_to(g, n.inputs[0].shape),),
                      view=True, grad_name="View"))
PERMUTE = register(Op("permute", _permute_infer, lambda a, x: x.transpose(a["perm"]),
                      lambda n, g, need: (PERMUTE(g, perm=_inverse_perm(n.attrs["perm"])),),
                      view=True))


def _expand_impl(attrs, x):
    """A read-only broadcast view, as ``np.broadcast_to`` gives; built directly on a
    C-contiguous ``x`` (broadcast_to sets up an nditer: 2-3x the time of a small op)."""
    shape = attrs["shape"]
    if not (x.size and x.flags.c_contiguous):
        return np.broadcast_to(x, shape)
    lead = len(shape) - x.ndim
    strides = (0,) * lead + tuple([st if d == s else 0
                                   for d, s, st in zip(x.shape, shape[lead:], x.strides)])
    out = np.ndarray(shape, x.dtype, x, 0, strides)
    out.flags.writeable = False
    return out


EXPAND = register(Op("expand", _expand_infer, _expand_impl, lambda n, g, need: (g,),
                     view=True))


def slice_len(start: int, stop: int, step: int) -> int:
    return max(0, -(-(stop - start) // step))


def _slice_infer(inputs, attrs):
    (x,) = inputs
    x = _need_node("slice", x)
    starts, stops, steps = attrs["starts"], attrs["stops"], attrs["steps"]
    if not len(starts) == len(stops) == len(steps) == x.ndim:
        raise ShapeError(f"slice(): needs one start/stop/step per dim of {describe(x)}")
    shape = []
    for d, a, b, s in zip(x.shape, starts, stops, steps):
        if s < 1 or not 0 <= a <= d or not 0 <= b <= d:
            raise ShapeError(f"slice(): bad slice {a}:{b}:{s} of a dim of size {d}")
        shape.append(slice_len(a, b, s))
    return tuple(shape), x.dtype


def _slice_impl(attrs, x):
    return x[tuple(slice(a, b, s) for a, b, s in zip(attrs["starts"], attrs["stops"],
                                                      attrs["steps"]))]


def unslice(g: Node, shape: tuple, starts, steps) -> Node:
    """Place ``g`` back at the sliced positions of a zero tensor of ``shape``."""
    widths = []
    for axis, (d, a, s) in enumerate(zip(shape, starts, steps)):
        m = g.shape[axis]
        if s > 1 and m > 1:
            # interleave s-1 zeros after each element: [m] -> [m, 1] -> [m, s] -> [m*s]
            lead, rest = g.shape[:axis], g.shape[axis + 1:]
            g = RESHAPE(g, shape=lead + (m, 1) + rest)
            pad = [(0, 0)] * g.ndim
            pad[axis + 1] = (0, s - 1)
            g = PAD(g, widths=tuple(pad), value=0)
            g = RESHAPE(g, shape=lead + (m * s,) + rest)
            span = (m - 1) * s + 1
            g = SLICE(g, starts=(0,) * g.ndim, stops=lead + (span,) + rest,
                      steps=(1,) * g.ndim)
        span = g.shape[axis]
        widths.append((a if m else d, d - a - span if m else 0))
    return PAD(g, widths=tuple(widths), value=0)


SLICE = register(Op("slice", _slice_infer, _slice_impl,
                    lambda n, g, need: (unslice(g, n.inputs[0].shape, n.attrs["starts"],
                                                n.attrs["steps"]),),
                    view=True))


def _pad_infer(inputs, attrs):
    (x,) = inputs
    x = _need_node("pad", x)
    widths = attrs["widths"]
    if len(widths) != x.ndim or any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ShapeError(f"pad(): widths {widths} do not fit {describe(x)}")
    return tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, widths)), x.dtype


def _pad_vjp(n, g, need):
    x = n.inputs[0]
    starts = tuple(lo for lo, _ in n.attrs["widths"])
    stops = tuple(lo + d for (lo, _), d in zip(n.attrs["widths"], x.shape))
    return (SLICE(g, starts=starts, stops=stops, steps=(1,) * x.ndim),)


def _pad_impl(attrs, x):
    """np.pad's result, written directly: np.pad's Python layers cost more than the copy
    for the arrays a slice's gradient pads (about 100 us for a few thousand elements)."""
    widths = attrs["widths"]
    out = np.empty(tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, widths)), dtype=x.dtype)
    np.copyto(out, attrs["value"], casting="unsafe")
    out[tuple(slice(lo, lo + d) for d, (lo, _) in zip(x.shape, widths))] = x
    return out


PAD = register(Op("pad", _pad_infer, _pad_impl, _pad_vjp, grad_name="ConstantPadNd"))


def _concat_infer(inputs, attrs):
    if not inputs:
        raise ShapeError("cat(): expected a non-empty list of tensors")
    xs = [_need_node("cat", x) for x in inputs]
    axis = attrs["axis"]
    first = xs[0]
    for x in xs[1:]:
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                       if i != axis):
            raise ShapeError(f"cat(): sizes of tensors must match except in dimension {axis}; "
                             f"got {_operands('cat', xs)}")
    if not 0 <= axis < first.ndim:
        raise IndexOutOfRange(f"cat(): dimension {axis} out of range for {describe(first)}")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return tuple(shape), dt.result_type(xs)


def _concat_vjp(n, g, need):
    axis, grads, pos = n.attrs["axis"], [], 0
    for x, want in zip(n.inputs, need):
        d = x.shape[axis]
        if want:
            starts = tuple(pos if i == axis else 0 for i in range(g.ndim))
            stops = tuple(pos + d if i == axis else s for i, s in enumerate(g.shape))
            grads.append(SLICE(g, starts=starts, stops=stops, steps=(1,) * g.ndim))
        else:
            grads.append(None)
        pos += d
    return tuple(grads)


CONCAT = register(Op("concat", _concat_infer,
                     lambda a, *xs: np.concatenate(xs, axis=a["axis"]), _concat_vjp,
                     cast_inputs=True, grad_name="Cat"))


# ---------------------------------------------------------------- gather / scatter-add

def _index_grid(index: np.ndarray, axis: int) -> tuple:
    """numpy index tuple selecting ``[..., index[...], ...]`` along ``axis`` (what
    ``np.indices(sparse=True)`` gives, without its Python overhead or the unused axis)."""
    n = index.ndim
    return tuple([index if i == axis else np.arange(d).reshape((1,) * i + (d,) + (1,) * (n - i - 1))
                  for i, d in enumerate(index.shape)])


def _index_message(name: str, index: int, size: int) -> str:
    return f"{name}(): index {index} is out of bounds for dimension with size {size}"


def _check_index_values(name: str, index: np.ndarray, size: int) -> None:
    # one pass: as unsigned, a negative index is larger than any size (and the ufunc's
    # reduce, not index.max(): that adds a Python call; eager pays per op)
    if index.size and np.maximum.reduce(index.view(np.uint64), None) >= size:
        bad = index[(index < 0) | (index >= size)].flat[0]
        raise IndexValueError(_index_message(name, bad, size))


def indexed_size(node: Node) -> int:
    """The size of the dim that gather's or scatter_add's indices select along."""
    x = node.inputs[0]
    return x.shape[node.attrs["axis"]] if x.shape else 1


def _index_failure(node: Node, value: int) -> tuple:
    return IndexValueError, _index_message(node.attrs.get("user_op", node.op.name), value,
                                           indexed_size(node))


def _gather_infer(inputs, attrs):
    x, index = (_need_node("gather", v) for v in inputs)
    axis = attrs["axis"]
    if index.dtype is not dt.int64:
        raise DTypeError(f"gather(): expected an int64 index, got {describe(index)}")
    if index.ndim != x.ndim or not 0 <= axis < max(x.ndim, 1) or any(
            i > s for d, (i, s) in enumerate(zip(index.shape, x.shape)) if d != axis):
        raise ShapeError(f"gather(): index {describe(index)} does not fit input {describe(x)} "
                         f"along dim {axis}")
    return index.shape, x.dtype


def _gather_impl(attrs, x, index):
    axis, name = attrs["axis"], attrs.get("user_op", "gather")
    if x.ndim == 0:
        _check_index_values(name, index, 1)
        return x.copy()
    _check_index_values(name, index, x.shape[axis])
    return x[_index_grid(index, axis)]


def _gather_vjp(n, g, need):
    x, index = n.inputs
    return (SCATTER_ADD(_zeros_like(x), index, g, axis=n.attrs["axis"]), None)


# attrs: axis; user_op (optional), the op the user called (index_select, embedding,
# nll_loss, ...), which an index out of range names, eagerly and from compiled kernels
GATHER = register(Op("gather", _gather_infer, _gather_impl, _gather_vjp,
                     failure=_index_failure))


def _scatter_add_infer(inputs, attrs):
    base, index, src = (_need_node("scatter_add", v) for v in inputs)
    axis = attrs["axis"]
    if index.dtype is not dt.int64:
        raise DTypeError(f"scatter_add(): expected an int64 index, got {describe(index)}")
    if base.dtype is not src.dtype:
        raise DTypeError(f"scatter_add(): expected self.dtype to be equal to src.dtype, got "
                         f"{describe(base)} and {describe(src)}")
    if not (index.ndim == base.ndim == src.ndim) or any(
            i > s for i, s in zip(index.shape, src.shape)) or any(
            i > b for d, (i, b) in enumerate(zip(index.shape, base.shape)) if d != axis):
        raise ShapeError(f"scatter_add(): index {describe(index)} does not fit self "
                         f"{describe(base)} and src {describe(src)} along dim {axis}")
    return base.shape, base.dtype


def _scatter_add_impl(attrs, base, index, src):
    axis = attrs["axis"]
    out = np.array(base, copy=True)
    if base.ndim == 0:
        _check_index_values("scatter_add", index, 1)
        return out + src.sum() * (index.size > 0)
    _check_index_values("scatter_add", index, base.shape[axis])
    part = src if src.shape == index.shape else src[tuple(slice(0, d) for d in index.shape)]
    grid = _index_grid(index, axis)
    if index.shape[axis] == 1:
        # one index per line along the axis: no position is hit twice, so a plain indexed add
        # is exact (and the gather-of-targets gradient of a loss is 7x faster than bincount)
        out[grid] += part
        return out
    if out.dtype.kind == "f" and out.size:
        # one bincount over flat positions (float64 sums, rounded once) instead of np.add.at,
        # which is an order of magnitude slower
        flat = np.ravel_multi_index(np.broadcast_arrays(*grid), out.shape).ravel()
        sums = np.bincount(flat, weights=part.ravel().astype(np.float64), minlength=out.size)
        return (out.astype(np.float64) + sums.reshape(out.shape)).astype(out.dtype)
    np.add.at(out, grid, part)
    return out


def _scatter_add_vjp(n, g, need):
    base, index, src = n.inputs
    gsrc = None
    if need[2]:
        gsrc = GATHER(g, index, axis=n.attrs["axis"])
        if gsrc.shape != src.shape:
            gsrc = PAD(gsrc, widths=tuple((0, s - i) for s, i in zip(src.shape, gsrc.shape)),
                       value=0)
    return (g if need[0] else None, None, gsrc)


SCATTER_ADD = register(Op("scatter_add", _scatter_add_infer, _scatter_add_impl,
                          _scatter_add_vjp, failure=_index_failure))


# ---------------------------------------------------------------- argsort

def _argsort_infer(inputs, attrs):
    (x,) = inputs
    x = _need_node("argsort", x)
    if not 0 <= attrs["axis"] < max(x.ndim, 1):
        raise IndexOutOfRange(f"argsort(): dim {attrs['axis']} out of range for {describe(x)}")
    return x.shape, dt.int64


def _argsort_impl(attrs, x):
    if x.ndim == 0:
        return np.zeros((), dtype=np.int64)
    axis = attrs["axis"]
    if not attrs["descending"]:
        return np.argsort(x, axis=axis, kind="stable")
    # stable descending: sort the reversed array ascending on negated keys would break
    # ties the wrong way; reverse, sort stably, reverse back and remap the positions
    n = x.shape[axis]
    flipped = np.flip(x, axis=axis)
    order = np.argsort(flipped, axis=axis, kind="stable")
    return (n - 1 - np.flip(order, axis=axis)).astype(np.int64)


# The positions that sort ``x`` along ``axis`` (stable; NaN last ascending, first descending
# as in PyTorch). Not differentiable: sort, topk and friends gather with it.
ARGSORT = register(Op("argsort", _argsort_infer, _argsort_impl, None))


# ---------------------------------------------------------------- matmul

def _matmul_infer(inputs, attrs):
    x, y = inputs
    _need_node("matmul", x)
    _need_node("matmul", y)
    if len(x.shape) < 2 or len(y.shape) < 2:
        raise ShapeError(f"matmul(): primitive needs 2-D or batched operands, got "
                         f"{describe(x)} @ {describe(y)}")
    if x.shape[-1] != y.shape[-2]:
        raise ShapeError(f"matmul(): mat1 and mat2 shapes cannot be multiplied "
                         f"({'x'.join(map(str, x.shape))} and {'x'.join(map(str, y.shape))})")
    if x.dtype is not y.dtype:
        raise DTypeError(f"matmul(): expected both operands to have the same dtype, but got "
                         f"{x.dtype.name} != {y.dtype.name}")
    if x.dtype is dt.bool_:
        raise DTypeError("matmul(): not implemented for bool tensors")
    if len(x.shape) == len(y.shape) == 2:
        return (x.shape[0], y.shape[1]), x.dtype
    batch = broadcast_shapes(x.shape[:-2], y.shape[:-2], op="matmul")
    return batch + (x.shape[-2], y.shape[-1]), x.dtype


def _transpose_last(x: Node) -> Node:
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    if x.op is PERMUTE and x.attrs["perm"] == perm:  # (w^T)^T is w: linear's weight
        return x.inputs[0]
    return PERMUTE(x, perm=perm)


def _matmul_vjp(n, g, need):
    x, y = n.inputs
    gy = None
    if need[1]:
        if len(y.shape) == 2 and len(x.shape) > 2:
            # a matrix shared by every leading index (a Linear's weight on (B, T, in)): one
            # matmul over all B*T rows, not one per index summed afterwards (as addmm)
            rows = math.prod(x.shape[:-1])
            gy = MATMUL(_transpose_last(reshape_to(x, (rows, x.shape[-1]))),
                        reshape_to(g, (rows, g.shape[-1])))
        else:
            gy = MATMUL(_transpose_last(x), g)
    return (MATMUL(g, _transpose_last(y)) if need[0] else None, gy)


def _matmul_impl(attrs, x, y):
    """np.matmul; a batched ``x`` times a matrix ``y`` (every Linear on (B, T, in)) as one
    2-D product of x's rows: numpy runs the batched form as one small product per batch
    index, 3x slower than BLAS on the whole (2.3 ms against 0.7 ms at 32x64x512 @ 512x128)."""
    if y.ndim == 2 and x.ndim > 2 and x.flags.c_contiguous:
        return np.matmul(x.reshape(-1, x.shape[-1]), y).reshape(x.shape[:-1] + y.shape[-1:])
    return np.matmul(x, y)


MATMUL = register(Op("matmul", _matmul_infer, _matmul_impl, _matmul_vjp, grad_name="Mm"))


def _detach_infer(inputs, attrs):
    (x,) = inputs
    x = _need_node("detach", x)
    return x.shape, x.dtype


# The identity with no gradient: a value autodiff treats as a constant (stop_gradient).
DETACH = register(Op("detach", _detach_infer, lambda a, x: x.view(), None, view=True,
                    passthrough=0))


# ---------------------------------------------------------------- sources

def _constant_infer(inputs, attrs):
    return tuple(attrs["shape"]), attrs["dtype"]


def _constant_impl(attrs, *unused):
    value = attrs["value"]
    if isinstance(value, np.ndarray):
        return value
    out = np.empty(attrs["shape"], dtype=attrs["dtype"].np)  # np.full's body: its Python
    np.copyto(out, value, casting="unsafe")                  # wrapper costs more here
    return out


CONSTANT = register(Op("constant", _constant_infer, _constant_impl, None))


def _arange_infer(inputs, attrs):
    start, stop, step = attrs["start"], attrs["stop"], attrs["step"]
    if step == 0:
        raise ShapeError("arange(): step must be nonzero")
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ShapeError(f"arange(): unsupported range {start} -> {stop} with step {step}")
    if (stop - start) * step < 0:
        raise ShapeError(f"arange(): upper bound and lower bound inconsistent with step sign "
                         f"({start}, {stop}, {step})")
    shape = (max(0, math.ceil((stop - start) / step)),)
    check_allocation("arange", shape, attrs["dtype"])
    return shape, attrs["dtype"]


def _arange_impl(attrs, *unused):
    start, step, d = attrs["start"], attrs["step"], attrs["dtype"]
    (n,) = _arange_infer((), attrs)[0]
    return (start + np.arange(n, dtype=np.float64 if d.kind == dt.FLOAT else np.int64)
            * step).astype(d.np)


ARANGE = register(Op("arange", _arange_infer, _arange_impl, None))


def _random_infer(inputs, attrs):
    d = attrs["dtype"]
    if d.kind != dt.FLOAT:
        raise DTypeError(f"random(): uniform numbers need a floating dtype, got {d}")
    return tuple(attrs["shape"]), d


def _random_impl(attrs, seed, offset):
    return rng.uniform(int(seed), int(offset), tuple(attrs["shape"]), attrs["dtype"].np)


# Uniform [0, 1) numbers of draw ``offset`` under ``seed`` (inputs: int literals or nodes).
RANDOM = register(Op("random", _random_infer, _random_impl, None))

__all__ = [name for name, v in list(globals().items()) if isinstance(v, Op)] + ["EMPTY"]
