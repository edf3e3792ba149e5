"""The lowering table: one small entry per elementwise primitive, emitting the LLVM IR for
one element, for CPU kernels and (with a few GPU entries swapped in, ``ptx.GPU_LOWERINGS``)
GPU kernels.

Values are (llvm value, graphc dtype) pairs; bools are i1 in registers and one byte
in memory. Operands are converted to the op's computation type first (PyTorch's
promotion, as the numpy reference does).
"""
from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ..ir import dtypes as dt
from ..ir.core import Node
from . import mathlib
from .mathlib import call_intrinsic

I1 = ir.IntType(1)
_INT_BITS = {dt.uint8: 8, dt.int8: 8, dt.int16: 16, dt.int32: 32, dt.int64: 64}


def llvm_type(d: dt.DType, memory: bool = False) -> ir.Type:
    """The LLVM type of a value of ``d`` in registers (bool: i1) or in memory (bool: i8)."""
    if d is dt.bool_:
        return ir.IntType(8) if memory else I1
    if d is dt.float32:
        return ir.FloatType()
    if d is dt.float64:
        return ir.DoubleType()
    if d in _INT_BITS:
        return ir.IntType(_INT_BITS[d])
    raise NotImplementedError(f"no LLVM type for {d}")


def convert(b: ir.IRBuilder, v, src: dt.DType, dst: dt.DType):
    """``v`` of dtype ``src`` as a value of ``dst`` (numpy's astype semantics)."""
    if src is dst:
        return v
    t = llvm_type(dst)
    if dst is dt.bool_:
        if src.kind == dt.FLOAT:
            return b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0))  # NaN is True
        return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
    if src is dt.bool_:
        return b.uitofp(v, t) if dst.kind == dt.FLOAT else b.zext(v, t)
    if src.kind == dt.FLOAT and dst.kind == dt.FLOAT:
        return b.fpext(v, t) if dst.itemsize > src.itemsize else b.fptrunc(v, t)
    if src.kind == dt.FLOAT:
        return b.fptosi(v, t) if dst.is_signed else b.fptoui(v, t)
    if dst.kind == dt.FLOAT:
        return b.sitofp(v, t) if src.is_signed else b.uitofp(v, t)
    if dst.itemsize == src.itemsize:
        return v
    if dst.itemsize < src.itemsize:
        return b.trunc(v, t)
    return b.sext(v, t) if src.is_signed else b.zext(v, t)


def literal(x, d: dt.DType):
    t = llvm_type(d)
    if d is dt.bool_:
        return ir.Constant(t, int(bool(x)))
    return ir.Constant(t, float(x) if d.kind == dt.FLOAT else int(x))


class Emitter:
    """Emits one op's element: ``emit(node, operand values) -> llvm value``.

    ``fail(node, bad, value)`` is the kernel's error report, for ops with a ``failure``
    (an i1 ``bad``: record ``node``'s check and the i64 ``value`` in the error buffer).
    """

    def __init__(self, builder: ir.IRBuilder, module: ir.Module,
                 table: dict | None = None, fail: Callable | None = None) -> None:
        self.b = builder
        self.module = module
        self.table = LOWERINGS if table is None else table
        self.fail = fail or _unchecked

    def emit(self, node: Node, operands: list) -> object:
        rule = self.table[node.op.name]
        return rule(self, node, operands)


def _unchecked(node: Node, bad, value) -> None:
    raise AssertionError(f"{node.op.name} can fail but its kernel has no error buffer")

# ---------------------------------------------------------------- the table

def _operands_as(e: Emitter, inputs: tuple, operands: list, d: dt.DType) -> list:
    """The operands as values of ``d``; a literal input (value None) becomes a constant."""
    out = []
    for x, (v, src) in zip(inputs, operands):
        out.append(literal(x, d) if v is None else convert(e.b, v, src, d))
    return out


def _compute_dtype(node: Node) -> dt.DType:
    """Comparisons compute in the promoted type of their operands; others in their own."""
    if node.dtype is dt.bool_ and node.op.name not in ("cast", "detach"):
        return dt.result_type(node.inputs)
    return node.dtype


def _polynomial(name: str) -> Callable:
    """exp, log, tanh: mathlib's branch-free polynomials, which loops vectorize (max ulp
    errors in ``mathlib.ACCURACY``, measured by tests/test_mathlib.py)."""
    fn = getattr(mathlib, name)

    def rule(e: Emitter, node: Node, ops: list):
        (x,) = _operands_as(e, node.inputs, ops, node.dtype)
        return fn(e.b, e.module, x)
    return rule


def _unary_float(intrinsic: str) -> Callable:
    def rule(e: Emitter, node: Node, ops: list):
        (x,) = _operands_as(e, node.inputs, ops, node.dtype)
        return call_intrinsic(e.b, intrinsic, x)
    return rule


_ARITH = {"add": ("fadd", "add"), "sub": ("fsub", "sub"), "mul": ("fmul", "mul"),
          "div": ("fdiv", "sdiv")}


def arith(b: ir.IRBuilder, name: str, x, y, d: dt.DType):
    """x (add|sub|mul|div) y for values of ``d``: reductions and matmul use it too. Float
    add/sub/mul may contract into fma (one rounding instead of two: as accurate or more,
    and half the instructions of ``a * b + c`` chains; mathlib's error-free steps use their
    own unflagged instructions)."""
    float_op, int_op = _ARITH[name]
    if d.kind == dt.FLOAT:
        return getattr(b, float_op)(x, y, flags=_CONTRACT if name != "div" else ())
    return getattr(b, int_op)(x, y)


_CONTRACT = ("contract",)


def extreme(b: ir.IRBuilder, pick_first: str, x, y, d: dt.DType):
    """max (">") or min ("<") of x and y; a NaN operand wins, as numpy and PyTorch. Floats
    use LLVM's NaN-propagating ``llvm.maximum``/``llvm.minimum``, which loops vectorize,
    reductions included."""
    if d.kind == dt.FLOAT:
        return call_intrinsic(b, "llvm.maximum" if pick_first == ">" else "llvm.minimum", x, y)
    cmp = b.icmp_signed if d.is_signed else b.icmp_unsigned
    return b.select(cmp(pick_first, x, y), x, y)


def _arith(name: str) -> Callable:
    def rule(e: Emitter, node: Node, ops: list):
        x, y = _operands_as(e, node.inputs, ops, node.dtype)
        return arith(e.b, name, x, y, node.dtype)
    return rule


def _compare(symbol: str) -> Callable:
    def rule(e: Emitter, node: Node, ops: list):
        d = _compute_dtype(node)
        x, y = _operands_as(e, node.inputs, ops, d)
        if d.kind == dt.FLOAT:
            if symbol == "!=":
                return e.b.fcmp_unordered("!=", x, y)  # NaN != anything
            return e.b.fcmp_ordered(symbol, x, y)
        if d is dt.bool_ or not d.is_signed:
            return e.b.icmp_unsigned(symbol, x, y)
        return e.b.icmp_signed(symbol, x, y)
    return rule


def _extreme(pick_first: str) -> Callable:
    def rule(e: Emitter, node: Node, ops: list):
        x, y = _operands_as(e, node.inputs, ops, node.dtype)
        return extreme(e.b, pick_first, x, y, node.dtype)
    return rule


def _neg(e: Emitter, node: Node, ops: list):
    (x,) = _operands_as(e, node.inputs, ops, node.dtype)
    return e.b.fneg(x) if node.dtype.kind == dt.FLOAT else e.b.neg(x)


def _abs(e: Emitter, node: Node, ops: list):
    d = node.dtype
    (x,) = _operands_as(e, node.inputs, ops, d)
    if d.kind == dt.FLOAT:
        return call_intrinsic(e.b, "llvm.fabs", x)
    if not d.is_signed:
        return x
    return e.b.select(e.b.icmp_signed("<", x, ir.Constant(x.type, 0)), e.b.neg(x), x)


def _sign(e: Emitter, node: Node, ops: list):
    d = node.dtype
    (x,) = _operands_as(e, node.inputs, ops, d)
    b, zero = e.b, ir.Constant(x.type, 0.0 if d.kind == dt.FLOAT else 0)
    one, minus = literal(1, d), literal(-1, d) if d.is_signed else literal(0, d)
    if d.kind == dt.FLOAT:  # NaN and -0.0 give +0.0, as in PyTorch
        return b.select(b.fcmp_ordered(">", x, zero), one,
                        b.select(b.fcmp_ordered("<", x, zero), minus, zero))
    cmp = b.icmp_signed if d.is_signed else b.icmp_unsigned
    return b.select(cmp(">", x, zero), one, b.select(cmp("<", x, zero), minus, zero))


def _reciprocal(e: Emitter, node: Node, ops: list):
    (x,) = _operands_as(e, node.inputs, ops, node.dtype)
    return e.b.fdiv(literal(1, node.dtype), x)


def _pow(e: Emitter, node: Node, ops: list):
    """C's pow, as numpy and PyTorch, except that a literal exponent 0.5 or -0.5 is sqrt or
    its reciprocal (PyTorch's special cases: NaN at -inf, and -inf at -0.0 for -0.5)."""
    x, y = _operands_as(e, node.inputs, ops, node.dtype)
    b, exponent = e.b, node.inputs[1]
    if type(exponent) is float and abs(exponent) == 0.5:
        root = call_intrinsic(b, "llvm.sqrt", x)
        return root if exponent > 0 else b.fdiv(ir.Constant(x.type, 1.0), root)
    return call_intrinsic(b, "llvm.pow", x, y)


def _int_divmod(e: Emitter, node: Node, x, y) -> tuple:
    """Python's floored (quotient, remainder) of integers. A zero divisor is reported to the
    error buffer and replaced by 1, and ``x / -1`` is ``-x``: the hardware traps on both."""
    b, d = e.b, node.dtype
    zero, one = ir.Constant(x.type, 0), ir.Constant(x.type, 1)
    by_zero = b.icmp_unsigned("==", y, zero)
    e.fail(node, by_zero, convert(b, x, d, dt.int64))
    if not d.is_signed:
        safe = b.select(by_zero, one, y)
        return b.udiv(x, safe), b.urem(x, safe)
    minus_one = b.icmp_signed("==", y, ir.Constant(x.type, -1))
    safe = b.select(b.or_(by_zero, minus_one), one, y)
    q, r = b.sdiv(x, safe), b.srem(x, safe)
    # division truncates; flooring takes one off the quotient (and adds the divisor to the
    # remainder) when the remainder is nonzero and its sign differs from the divisor's
    adjust = b.and_(b.icmp_signed("!=", r, zero), b.icmp_signed("<", b.xor(r, y), zero))
    q = b.sub(q, b.zext(adjust, x.type))
    r = b.add(r, b.select(adjust, y, zero))
    return b.select(minus_one, b.neg(x), q), b.select(minus_one, zero, r)


def _float_fmod(b: ir.IRBuilder, x, y) -> tuple:
    """fmod(x, y) and whether it must move into the divisor's sign (PyTorch's remainder:
    nonzero, and its sign differs from the divisor's)."""
    mod = b.frem(x, y)
    zero = ir.Constant(x.type, 0.0)
    adjust = b.and_(b.fcmp_unordered("!=", mod, zero),
                    b.icmp_unsigned("!=", b.fcmp_ordered("<", y, zero),
                                    b.fcmp_ordered("<", mod, zero)))
    return mod, adjust


def _floor_divide(e: Emitter, node: Node, ops: list):
    x, y = _operands_as(e, node.inputs, ops, node.dtype)
    b = e.b
    if node.dtype.kind != dt.FLOAT:
        return _int_divmod(e, node, x, y)[0]
    # PyTorch's (and numpy's) float floor division: (x - fmod(x, y)) / y, floored and
    # rounded so that it is exact where floor(x / y) is off by one (5.0 // 0.1 is 49)
    t = x.type
    zero, one, half = (ir.Constant(t, v) for v in (0.0, 1.0, 0.5))
    mod, adjust = _float_fmod(b, x, y)
    div = b.fdiv(b.fsub(x, mod), y)
    div = b.select(adjust, b.fsub(div, one), div)
    low = call_intrinsic(b, "llvm.floor", div)
    low = b.select(b.fcmp_ordered(">", b.fsub(div, low), half), b.fadd(low, one), low)
    q = b.fdiv(x, y)
    out = b.select(b.fcmp_unordered("!=", div, zero), low,
                   call_intrinsic(b, "llvm.copysign", zero, q))
    return b.select(b.fcmp_ordered("==", y, zero), q, out)


def _remainder(e: Emitter, node: Node, ops: list):
    x, y = _operands_as(e, node.inputs, ops, node.dtype)
    if node.dtype.kind != dt.FLOAT:
        return _int_divmod(e, node, x, y)[1]
    mod, adjust = _float_fmod(e.b, x, y)
    return e.b.select(adjust, e.b.fadd(mod, y), mod)


def _check_range(e: Emitter, node: Node, ops: list):
    """The value itself; one outside [low, high) (floats: [low, high], NaN outside) is
    reported to the error buffer."""
    d = node.dtype
    (x,) = _operands_as(e, node.inputs, ops, d)
    b = e.b
    low, high = literal(node.attrs["low"], d), literal(node.attrs["high"], d)
    if d.kind == dt.FLOAT:
        bad = b.or_(b.fcmp_unordered("<", x, low), b.fcmp_unordered(">", x, high))
        e.fail(node, bad, ir.Constant(ir.IntType(64), 0))
        return x
    cmp = b.icmp_signed if d.is_signed else b.icmp_unsigned
    bad = b.or_(cmp("<", x, low), cmp(">=", x, high))
    e.fail(node, bad, convert(b, x, d, dt.int64))
    return x


def _logical(op: str) -> Callable:
    def rule(e: Emitter, node: Node, ops: list):
        x, y = _operands_as(e, node.inputs, ops, dt.bool_)
        return getattr(e.b, op)(x, y)
    return rule


def _logical_not(e: Emitter, node: Node, ops: list):
    (x,) = _operands_as(e, node.inputs, ops, dt.bool_)
    return e.b.xor(x, ir.Constant(I1, 1))


def _where(e: Emitter, node: Node, ops: list):
    (c,) = _operands_as(e, node.inputs[:1], ops[:1], dt.bool_)
    x, y = _operands_as(e, node.inputs[1:], ops[1:], node.dtype)
    return e.b.select(c, x, y)


def _cast(e: Emitter, node: Node, ops: list):
    (v, src) = ops[0]
    return convert(e.b, v, src, node.dtype)


def _identity(e: Emitter, node: Node, ops: list):
    return ops[0][0]


LOWERINGS: dict[str, Callable] = {
    "neg": _neg, "abs": _abs, "sign": _sign, "reciprocal": _reciprocal,
    "exp": _polynomial("exp"), "log": _polynomial("log"), "tanh": _polynomial("tanh"),
    "sin": _unary_float("llvm.sin"), "cos": _unary_float("llvm.cos"),
    "sqrt": _unary_float("llvm.sqrt"), "floor": _unary_float("llvm.floor"),
    "ceil": _unary_float("llvm.ceil"),
    "add": _arith("add"), "sub": _arith("sub"), "mul": _arith("mul"), "div": _arith("div"),
    "pow": _pow, "floor_divide": _floor_divide, "remainder": _remainder,
    "check_range": _check_range,
    "maximum": _extreme(">"), "minimum": _extreme("<"),
    "eq": _compare("=="), "ne": _compare("!="), "lt": _compare("<"), "le": _compare("<="),
    "gt": _compare(">"), "ge": _compare(">="),
    "logical_and": _logical("and_"), "logical_or": _logical("or_"),
    "logical_not": _logical_not, "where": _where, "cast": _cast, "detach": _identity,
}

FLOAT_ONLY = {"exp", "log", "sin", "cos", "sqrt", "floor", "ceil", "tanh", "pow", "div",
              "reciprocal"}


def lowerable(node: Node) -> bool:
    """Whether the table covers ``node`` with its operand and result types."""
    name = node.op.name
    if name not in LOWERINGS:
        return False
    types = [node.dtype] + [x.dtype for x in node.inputs if type(x) is Node]
    if any(t is dt.float16 for t in types):
        return False
    if name in FLOAT_ONLY and node.dtype.kind != dt.FLOAT:
        return False
    if node.dtype is dt.bool_ and name in ("add", "sub", "mul", "maximum", "minimum", "neg",
                                          "abs", "sign"):
        return False  # bool arithmetic is logic in numpy: left to the interpreter
    return True
