"""The op table: every primitive and composite op with sample inputs and a numpy reference.

Each entry's ``fn(m, *args)`` is written once against the module ``m``, which
is ``graphc`` or ``torch``: the same line of PyTorch-style code runs on both.
``ref(*arrays)`` is the numpy reference. Tests in ``tests/test_ops.py`` are generated
from this table: adding an op here adds its eager, gradient and PyTorch tests
(and, with the compiler, its compiled and PTX tests).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .error_inputs import (
    BOOL,
    LONG,
    NOT_TENSOR,
    TYPE,
    ErrorInput,
    arg_type,
    bad_dim,
    err,
    error_inputs,
    ones,
)

try:  # scipy is not a dependency; erf for the GELU reference comes from math
    from math import erf as _erf
except ImportError:  # pragma: no cover
    _erf = None

verf = np.vectorize(_erf, otypes=[np.float64])


@dataclass(frozen=True)
class Arg:
    """One input: shape and kind; ``strided`` makes a non-contiguous view (every 2nd element)."""

    shape: tuple
    kind: str = "float"  # float | pos | unit | int | bool | index:<high> | nonzero
    strided: bool = False
    transposed: bool = False

    def make(self, rng: np.random.Generator, dtype) -> np.ndarray:
        shape = self.shape
        if self.transposed:
            shape = tuple(reversed(shape))
        if self.strided:
            shape = shape[:-1] + (shape[-1] * 2,)
        kind = self.kind
        if kind == "float":
            a = rng.standard_normal(shape)
        elif kind == "pos":
            a = rng.uniform(0.5, 2.0, shape)
        elif kind == "unit":
            a = rng.uniform(-0.9, 0.9, shape)
        elif kind == "nonzero":
            a = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        elif kind == "int":
            a = rng.integers(-5, 6, shape)
        elif kind == "bool":
            a = rng.random(shape) < 0.5
        elif kind.startswith("index:"):
            a = rng.integers(0, int(kind.split(":")[1]), shape)
        else:
            raise ValueError(kind)
        if kind in ("float", "pos", "unit", "nonzero"):
            a = a.astype(dtype)
        elif kind == "int" or kind.startswith("index:"):
            a = a.astype(np.int64)
        a = np.asarray(a)
        if self.strided:
            a = a[..., ::2]
        if self.transposed:
            a = a.T
        return a

    @property
    def is_float(self) -> bool:
        return self.kind in ("float", "pos", "unit", "nonzero")


def A(*shape, kind="float", strided=False, transposed=False) -> Arg:
    return Arg(tuple(shape), kind, strided, transposed)


@dataclass
class OpCase:
    name: str
    fn: Callable                    # fn(module, *tensors) -> tensor
    ref: Callable | None            # ref(*arrays) -> array (numpy), None: torch-only oracle
    samples: list                   # list of tuples of Arg
    grad: bool = True               # differentiable in its float inputs
    dtypes: tuple = ("float32", "float64")
    rtol: float | None = None       # None: 2e-5 at float32, 1e-10 at float64
    atol: float | None = None
    torch_grad: bool = True         # compare gradients with torch too
    fd: bool = True                 # check gradients by finite differences (not for detach)
    exact_dtype: bool = True        # result dtype must equal torch's
    tags: set = field(default_factory=set)
    errors: list = field(default_factory=list)  # ErrorInputs and Derived recipes (error_inputs)
    op_name: str | None = None      # PyTorch's name of the op, which error messages must name


def case(name, fn, ref, samples, **kw) -> OpCase:
    return OpCase(name, fn, ref, samples, **kw)


# sample sets, with the edges: broadcasting, size 0 and 1, odd sizes, non-contiguous
UNARY = [(A(3, 5),), (A(7),), (A(),), (A(0, 3),), (A(1, 1),), (A(4, 3, strided=True),),
         (A(3, 4, transposed=True),)]
BINARY = [(A(3, 5), A(3, 5)), (A(4, 1), A(3)), (A(2, 3, 4), A(3, 1)), (A(), A(2, 3)),
          (A(0, 3), A(1, 3)), (A(1,), A(1,)), (A(3, 4, strided=True), A(3, 4, transposed=True))]


def _pos(samples):
    return [tuple(Arg(a.shape, "pos", a.strided, a.transposed) for a in s) for s in samples]


def _kind(samples, kind):
    return [tuple(Arg(a.shape, kind, a.strided, a.transposed) for a in s) for s in samples]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(x, axis, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


REDUCE = [(A(3, 4),), (A(2, 3, 5),), (A(1, 5),), (A(4, 3, transposed=True),)]

OPS: list[OpCase] = [
    # ---- elementwise unary primitives
    case("neg", lambda m, x: -x, np.negative, UNARY),
    case("exp", lambda m, x: m.exp(x), np.exp, UNARY),
    case("log", lambda m, x: m.log(x), np.log, _pos(UNARY)),
    case("sin", lambda m, x: m.sin(x), np.sin, UNARY),
    case("cos", lambda m, x: x.cos(), np.cos, UNARY),
    case("sqrt", lambda m, x: m.sqrt(x), np.sqrt, _pos(UNARY)),
    case("tanh", lambda m, x: m.tanh(x), np.tanh, UNARY),
    case("abs", lambda m, x: m.abs(x), np.abs, _kind(UNARY, "nonzero")),
    case("sign", lambda m, x: m.sign(x), np.sign, UNARY),
    case("floor", lambda m, x: m.floor(x * 3), lambda x: np.floor(x * 3), UNARY),
    case("ceil", lambda m, x: m.ceil(x * 3), lambda x: np.ceil(x * 3), UNARY),
    case("reciprocal", lambda m, x: m.reciprocal(x), np.reciprocal, _kind(UNARY, "nonzero")),
    case("logical_not", lambda m, x: m.logical_not(x), np.logical_not, _kind(UNARY, "bool"),
         grad=False, dtypes=("bool",)),
    case("cast_f64", lambda m, x: x.double(), lambda x: x.astype(np.float64), UNARY),
    case("cast_long", lambda m, x: (x * 3).long(), lambda x: (x * 3).astype(np.int64), UNARY,
         grad=False),
    case("cast_int_to_float", lambda m, x: x.float() / 2, lambda x: x.astype(np.float32) / 2,
         _kind(UNARY, "int"), grad=False, dtypes=("int64",)),
    # ---- elementwise unary composites
    case("round", lambda m, x: m.round(x * 2), lambda x: np.round(x * 2), UNARY),
    case("trunc", lambda m, x: m.trunc(x * 3), lambda x: np.trunc(x * 3), UNARY),
    case("frac", lambda m, x: m.frac(x * 3), lambda x: x * 3 - np.trunc(x * 3), UNARY),
    case("rsqrt", lambda m, x: m.rsqrt(x), lambda x: 1 / np.sqrt(x), _pos(UNARY)),
    case("sigmoid", lambda m, x: m.sigmoid(x * 4), lambda x: _sigmoid(x * 4), UNARY),
    case("sigmoid_extreme", lambda m, x: m.sigmoid(x * 200), lambda x: _sigmoid(x * 200),
         [(A(9),)], grad=False),
    case("relu", lambda m, x: m.relu(x), lambda x: np.maximum(x, 0), UNARY),
    case("square", lambda m, x: m.square(x), np.square, UNARY),
    case("log1p", lambda m, x: m.log1p(x), np.log1p, _pos(UNARY)),
    case("expm1", lambda m, x: m.expm1(x), np.expm1, _pos(UNARY)),
    case("expm1_signed", lambda m, x: m.expm1(x * 3), lambda x: np.expm1(x * 3), UNARY),
    case("log1p_wide", lambda m, x: m.log1p(x * 4), lambda x: np.log1p(x * 4),
         _kind(UNARY, "pos")),
    case("erf", lambda m, x: m.erf(x * 2), lambda x: verf(x * 2), UNARY),
    case("erfc", lambda m, x: m.erfc(x * 4), lambda x: 1 - verf(x * 4), UNARY, rtol=1e-9),
    case("int_remainder", lambda m, x, y: x % (y * y + 1) + m.remainder(x, -3),
         lambda x, y: x % (y * y + 1) + np.remainder(x, -3), _kind(BINARY[:4], "int"),
         grad=False, dtypes=("int64",)),
    case("exp2", lambda m, x: m.exp2(x), np.exp2, UNARY),
    case("log2", lambda m, x: m.log2(x), np.log2, _pos(UNARY)),
    case("tan", lambda m, x: m.tan(x), np.tan, _kind(UNARY, "unit")),
    case("clamp", lambda m, x: m.clamp(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), UNARY),
    case("clamp_min", lambda m, x: x.clamp(min=0.1), lambda x: np.maximum(x, 0.1), UNARY),
    case("detach", lambda m, x: x.detach() * x, lambda x: x * x, UNARY, fd=False),
    case("isnan", lambda m, x: m.isnan(m.log(x)), lambda x: x < 0, UNARY,
         grad=False),
    # ---- elementwise binary primitives
    case("add", lambda m, x, y: x + y, np.add, BINARY),
    case("add_alpha", lambda m, x, y: m.add(x, y, alpha=2), lambda x, y: x + 2 * y, BINARY),
    case("sub", lambda m, x, y: x - y, np.subtract, BINARY),
    case("rsub_scalar", lambda m, x: 2.5 - x, lambda x: 2.5 - x, UNARY),
    case("mul", lambda m, x, y: x * y, np.multiply, BINARY),
    case("div", lambda m, x, y: x / y, np.divide, [(a, Arg(b.shape, "nonzero", b.strided,
                                                          b.transposed)) for a, b in BINARY]),
    case("rdiv_scalar", lambda m, x: 1.5 / x, lambda x: 1.5 / x, _kind(UNARY, "nonzero")),
    case("pow", lambda m, x, y: x ** y, np.power, _pos(BINARY)),
    case("pow_scalar", lambda m, x: x ** 3, lambda x: x ** 3, UNARY),
    case("pow_half", lambda m, x: x ** 0.5, np.sqrt, _pos(UNARY)),
    case("rpow", lambda m, x: 2.0 ** x, lambda x: 2.0 ** x, UNARY),
    case("maximum", lambda m, x, y: m.maximum(x, y), np.maximum, BINARY),
    case("minimum", lambda m, x, y: m.minimum(x, y), np.minimum, BINARY),
    case("eq", lambda m, x, y: x == y.round(), lambda x, y: x == np.round(y), BINARY,
         grad=False),
    case("ne", lambda m, x, y: x != y, np.not_equal, BINARY, grad=False),
    case("lt", lambda m, x, y: x < y, np.less, BINARY, grad=False),
    case("le", lambda m, x, y: m.le(x, y), np.less_equal, BINARY, grad=False),
    case("gt", lambda m, x, y: x > y, np.greater, BINARY, grad=False),
    case("ge", lambda m, x, y: x.ge(y), np.greater_equal, BINARY, grad=False),
    case("logical_and", lambda m, x, y: m.logical_and(x, y), np.logical_and,
         _kind(BINARY, "bool"), grad=False, dtypes=("bool",)),
    case("logical_or", lambda m, x, y: x | y, np.logical_or, _kind(BINARY, "bool"),
         grad=False, dtypes=("bool",)),
    case("logical_xor", lambda m, x, y: m.logical_xor(x, y), np.logical_xor,
         _kind(BINARY, "bool"), grad=False, dtypes=("bool",)),
    case("int_add", lambda m, x, y: x + y * 3, lambda x, y: x + y * 3, _kind(BINARY, "int"),
         grad=False, dtypes=("int64",)),
    case("int_truediv", lambda m, x, y: x / (y * y + 1), lambda x, y: (x / (y * y + 1))
         .astype(np.float32), _kind(BINARY, "int"), grad=False, dtypes=("int64",)),
    case("floor_divide", lambda m, x, y: m.floor_divide(x, y), np.floor_divide,
         [(a, Arg(b.shape, "nonzero")) for a, b in BINARY[:4]], grad=False),
    case("remainder", lambda m, x, y: x % y, np.mod, [(a, Arg(b.shape, "nonzero"))
                                                       for a, b in BINARY[:4]], grad=False),
    case("int_floor_divide", lambda m, x, y: x // (y * y + 1), lambda x, y: x // (y * y + 1),
         _kind(BINARY[:4], "int"), grad=False, dtypes=("int64",)),
    case("where", lambda m, c, x, y: m.where(c, x, y), np.where,
         [(A(3, 4, kind="bool"), A(3, 4), A(3, 4)), (A(4, 1, kind="bool"), A(3), A(4, 3)),
          (A(0, 2, kind="bool"), A(0, 2), A(2))]),
    case("where_scalar", lambda m, c, x: m.where(c, x, 0.0), lambda c, x: np.where(c, x, 0.0),
         [(A(3, 4, kind="bool"), A(3, 4))]),
    case("lerp", lambda m, x, y: m.lerp(x, y, 0.3), lambda x, y: x + (y - x) * 0.3, BINARY[:4]),
    case("masked_fill", lambda m, x, c: x.masked_fill(c, -1.0),
         lambda x, c: np.where(c, -1.0, x), [(A(3, 4), A(3, 4, kind="bool")),
                                             (A(2, 3), A(3, kind="bool"))]),
    # ---- reductions
    case("sum", lambda m, x: x.sum(), np.sum, REDUCE + [(A(0, 3),), (A(),)]),
    case("sum_dim", lambda m, x: x.sum(1), lambda x: x.sum(1), REDUCE + [(A(0, 3),)]),
    case("sum_dims_keep", lambda m, x: m.sum(x, (0, -1), keepdim=True),
         lambda x: x.sum((0, x.ndim - 1), keepdims=True), REDUCE),
    case("sum_int", lambda m, x: x.sum(0), lambda x: x.sum(0), _kind(REDUCE, "int"),
         grad=False, dtypes=("int64",)),
    case("mean", lambda m, x: x.mean(), np.mean, REDUCE),
    case("mean_dim", lambda m, x: m.mean(x, -1, keepdim=True),
         lambda x: x.mean(-1, keepdims=True), REDUCE),
    case("amax", lambda m, x: m.amax(x, 1), lambda x: x.max(1), REDUCE),
    case("amax_all", lambda m, x: x.max(), np.max, REDUCE),
    case("amin", lambda m, x: m.amin(x, (0, 1)), lambda x: x.min((0, 1)), REDUCE),
    case("max_dim_values", lambda m, x: m.max(x, 1).values, lambda x: x.max(1), REDUCE),
    case("max_dim_indices", lambda m, x: m.max(x, 1, keepdim=True).indices,
         lambda x: x.argmax(1)[:, None] if x.ndim == 2 else np.expand_dims(x.argmax(1), 1),
         REDUCE, grad=False),
    case("min_dim", lambda m, x: x.min(0).values, lambda x: x.min(0), REDUCE),
    case("argmax", lambda m, x: x.argmax(), lambda x: np.argmax(x), REDUCE, grad=False),
    case("argmin_dim", lambda m, x: m.argmin(x, -1), lambda x: x.argmin(-1), REDUCE,
         grad=False),
    case("prod", lambda m, x: m.prod(x, 1), lambda x: x.prod(1), REDUCE + [(A(2, 0),)]),
    case("prod_with_zero", lambda m, x: m.prod(m.relu(x), 0), lambda x: np.maximum(x, 0)
         .prod(0), [(A(5, 3),)]),
    case("prod_all", lambda m, x: x.prod(), np.prod, [(A(2, 3),)]),
    case("var", lambda m, x: m.var(x, 1), lambda x: x.var(1, ddof=1), REDUCE),
    case("var_all_biased", lambda m, x: x.var(unbiased=False), np.var, REDUCE),
    case("std", lambda m, x: m.std(x, 0, correction=0, keepdim=True),
         lambda x: x.std(0, keepdims=True), REDUCE),
    case("logsumexp", lambda m, x: m.logsumexp(x, 1), lambda x: _logsumexp(x, 1), REDUCE),
    case("softmax", lambda m, x: m.softmax(x, -1), lambda x: _softmax(x, -1), REDUCE),
    case("softmax_dim0", lambda m, x: x.softmax(0), lambda x: _softmax(x, 0), REDUCE),
    case("log_softmax", lambda m, x: m.log_softmax(x, 1),
         lambda x: x - _logsumexp(x, 1, keepdims=True), REDUCE),
    case("all", lambda m, x: m.all(x, 1), lambda x: x.all(1), _kind(REDUCE, "bool"),
         grad=False, dtypes=("bool",)),
    case("any", lambda m, x: x.any(), np.any, _kind(REDUCE, "bool"), grad=False,
         dtypes=("bool",)),
    case("norm", lambda m, x: x.norm(), np.linalg.norm, REDUCE),
    case("norm_dim_p1", lambda m, x: m.norm(x, 1, dim=1), lambda x: np.abs(x).sum(1),
         [(A(3, 4, kind="nonzero"),)]),
    case("norm_p3_keep", lambda m, x: m.norm(x, 3, dim=0, keepdim=True),
         lambda x: (np.abs(x) ** 3).sum(0, keepdims=True) ** (1 / 3), [(A(3, 4, kind="nonzero"),)]),
    case("sort_values", lambda m, x: m.sort(x, 1).values, lambda x: np.sort(x, 1), REDUCE),
    case("sort_desc_indices", lambda m, x: m.sort(x, 0, descending=True).indices,
         lambda x: np.argsort(-x, 0, kind="stable"), REDUCE, grad=False),
    case("argsort", lambda m, x: m.argsort(x), lambda x: np.argsort(x, -1, kind="stable"),
         REDUCE + [(A(0, 3),)], grad=False),
    case("topk", lambda m, x: m.topk(x, 2).values, lambda x: -np.sort(-x, -1)[..., :2],
         REDUCE),
    case("topk_smallest_dim0", lambda m, x: x.topk(1, dim=0, largest=False).values,
         lambda x: np.sort(x, 0)[:1], REDUCE),
    case("kthvalue", lambda m, x: m.kthvalue(x, 2, 1).values, lambda x: np.sort(x, 1)[:, 1]
         if x.ndim == 2 else np.sort(x, 1)[:, 1], REDUCE),
    case("median", lambda m, x: x.median(), lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2],
         REDUCE),
    case("median_dim", lambda m, x: m.median(x, -1, keepdim=True).values,
         lambda x: np.take(np.sort(x, -1), [(x.shape[-1] - 1) // 2], -1), REDUCE),
    case("cumsum", lambda m, x: m.cumsum(x, 1), lambda x: np.cumsum(x, 1), REDUCE),
    # ---- linear algebra
    case("matmul", lambda m, x, y: x @ y, np.matmul,
         [(A(3, 4), A(4, 5)), (A(2, 3, 4), A(4, 2)), (A(2, 1, 3, 4), A(3, 4, 2)),
          (A(4,), A(4, 3)), (A(3, 4), A(4,)), (A(5,), A(5,)), (A(0, 3), A(3, 2)),
          (A(3, 0), A(0, 2)), (A(1, 1), A(1, 1)),
          (A(3, 4, transposed=True), A(4, 2, strided=True))]),
    case("mm", lambda m, x, y: m.mm(x, y), np.matmul, [(A(2, 3), A(3, 5))]),
    case("bmm", lambda m, x, y: m.bmm(x, y), np.matmul, [(A(2, 3, 4), A(2, 4, 3))]),
    case("dot", lambda m, x, y: m.dot(x, y), np.dot, [(A(7,), A(7,))]),
    case("outer", lambda m, x, y: m.outer(x, y), np.outer, [(A(3,), A(4,))]),
    case("einsum_matmul", lambda m, x, y: m.einsum("ij,jk->ik", x, y),
         lambda x, y: np.einsum("ij,jk->ik", x, y), [(A(3, 4), A(4, 2))]),
    case("einsum_batch", lambda m, x, y: m.einsum("bij,bkj->bik", x, y),
         lambda x, y: np.einsum("bij,bkj->bik", x, y), [(A(2, 3, 4), A(2, 5, 4))]),
    case("einsum_reduce", lambda m, x: m.einsum("ijk->j", x),
         lambda x: np.einsum("ijk->j", x), [(A(2, 3, 4),)]),
    case("einsum_outer_implicit", lambda m, x, y: m.einsum("i,j", x, y),
         lambda x, y: np.einsum("i,j", x, y), [(A(3,), A(2,))]),
    # ---- movement
    case("reshape", lambda m, x: x.reshape(-1, 2), lambda x: x.reshape(-1, 2),
         [(A(3, 4),), (A(2, 3, 2),), (A(0, 2),), (A(4, 3, transposed=True),)]),
    case("view", lambda m, x: x.view(4, 3), lambda x: x.reshape(4, 3), [(A(3, 4),),
                                                                          (A(2, 6),)]),
    case("permute", lambda m, x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1),
         [(A(2, 3, 4),), (A(1, 0, 2),)]),
    case("transpose", lambda m, x: m.transpose(x, 0, 1), lambda x: x.swapaxes(0, 1),
         [(A(3, 4),), (A(2, 3, 4),)]),
    case("t", lambda m, x: x.t(), lambda x: x.T, [(A(3, 4),), (A(5,),)]),
    case("T_then_add", lambda m, x: x.T + 1, lambda x: x.T + 1, [(A(3, 4),)]),
    case("squeeze", lambda m, x: x.squeeze(), np.squeeze, [(A(3, 1, 4, 1),), (A(1,),)]),
    case("squeeze_dim", lambda m, x: x.squeeze(1), lambda x: np.squeeze(x, 1),
         [(A(3, 1, 4),)]),
    case("unsqueeze", lambda m, x: m.unsqueeze(x, -1), lambda x: x[..., None], UNARY[:4]),
    case("flatten", lambda m, x: m.flatten(x, 1), lambda x: x.reshape(x.shape[0], -1),
         [(A(2, 3, 4),), (A(2, 0, 3),)]),
    case("expand", lambda m, x: x.expand(2, 3, 4), lambda x: np.broadcast_to(x, (2, 3, 4)),
         [(A(3, 1),), (A(1, 4),), (A(),)]),
    case("expand_as_add", lambda m, x, y: x.expand_as(y) * y, lambda x, y: x * y,
         [(A(3, 1), A(3, 5))]),
    case("repeat", lambda m, x: x.repeat(2, 3), lambda x: np.tile(x, (2, 3)),
         [(A(2, 3),), (A(3,),)]),
    case("cat", lambda m, x, y: m.cat([x, y], 1), lambda x, y: np.concatenate([x, y], 1),
         [(A(2, 3), A(2, 4)), (A(2, 0), A(2, 2)), (A(1, 3, transposed=True), A(1, 1))],
         exact_dtype=True),
    case("cat_3", lambda m, x, y, z: m.cat((x, y, z)), lambda x, y, z: np.concatenate(
        [x, y, z]), [(A(1, 2), A(3, 2), A(2, 2))]),
    case("stack", lambda m, x, y: m.stack([x, y], -1), lambda x, y: np.stack([x, y], -1),
         [(A(2, 3), A(2, 3))]),
    case("split", lambda m, x: m.split(x, 2, 1)[1], lambda x: np.split(x, [2, 4], 1)[1],
         [(A(3, 5),)]),
    case("split_sizes", lambda m, x: x.split([1, 3], 0)[1], lambda x: x[1:4], [(A(4, 2),)]),
    case("chunk", lambda m, x: x.chunk(3, 0)[2], lambda x: x[4:], [(A(6, 2),), (A(5, 2),)]),
    case("narrow", lambda m, x: x.narrow(1, 1, 2), lambda x: x[:, 1:3], [(A(3, 4),)]),
    case("flip", lambda m, x: m.flip(x, (0,)), lambda x: x[::-1], [(A(4, 3),)]),
    case("diagonal", lambda m, x: m.diagonal(x, 1), lambda x: np.diagonal(x, 1),
         [(A(3, 4),), (A(4, 3, transposed=True),)]),
    case("diagonal_3d", lambda m, x: x.diagonal(-1, 0, 2), lambda x: np.diagonal(x, -1, 0, 2),
         [(A(3, 2, 4),)]),
    case("diag_vector", lambda m, x: m.diag(x, -1), lambda x: np.diag(x, -1), [(A(3,),)]),
    case("diag_matrix", lambda m, x: m.diag(x), np.diag, [(A(3, 3),)]),
    case("trace", lambda m, x: m.trace(x), np.trace, [(A(3, 4),)]),
    case("tril", lambda m, x: m.tril(x), np.tril, [(A(4, 4),), (A(3, 5),)]),
    case("triu", lambda m, x: m.triu(x, 1), lambda x: np.triu(x, 1), [(A(4, 4),)]),
    case("getitem_basic", lambda m, x: x[1, ::2], lambda x: x[1, ::2], [(A(3, 5),),
                                                                          (A(2, 4, 3),)]),
    case("getitem_slices", lambda m, x: x[None, 1:, ..., -1], lambda x: x[None, 1:, ..., -1],
         [(A(3, 4, 5),), (A(4, 3, transposed=True),)]),
    case("getitem_step3", lambda m, x: x[::3, 1::2], lambda x: x[::3, 1::2], [(A(7, 6),),
                                                                                (A(1, 1),)]),
    case("getitem_empty", lambda m, x: x[2:2], lambda x: x[2:2], [(A(4, 3),)]),
    case("getitem_intlist", lambda m, x: x[[0, 2, 2]], lambda x: x[[0, 2, 2]], [(A(3, 4),)]),
    case("getitem_mask", lambda m, x: x[x > 0], lambda x: x[x > 0], [(A(3, 4),)],
         tags={"eager_only"}),  # the result's shape depends on the values: not traceable
    case("getitem_tensor_idx", lambda m, x, i: x[:, i], lambda x, i: x[:, i],
         [(A(3, 5), A(4, kind="index:5")), (A(2, 3), A(2, 2, kind="index:3"))]),
    case("getitem_pair_idx", lambda m, x, i, j: x[i, j], lambda x, i, j: x[i, j],
         [(A(3, 4), A(5, kind="index:3"), A(5, kind="index:4"))]),
    case("gather", lambda m, x, i: m.gather(x, 1, i), lambda x, i: np.take_along_axis(x, i, 1),
         [(A(3, 4), A(3, 2, kind="index:4")), (A(2, 3), A(2, 5, kind="index:3"))]),
    case("gather_dim0", lambda m, x, i: x.gather(0, i), lambda x, i: np.take_along_axis(
        x, i, 0), [(A(3, 4), A(2, 4, kind="index:3"))]),
    case("scatter_add", lambda m, x, i, s: x.scatter_add(1, i, s),
         lambda x, i, s: _scatter_add(x, i, s), [(A(3, 4), A(3, 5, kind="index:4"), A(3, 5))]),
    case("index_select", lambda m, x, i: m.index_select(x, 0, i), lambda x, i: x[i],
         [(A(4, 3), A(5, kind="index:4")), (A(3, 2), A(0, kind="index:3"))]),
    case("one_hot", lambda m, i: m.nn.functional.one_hot(i, 5), lambda i: np.eye(5,
                                                                                 dtype=np.int64)[i],
         [(A(4, kind="index:5"),), (A(2, 3, kind="index:5"),)], grad=False, dtypes=("int64",)),
    case("pad", lambda m, x: m.nn.functional.pad(x, (1, 2, 0, 1), value=0.5),
         lambda x: np.pad(x, ((0, 1), (1, 2)), constant_values=0.5), [(A(2, 3),)]),
    case("pad_crop", lambda m, x: m.nn.functional.pad(x, (-1, 1)),
         lambda x: np.pad(x[:, 1:], ((0, 0), (0, 1))), [(A(2, 4),)]),
    # ---- nn.functional activations
    case("leaky_relu", lambda m, x: m.nn.functional.leaky_relu(x, 0.1),
         lambda x: np.where(x > 0, x, 0.1 * x), UNARY),
    case("elu", lambda m, x: m.nn.functional.elu(x), lambda x: np.where(x > 0, x, np.expm1(x)),
         UNARY),
    case("gelu", lambda m, x: m.nn.functional.gelu(x), lambda x: 0.5 * x * (1 + verf(
        x / math.sqrt(2))), UNARY),
    case("gelu_tanh", lambda m, x: m.nn.functional.gelu(x, approximate="tanh"),
         lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
         UNARY),
    case("silu", lambda m, x: m.nn.functional.silu(x), lambda x: x * _sigmoid(x), UNARY),
    case("softplus", lambda m, x: m.nn.functional.softplus(x * 10),
         lambda x: np.where(x * 10 > 20, x * 10, np.log1p(np.exp(x * 10))), UNARY),
    case("logsigmoid", lambda m, x: m.nn.functional.logsigmoid(x * 10),
         lambda x: -np.logaddexp(0, -x * 10), UNARY),
    case("hardtanh", lambda m, x: m.nn.functional.hardtanh(x), lambda x: np.clip(x, -1, 1),
         UNARY),
    case("normalize", lambda m, x: m.nn.functional.normalize(x, dim=1),
         lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12), REDUCE),
    case("softmin", lambda m, x: m.nn.functional.softmin(x, 1), lambda x: _softmax(-x, 1),
         REDUCE),
]


def _scatter_add(x, i, s):
    out = x.copy()
    grid = list(np.indices(i.shape, sparse=True))
    grid[1] = i
    np.add.at(out, tuple(grid), s[tuple(slice(0, d) for d in i.shape)])
    return out



# ---------------------------------------------------------------- nn.functional: layers, losses
# numpy references written from PyTorch's definitions, window by window (not by im2col)

F_ = "nn.functional"


def _f(m):
    return m.nn.functional


def _two(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _np_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    (sh, sw), (dh, dw) = _two(stride), _two(dilation)
    O, Cg, KH, KW = w.shape
    if padding == "same":
        th, tw = dh * (KH - 1), dw * (KW - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    else:
        ph, pw = _two(0 if padding == "valid" else padding)
        pads = ((ph, ph), (pw, pw))
    x = np.pad(x, ((0, 0), (0, 0)) + pads)
    N, _, H, W = x.shape
    Ho, Wo = (H - dh * (KH - 1) - 1) // sh + 1, (W - dw * (KW - 1) - 1) // sw + 1
    out = np.zeros((N, O, Ho, Wo))
    og = O // groups
    for g in range(groups):
        for i in range(KH):
            for j in range(KW):
                patch = x[:, g * Cg:(g + 1) * Cg, i * dh:i * dh + sh * (Ho - 1) + 1:sh,
                          j * dw:j * dw + sw * (Wo - 1) + 1:sw]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch,
                                                         w[g * og:(g + 1) * og, :, i, j])
    return out if b is None else out + b[:, None, None]


def _pool_len(n, k, s, p, d, ceil):
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil else span // s) + 1
    return o - 1 if ceil and (o - 1) * s >= n + p else o


def _np_pool2d(x, kernel, stride=None, padding=0, dilation=1, ceil=False, mode="max",
               count_include_pad=True, divisor=None):
    """PyTorch's pooling loops: each output over its window, clipped to the input."""
    k, p, d = _two(kernel), _two(padding), _two(dilation)
    s = _two(stride) if stride else k
    H, W = x.shape[-2:]
    out = [_pool_len(n, *a, ceil) for n, a in zip((H, W), zip(k, s, p, d))]
    res = np.empty(x.shape[:-2] + tuple(out))
    idx = np.empty(res.shape, dtype=np.int64)
    for oh in range(out[0]):
        for ow in range(out[1]):
            hs, ws = oh * s[0] - p[0], ow * s[1] - p[1]
            rows, cols = hs + d[0] * np.arange(k[0]), ws + d[1] * np.arange(k[1])
            rows, cols = rows[(rows >= 0) & (rows < H)], cols[(cols >= 0) & (cols < W)]
            win = x[..., rows, :][..., cols]
            if mode != "avg":
                flat = win.reshape(win.shape[:-2] + (-1,))
                res[..., oh, ow] = flat.max(-1)
                at = flat.argmax(-1)
                idx[..., oh, ow] = rows[at // cols.size] * W + cols[at % cols.size]
            else:
                he, we = min(hs + k[0], H + p[0]), min(ws + k[1], W + p[1])
                div = divisor or ((he - hs) * (we - ws) if count_include_pad
                                  else rows.size * cols.size)
                res[..., oh, ow] = win.sum((-2, -1)) / div
    return idx if mode == "max_indices" else res


def _np_adaptive_avg(x, out):
    H, W = x.shape[-2:]
    res = np.empty(x.shape[:-2] + out)
    for i in range(out[0]):
        for j in range(out[1]):
            hs, he = i * H // out[0], -(-(i + 1) * H // out[0])
            ws, we = j * W // out[1], -(-(j + 1) * W // out[1])
            res[..., i, j] = x[..., hs:he, ws:we].mean((-2, -1))
    return res


def _np_norm(x, axes, w=None, b=None, eps=1e-5, mean=None, var=None):
    mean = x.mean(axes, keepdims=True) if mean is None else mean
    var = x.var(axes, keepdims=True) if var is None else var
    out = (x - mean) / np.sqrt(var + eps)
    out = out if w is None else out * w
    return out if b is None else out + b


def _chan(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _np_log_softmax(x, axis):
    return x - _logsumexp(x, axis, keepdims=True)


def _np_nll(logp, t, w=None, ignore=-100, reduction="mean"):
    """-w[t] logp[t] over the class dim 1 (0 for 1-D), ignored targets weigh 0."""
    axis = 1 if logp.ndim > 1 else 0
    keep = t != ignore
    safe = np.where(keep, t, 0)
    picked = np.squeeze(np.take_along_axis(logp, np.expand_dims(safe, axis), axis), axis)
    wt = keep * (1.0 if w is None else w[safe])
    loss = -picked * wt
    if reduction == "mean":
        return loss.sum() / wt.sum()
    return loss.sum() if reduction == "sum" else loss


def _np_cross_entropy(x, t, w=None, ignore=-100, reduction="mean", smoothing=0.0):
    axis = 1 if x.ndim > 1 else 0
    logp = _np_log_softmax(x, axis)
    c = x.shape[axis]
    wb = 1.0 if w is None else w.reshape([c if a == axis else 1 for a in range(x.ndim)])
    if t.dtype.kind == "f":  # class probabilities
        t = t * (1 - smoothing) + smoothing / c
        terms = -(logp * t * wb)
        if reduction == "none":
            return terms.sum(axis)
        return terms.sum() / (x.size // c) if reduction == "mean" else terms.sum()
    nll = _np_nll(logp, t, w, ignore, reduction)
    keep = t != ignore
    smooth = np.where(keep, -(logp * wb).sum(axis), 0.0)
    if reduction == "mean":
        denom = keep.sum() if w is None else (keep * w[np.where(keep, t, 0)]).sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - smoothing) * nll + smoothing / c * smooth


def _np_bce(p, t, w=1.0, reduction="mean"):
    loss = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))
    return _np_reduce(loss * w, reduction)


def _np_bce_logits(x, t, w=1.0, pos_weight=1.0, reduction="mean"):
    log_sig, log_sig_neg = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    loss = -(pos_weight * t * log_sig + (1 - t) * log_sig_neg)
    return _np_reduce(loss * w, reduction)


def _np_smooth_l1(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)


def _np_huber(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def _lin(m, n, x, lo=0.5, hi=2.0, shape=None):
    """Fixed positive weights in x's dtype, the same in graphc and torch (not inputs: PyTorch
    has no gradient for class or element weights)."""
    w = m.linspace(lo, hi, n, dtype=x.dtype)
    return w if shape is None else w.reshape(shape)


def _npl(n, lo=0.5, hi=2.0, shape=None):
    w = np.linspace(lo, hi, n)
    return w if shape is None else w.reshape(shape)


def _probs(x):
    """Inputs in (0, 1) from 'unit' samples in (-0.9, 0.9)."""
    return x * 0.5 + 0.5


def _np_sdpa(q, k, v, mask=None, causal=False, scale=None, gqa=False):
    """PyTorch's SDPA from its definition; a row with every key masked gives zeros."""
    if gqa:
        k, v = (np.repeat(a, q.shape[-3] // a.shape[-3], axis=-3) for a in (k, v))
    s = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    m = s.max(-1, keepdims=True)
    e = np.exp(s - np.where(np.isinf(m), 0.0, m))
    z = e.sum(-1, keepdims=True)
    return e / np.where(z == 0, 1.0, z) @ v


def _sdpa(m, *args, **kw):
    return _f(m).scaled_dot_product_attention(*args, **kw)


QKV = (A(2, 3, 4, 8), A(2, 3, 5, 8), A(2, 3, 5, 6))
CONV = [(A(1, 2, 5, 5), A(3, 2, 3, 3), A(3))]
POOL = [(A(1, 2, 5, 6),), (A(2, 1, 4, 4),)]  # the second only where padding makes it differ
LOSS = [(A(3, 4), A(3, 4)), (A(5,), A(5,))]

OPS += [
    # ---- convolution
    case("conv2d", lambda m, x, w, b: _f(m).conv2d(x, w, b), _np_conv2d, CONV),
    case("conv2d_stride_pad", lambda m, x, w, b: _f(m).conv2d(x, w, b, stride=2, padding=1),
         lambda x, w, b: _np_conv2d(x, w, b, 2, 1), [(A(2, 2, 5, 4), A(3, 2, 3, 2), A(3))]),
    case("conv2d_same_dilation", lambda m, x, w: _f(m).conv2d(x, w, padding="same",
                                                              dilation=2),
         lambda x, w: _np_conv2d(x, w, padding="same", dilation=2),
         [(A(1, 2, 6, 5), A(2, 2, 2, 3))]),
    case("conv2d_groups", lambda m, x, w, b: _f(m).conv2d(x, w, b, (2, 1), (1, 0), groups=2),
         lambda x, w, b: _np_conv2d(x, w, b, (2, 1), (1, 0), groups=2),
         [(A(1, 4, 5, 5), A(4, 2, 3, 3), A(4))]),
    case("conv2d_depthwise_valid", lambda m, x, w: _f(m).conv2d(x, w, padding="valid",
                                                                groups=4),
         lambda x, w: _np_conv2d(x, w, groups=4), [(A(1, 4, 4, 4), A(4, 1, 2, 2))]),
    case("conv2d_unbatched_1x1", lambda m, x, w: _f(m).conv2d(x, w),
         lambda x, w: _np_conv2d(x[None], w)[0], [(A(2, 3, 4), A(3, 2, 1, 1))]),
    case("conv1d", lambda m, x, w, b: _f(m).conv1d(x, w, b, stride=2, padding=1),
         lambda x, w, b: _np_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1))[:, :, 0],
         [(A(2, 3, 7), A(2, 3, 3), A(2))]),
    # ---- pooling
    case("max_pool2d", lambda m, x: _f(m).max_pool2d(x, 2), lambda x: _np_pool2d(x, 2),
         POOL[:1]),
    case("max_pool2d_stride_pad", lambda m, x: _f(m).max_pool2d(x, 3, 2, 1),
         lambda x: _np_pool2d(x, 3, 2, 1), POOL),
    case("max_pool2d_dilation", lambda m, x: _f(m).max_pool2d(x, (2, 3), 1, dilation=2),
         lambda x: _np_pool2d(x, (2, 3), 1, dilation=2), [(A(1, 2, 5, 6),)]),
    case("max_pool2d_ceil", lambda m, x: _f(m).max_pool2d(x, 3, 2, 1, ceil_mode=True),
         lambda x: _np_pool2d(x, 3, 2, 1, ceil=True), POOL[:1]),
    case("max_pool2d_indices", lambda m, x: _f(m).max_pool2d(x, 3, 2, 1, return_indices=True)[1],
         lambda x: _np_pool2d(x, 3, 2, 1, mode="max_indices"), POOL[:1], grad=False),
    case("max_pool1d", lambda m, x: _f(m).max_pool1d(x, 3, 2, 1),
         lambda x: _np_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1))[:, :, 0], [(A(2, 3, 7),)]),
    case("avg_pool2d", lambda m, x: _f(m).avg_pool2d(x, 2), lambda x: _np_pool2d(
        x, 2, mode="avg"), POOL[:1]),
    case("avg_pool2d_pad_exclude", lambda m, x: _f(m).avg_pool2d(x, 3, 2, 1,
                                                                 count_include_pad=False),
         lambda x: _np_pool2d(x, 3, 2, 1, mode="avg", count_include_pad=False), POOL),
    case("avg_pool2d_ceil", lambda m, x: _f(m).avg_pool2d(x, 3, 2, 1, ceil_mode=True),
         lambda x: _np_pool2d(x, 3, 2, 1, ceil=True, mode="avg"), POOL),
    case("avg_pool2d_ceil_exclude_divisor",
         lambda m, x: _f(m).avg_pool2d(x, (2, 3), (2, 2), ceil_mode=True, divisor_override=5),
         lambda x: _np_pool2d(x, (2, 3), 2, ceil=True, mode="avg", divisor=5), POOL[:1]),
    case("avg_pool1d", lambda m, x: _f(m).avg_pool1d(x, 2),
         lambda x: _np_pool2d(x[:, :, None], (1, 2), mode="avg")[:, :, 0], [(A(2, 3, 7),)]),
    case("adaptive_avg_pool2d", lambda m, x: _f(m).adaptive_avg_pool2d(x, (2, 4)),
         lambda x: _np_adaptive_avg(x, (2, 4)), [(A(1, 2, 5, 6),), (A(3, 5, 6),)]),
    # ---- normalization, linear, embedding
    case("batch_norm_eval", lambda m, x, w, b: _f(m).batch_norm(
        x, _lin(m, 3, x, -0.5, 0.5), _lin(m, 3, x), w, b),
         lambda x, w, b: _np_norm(x, None, _chan(w, x.ndim), _chan(b, x.ndim),
                                  mean=_chan(_npl(3, -0.5, 0.5), x.ndim),
                                  var=_chan(_npl(3), x.ndim)),
         [(A(2, 3, 2, 2), A(3), A(3)), (A(4, 3), A(3), A(3))]),
    case("batch_norm_train", lambda m, x, w, b: _f(m).batch_norm(x, None, None, w, b, True),
         lambda x, w, b: _np_norm(x, (0,) + tuple(range(2, x.ndim)), _chan(w, x.ndim),
                                  _chan(b, x.ndim)),
         [(A(3, 2, 2, 2), A(2), A(2)), (A(5, 3), A(3), A(3))]),
    case("batch_norm_train_no_affine", lambda m, x: _f(m).batch_norm(
        x, None, None, training=True, eps=0.1), lambda x: _np_norm(x, (0, 2, 3), eps=0.1),
         [(A(2, 3, 2, 2),)]),
    case("layer_norm", lambda m, x, w, b: _f(m).layer_norm(x, (4,), w, b),
         lambda x, w, b: _np_norm(x, -1, w, b), [(A(2, 3, 4), A(4), A(4)), (A(4,), A(4), A(4))]),
    case("layer_norm_2d_no_affine", lambda m, x: _f(m).layer_norm(x, [3, 4], eps=1e-3),
         lambda x: _np_norm(x, (-2, -1), eps=1e-3), [(A(2, 3, 4),)]),
    case("group_norm", lambda m, x, w, b: _f(m).group_norm(x, 2, w, b),
         lambda x, w, b: _np_norm(x.reshape(2, 2, -1), -1).reshape(x.shape) * _chan(w, 3)
         + _chan(b, 3), [(A(2, 4, 3), A(4), A(4))]),
    case("linear", lambda m, x, w, b: _f(m).linear(x, w, b), lambda x, w, b: x @ w.T + b,
         [(A(3, 4), A(5, 4), A(5)), (A(2, 3, 4), A(2, 4), A(2)), (A(4,), A(3, 4), A(3))]),
    case("linear_no_bias", lambda m, x, w: _f(m).linear(x, w), lambda x, w: x @ w.T,
         [(A(3, 4), A(2, 4)), (A(0, 4), A(2, 4))]),
    case("embedding", lambda m, i, w: _f(m).embedding(i, w), lambda i, w: w[i],
         [(A(2, 3, kind="index:5"), A(5, 3)), (A(4, kind="index:2"), A(2, 1))]),
    case("embedding_padding_idx", lambda m, i, w: _f(m).embedding(i, w, padding_idx=1),
         lambda i, w: w[i], [(A(3, 4, kind="index:4"), A(4, 2))],
         fd=False),  # padding_idx's row gets no gradient by definition: PyTorch is the oracle
    # ---- attention (a causal or boolean mask may leave a row nothing: zeros, as PyTorch)
    case("sdpa", _sdpa, _np_sdpa, [QKV, (A(4, 8), A(5, 8), A(5, 6)),
                                   (A(3, 1, 8), A(2, 3, 2, 8), A(2, 3, 2, 3))]),
    case("sdpa_causal", lambda m, q, k, v: _sdpa(m, q, k, v, is_causal=True),
         lambda q, k, v: _np_sdpa(q, k, v, causal=True), [QKV, (A(5, 4), A(3, 4), A(3, 2))]),
    case("sdpa_bool_mask", lambda m, q, k, v, mask: _sdpa(m, q, k, v, mask),
         _np_sdpa, [QKV + (A(4, 5, kind="bool"),), QKV + (A(2, 1, 4, 5, kind="bool"),)]),
    case("sdpa_float_mask_scale", lambda m, q, k, v, mask: _sdpa(m, q, k, v, mask, 0.0,
                                                                 scale=0.3),
         lambda q, k, v, mask: _np_sdpa(q, k, v, mask, scale=0.3),
         [QKV + (A(2, 1, 4, 5),), QKV + (A(5,),)]),
    case("sdpa_gqa", lambda m, q, k, v: _sdpa(m, q, k, v, enable_gqa=True),
         lambda q, k, v: _np_sdpa(q, k, v, gqa=True), [(A(2, 4, 3, 8), A(2, 2, 5, 8),
                                                         A(2, 2, 5, 6))]),
    # ---- losses
    case("mse_loss", lambda m, x, y: _f(m).mse_loss(x, y),
         lambda x, y: np.mean((x - y) ** 2), LOSS),
    case("mse_loss_sum_none", lambda m, x, y: _f(m).mse_loss(x, y, reduction="none") +
         _f(m).mse_loss(x, y, reduction="sum"), lambda x, y: (x - y) ** 2 + np.sum(
        (x - y) ** 2), LOSS),
    case("mse_loss_weight", lambda m, x, y: _f(m).mse_loss(x, y, weight=_lin(m, 12, x,
                                                                               shape=(3, 4))),
         lambda x, y: np.sum((x - y) ** 2 * _npl(12, shape=(3, 4))) / _npl(12).sum(),
         LOSS[:1]),
    case("l1_loss", lambda m, x, y: _f(m).l1_loss(x, y), lambda x, y: np.mean(np.abs(x - y)),
         LOSS),
    case("l1_loss_sum_none", lambda m, x, y: _f(m).l1_loss(x, y, reduction="none") *
         _f(m).l1_loss(x, y, reduction="sum"), lambda x, y: np.abs(x - y) * np.sum(
        np.abs(x - y)), LOSS),
    case("smooth_l1_loss", lambda m, x, y: _f(m).smooth_l1_loss(x, y, beta=0.5),
         lambda x, y: np.mean(_np_smooth_l1(x - y, 0.5)), LOSS),
    case("smooth_l1_loss_none", lambda m, x, y: _f(m).smooth_l1_loss(x, y, reduction="none"),
         lambda x, y: _np_smooth_l1(x - y, 1.0), LOSS),
    case("huber_loss", lambda m, x, y: _f(m).huber_loss(x, y, delta=0.8),
         lambda x, y: np.mean(_np_huber(x - y, 0.8)), LOSS),
    case("huber_loss_sum", lambda m, x, y: _f(m).huber_loss(x, y, "sum", 2.0),
         lambda x, y: np.sum(_np_huber(x - y, 2.0)), LOSS),
    case("cross_entropy", lambda m, x, t: _f(m).cross_entropy(x, t), _np_cross_entropy,
         [(A(4, 5), A(4, kind="index:5")), (A(2, 3, 2, 2), A(2, 2, 2, kind="index:3")),
          (A(5,), A(kind="index:5"))]),
    case("cross_entropy_sum_none", lambda m, x, t: _f(m).cross_entropy(x, t, reduction="none")
         + _f(m).cross_entropy(x, t, reduction="sum"),
         lambda x, t: _np_cross_entropy(x, t, reduction="none") + _np_cross_entropy(
             x, t, reduction="sum"), [(A(4, 5), A(4, kind="index:5"))]),
    case("cross_entropy_weight_ignore", lambda m, x, t: _f(m).cross_entropy(
        x, m.where(t == 0, -100, t), _lin(m, 5, x)),
         lambda x, t: _np_cross_entropy(x, np.where(t == 0, -100, t), _npl(5)),
         [(A(2, 5, 3), A(2, 3, kind="index:5"))]),
    case("cross_entropy_smoothing", lambda m, x, t: _f(m).cross_entropy(
        x, m.where(t == 1, 7, t), _lin(m, 4, x), ignore_index=7, label_smoothing=0.2),
         lambda x, t: _np_cross_entropy(x, np.where(t == 1, 7, t), _npl(4), 7,
                                        smoothing=0.2), [(A(5, 4), A(5, kind="index:4"))]),
    case("cross_entropy_smoothing_none", lambda m, x, t: _f(m).cross_entropy(
        x, t, reduction="none", label_smoothing=0.3),
         lambda x, t: _np_cross_entropy(x, t, reduction="none", smoothing=0.3),
         [(A(5, 4), A(5, kind="index:4"))]),
    case("cross_entropy_probs", lambda m, x, p: _f(m).cross_entropy(x, p),
         _np_cross_entropy, [(A(2, 3, 2), A(2, 3, 2, kind="pos"))]),
    case("cross_entropy_probs_weight_smoothing", lambda m, x, p: _f(m).cross_entropy(
        x, p, _lin(m, 4, x), reduction="sum", label_smoothing=0.1),
         lambda x, p: _np_cross_entropy(x, p, _npl(4), reduction="sum", smoothing=0.1),
         [(A(3, 4), A(3, 4, kind="pos"))]),
    case("cross_entropy_probs_none", lambda m, x, p: _f(m).cross_entropy(x, p, reduction="none"),
         lambda x, p: _np_cross_entropy(x, p, reduction="none"), [(A(3, 4), A(3, 4))]),
    case("nll_loss", lambda m, x, t: _f(m).nll_loss(x, t), lambda x, t: _np_nll(x, t),
         [(A(4, 5), A(4, kind="index:5")), (A(2, 3, 4), A(2, 4, kind="index:3"))]),
    case("nll_loss_weight_ignore_sum", lambda m, x, t: _f(m).nll_loss(
        x, t, _lin(m, 3, x), ignore_index=2, reduction="sum"),
         lambda x, t: _np_nll(x, t, _npl(3), 2, "sum"), [(A(6, 3), A(6, kind="index:3"))]),
    case("nll_loss_none", lambda m, x, t: _f(m).nll_loss(x, t, reduction="none",
                                                         ignore_index=0),
         lambda x, t: _np_nll(x, t, None, 0, "none"), [(A(6, 3), A(6, kind="index:3"))]),
    case("binary_cross_entropy", lambda m, p, t: _f(m).binary_cross_entropy(
        _probs(p), _probs(t)), lambda p, t: _np_bce(_probs(p), _probs(t)),
         _kind(LOSS, "unit")),
    case("binary_cross_entropy_weight_sum", lambda m, p, t: _f(m).binary_cross_entropy(
        _probs(p), _probs(t), _lin(m, 12, p, shape=(3, 4)), reduction="sum"),
         lambda p, t: _np_bce(_probs(p), _probs(t), _npl(12, shape=(3, 4)), "sum"),
         [(A(3, 4, kind="unit"), A(3, 4, kind="unit"))]),
    case("binary_cross_entropy_none", lambda m, p, t: _f(m).binary_cross_entropy(
        _probs(p), _probs(t), reduction="none"),
         lambda p, t: _np_bce(_probs(p), _probs(t), reduction="none"), _kind(LOSS, "unit")),
    case("bce_with_logits", lambda m, x, t: _f(m).binary_cross_entropy_with_logits(
        x * 20, _probs(t)), lambda x, t: _np_bce_logits(x * 20, _probs(t)),
         [(A(3, 4), A(3, 4, kind="unit"))]),
    case("bce_with_logits_weights_none", lambda m, x, t: _f(m).binary_cross_entropy_with_logits(
        x, _probs(t), _lin(m, 4, x), reduction="none", pos_weight=_lin(m, 4, x, 2.0, 0.5)),
         lambda x, t: _np_bce_logits(x, _probs(t), _npl(4), _npl(4, 2.0, 0.5), "none"),
         [(A(3, 4), A(3, 4, kind="unit"))]),
]

# ---------------------------------------------------------------- creation
# (entries for the creation functions, whose error inputs are sizes: negative, huge)

OPS += [
    case("zeros", lambda m, x: m.zeros(x.shape, dtype=x.dtype) + x, lambda x: x, UNARY[:4]),
    case("ones", lambda m, x: m.ones(x.shape, dtype=x.dtype) * x, lambda x: x, UNARY[:4]),
    case("full", lambda m, x: m.full(x.shape, 2.5, dtype=x.dtype) * x, lambda x: 2.5 * x,
         UNARY[:4]),
    case("empty_like_fill", lambda m, x: m.empty_like(x).fill_(1.5) - x, lambda x: 1.5 - x,
         UNARY[:4]),
    case("arange", lambda m, x: m.arange(1, 2 * x.shape[-1] + 1, 2, dtype=x.dtype) * x,
         lambda x: np.arange(1, 2 * x.shape[-1] + 1, 2) * x, [(A(3, 5),), (A(4,),)]),
    case("linspace", lambda m, x: m.linspace(-1, 2, x.shape[-1], dtype=x.dtype) * x,
         lambda x: np.linspace(-1, 2, x.shape[-1]) * x, [(A(3, 5),), (A(1,),)]),
    case("eye", lambda m, x: m.eye(*x.shape, dtype=x.dtype) * x,
         lambda x: np.eye(*x.shape) * x, [(A(3, 5),), (A(4, 4),)]),
    case("rand_range", lambda m, x: (m.rand(x.shape, dtype=x.dtype) < 1) * x, lambda x: x,
         [(A(3, 5),)]),
    case("randn_finite", lambda m, x: m.randn(*x.shape, dtype=x.dtype).isfinite() * x,
         lambda x: x, [(A(3, 5),)]),
]

OPS += [
    case("sign_bool", lambda m, x: m.sign(x), lambda x: x.copy(), _kind(UNARY, "bool"),
         grad=False, dtypes=("bool",)),
]

BY_NAME = {c.name: c for c in OPS}
assert len(BY_NAME) == len(OPS), "duplicate op names in the table"


# ---------------------------------------------------------------- error inputs
# Bad calls of each entry and the exception PyTorch gives (graphc/testing/error_inputs.py);
# tests/test_op_errors.py checks PyTorch, graphc eager and graphc compiled against them.
# Elementwise binary entries get a shape mismatch derived from their samples.

_BINARY_SHAPES = [tuple(a.shape for a in s) for s in BINARY]


def all_error_inputs(c: OpCase) -> list[ErrorInput]:
    return error_inputs(c, _BINARY_SHAPES)


def _errors(name: str, op: str, *errors) -> None:
    """Entry ``name`` raises ``errors``, with messages naming ``op`` (PyTorch's name)."""
    c = BY_NAME[name]
    c.op_name = op
    c.errors = [*c.errors, *errors]


_LIST = r"must be Tensor, not list"
_MATMUL = r"shapes cannot be multiplied \(3x4 and 5x2\)"
_HUGE = r"tried to allocate \d+ bytes"
_NEG_DIM = r"negative dimension -2"


def _idx(*values):
    return lambda m: (m.ones(3, 4), m.tensor(list(values)))


# elementwise unary
for _name in ("exp", "log", "sin", "sqrt", "tanh", "floor", "ceil", "reciprocal",
              "logical_not", "round", "trunc", "rsqrt", "sigmoid", "square", "log1p", "expm1",
              "erf", "erfc", "exp2", "log2", "tan", "frac", "relu", "abs"):
    _errors(_name, _name, NOT_TENSOR)
_errors("neg", "neg|negation", BOOL)
_errors("abs", "abs", BOOL)
_errors("frac", "frac", LONG)
_errors("relu", "relu", BOOL)
_errors("isnan", "isnan", err("argument_type", lambda m: ([1.0],), TypeError, _LIST,
                              lambda m, x: m.isnan(x)))
_errors("clamp", "clamp", err("no_bounds", ones((3,)), RuntimeError,
                              r"At least one of 'min' or 'max' must not be None",
                              lambda m, x: m.clamp(x)))
_errors("clamp_min", "clamp", arg_type(lambda m, x: x.clamp(min="a"), r"clamp"))
_errors("cast_f64", "to", err("device", ones((3,)), RuntimeError, r"device type at start of "
                              r"device string: tpu", lambda m, x: x.to("tpu")))

# elementwise binary (each also gets a broadcast mismatch, derived)
for _name, _op in [("add", "add"), ("add_alpha", "add"), ("sub", "sub"), ("mul", "mul"),
                   ("div", "div"), ("pow", "pow"), ("maximum", "maximum"),
                   ("minimum", "minimum"), ("eq", "eq"), ("ne", "ne"), ("lt", "lt"),
                   ("le", "le"), ("gt", "gt"), ("ge", "ge"), ("logical_and", "logical_and"),
                   ("logical_or", "logical_or|bitwise_or|__or__"),
                   ("logical_xor", "logical_xor"), ("int_add", "add"), ("int_truediv", "div"),
                   ("floor_divide", "floor_divide"), ("remainder", "remainder"),
                   ("int_floor_divide", "floor_divide"), ("int_remainder", "remainder"),
                   ("lerp", "lerp")]:
    _errors(_name, _op)
_ZERO_DIV = r"ZeroDivisionError"
_errors("add", "add", err("huge_result", ones((1,)), RuntimeError, _HUGE,
                          lambda m, x: x.expand(10 ** 6, 10 ** 6) + x))
_errors("add_alpha", "add", err("float_alpha_int", ones((3,), (3,), dtype="int64"), RuntimeError,
                                r"alpha must not be a floating point number",
                                lambda m, x, y: m.add(x, y, alpha=0.5)))
_errors("sub", "sub", BOOL)
_errors("mul", "mul", arg_type(lambda m, x: m.mul(x, "a"), r"mul\(\)"))
_errors("div", "div", err("rounding_mode", ones((3,), (3,)), RuntimeError,
                          r"rounding_mode to be one of None, 'trunc', or 'floor'",
                          lambda m, x, y: m.div(x, y, rounding_mode="up")))
_errors("pow", "pow", BOOL, err("negative_int_power", ones((3,), dtype="int64"), RuntimeError,
                                r"Integers to negative integer powers are not allowed",
                                lambda m, x: x ** -1))
_errors("floor_divide", "floor_divide", BOOL)
_errors("remainder", "remainder", BOOL)
_errors("int_floor_divide", "floor_divide",
        err("zero_divisor", lambda m: (m.arange(4), m.tensor([1, 2, 0, 3])), RuntimeError,
            _ZERO_DIV, lambda m, x, y: x // y))
_errors("int_remainder", "remainder",
        err("zero_divisor", lambda m: (m.arange(4), m.tensor([1, 0, 2, 3])), RuntimeError,
            _ZERO_DIV, lambda m, x, y: m.remainder(x, y)))
_errors("where", "where",
        err("float_condition", ones((3,), (3,), (3,)), RuntimeError,
            r"where expected condition to be a boolean tensor"),
        err("broadcast_mismatch", lambda m: (m.ones(2, 3, dtype=m.bool), m.ones(4, 3),
                                             m.ones(3)), RuntimeError,
            r"size of tensor a \(2\) must match the size of tensor b \(4\)"))
_errors("where_scalar", "where", err("int_condition", ones((3,), (3,), dtype="int64"),
                                     RuntimeError, r"condition to be a boolean tensor"))
_errors("lerp", "lerp", LONG, err("dtype_mismatch", lambda m: (m.ones(3), m.ones(
    3, dtype=m.float64)), RuntimeError, r"expected dtype float for `end` but got dtype double"))
_errors("masked_fill", "masked_fill_?",
        err("float_mask", ones((3, 4), (3, 4)), RuntimeError, r"only supports boolean masks"),
        err("mask_shape", lambda m: (m.ones(3, 4), m.ones(3, dtype=m.bool)), RuntimeError,
            r"size of tensor a \(3\) must match the size of tensor b \(4\)"))

# reductions
_errors("sum", "sum", bad_dim(lambda m, x: x.sum(2)),
        arg_type(lambda m, x: x.sum(1.5), r"sum\(\) received an invalid combination"))
_errors("sum_dim", "sum", bad_dim(None, (3,)))
_errors("sum_dims_keep", "sum", err("repeated_dim", ones((3,)), RuntimeError,
                                    r"dim 0 appears multiple times in the list of dims"))
_errors("mean", "mean", LONG)
_errors("mean_dim", "mean", BOOL, bad_dim(lambda m, x: m.mean(x, 2)))
_errors("amax", "amax", bad_dim(None, (3,)),
        err("empty_dim", ones((3, 0)), IndexError, r"Expected reduction dim 1 to have "
            r"non-zero size"))
_errors("amax_all", "max", err("empty", ones((0, 3)), RuntimeError,
                               r"Expected reduction dim to be specified for input.numel\(\) "
                               r"== 0"))
_errors("amin", "amin", bad_dim(None, (3,)))
_errors("max_dim_values", "max", bad_dim(None, (3,)),
        err("empty_dim", ones((3, 0)), IndexError, r"Expected reduction dim 1 to have "
            r"non-zero size"))
_errors("max_dim_indices", "max", bad_dim(None, (3,)))
_errors("min_dim", "min", err("empty_dim", ones((0, 3)), IndexError,
                              r"Expected reduction dim 0 to have non-zero size"))
_errors("argmax", "argmax", BOOL, err("empty", ones((0, 3)), IndexError,
                                      r"Expected reduction dim to be specified for "
                                      r"input.numel\(\) == 0"))
_errors("argmin_dim", "argmin", BOOL, bad_dim(lambda m, x: m.argmin(x, 2)))
_errors("prod", "prod", bad_dim(None, (3,)))
_errors("var", "var", LONG, bad_dim(None, (3,)))
_errors("var_all_biased", "var", BOOL)
_errors("std", "std", LONG, bad_dim(lambda m, x: m.std(x, 2)))
_errors("logsumexp", "logsumexp", bad_dim(None, (3,)))
_errors("softmax", "softmax", LONG, bad_dim(lambda m, x: m.softmax(x, 2)),
        arg_type(lambda m, x: m.softmax(x, 1.5), r"softmax\(\): argument 'dim'"))
_errors("softmax_dim0", "softmax", BOOL)
_errors("log_softmax", "log_softmax", LONG, bad_dim(None, (3,)))
_errors("all", "all", bad_dim(None, (3,), dtype="bool"))
_errors("any", "any", bad_dim(lambda m, x: x.any(2), dtype="bool"))
_errors("norm", "norm", LONG)
_errors("norm_dim_p1", "norm", BOOL, bad_dim(None, (3,)))
_errors("norm_p3_keep", "norm", LONG)
_errors("sort_values", "sort", bad_dim(None, (3,)))
_errors("argsort", "argsort", bad_dim(lambda m, x: m.argsort(x, 2)))
_errors("topk", "topk", BOOL, err("k_too_large", ones((3, 1)), RuntimeError,
                                  r"selected index k out of range"),
        err("negative_k", ones((3, 4)), RuntimeError, r"selected index k out of range",
            lambda m, x: m.topk(x, -1)))
_errors("topk_smallest_dim0", "topk", BOOL)
_errors("kthvalue", "kthvalue", BOOL, bad_dim(None, (3,)),
        err("k_out_of_range", ones((3, 4)), RuntimeError, r"out of range",
            lambda m, x: m.kthvalue(x, 5, 1)))
_errors("median", "median", BOOL)
_errors("median_dim", "median", BOOL, bad_dim(lambda m, x: m.median(x, 2)))
_errors("cumsum", "cumsum", bad_dim(None, (3,)))

# linear algebra
_errors("matmul", "matmul", BOOL,
        err("inner_mismatch", ones((3, 4), (5, 2)), RuntimeError, _MATMUL),
        err("zero_dim", ones((), (3, 4)), RuntimeError,
            r"both arguments to matmul need to be at least 1D"),
        err("batch_mismatch", ones((2, 3, 4), (3, 4, 2)), RuntimeError,
            r"size of tensor a \(2\) must match the size of tensor b \(3\)"),
        err("dtype_mismatch", lambda m: (m.ones(3, 4), m.ones(4, 2, dtype=m.float64)),
            RuntimeError, r"expected m1 and m2 to have the same dtype"))
_errors("mm", "mm", err("rank", ones((3,), (3, 2)), RuntimeError, r"self must be a matrix"),
        err("inner_mismatch", ones((3, 4), (5, 2)), RuntimeError, _MATMUL))
_errors("bmm", "bmm", err("rank", ones((3, 4), (4, 3)), RuntimeError,
                          r"batch1 must be a 3D tensor"),
        err("batch_mismatch", ones((2, 3, 4), (3, 4, 3)), RuntimeError,
            r"Expected size for first two dimensions of batch2 tensor"))
_errors("dot", "dot", err("rank", ones((2, 3), (2, 3)), RuntimeError,
                          r"1D tensors expected, but got 2D and 2D tensors"),
        err("size_mismatch", ones((3,), (4,)), RuntimeError, r"inconsistent tensor size"),
        err("dtype_mismatch", lambda m: (m.ones(3), m.ones(3, dtype=m.float64)), RuntimeError,
            r"expected both vectors to have same dtype"))
_errors("outer", "outer", err("rank", ones((2, 3), (3,)), RuntimeError,
                              r"outer: Expected 1-D argument self, but got 2-D"))
_errors("einsum_matmul", "einsum",
        err("operand_rank", ones((3,), (3, 2)), RuntimeError, r"the number of subscripts in "
            r"the equation \(2\) does not match the number of dimensions \(1\)"),
        err("size_mismatch", ones((3, 4), (5, 2)), RuntimeError, r"does not broadcast"))
_errors("einsum_batch", "einsum", err("operand_rank", ones((3, 4), (2, 5, 4)), RuntimeError,
                                      r"the number of subscripts in the equation \(3\)"))
_errors("einsum_reduce", "einsum", err("too_many_operands", ones((2, 3, 4), (2,)),
                                       RuntimeError, r"more operands were provided than "
                                       r"specified in the equation",
                                       lambda m, x, y: m.einsum("ijk->j", x, y)))
_errors("einsum_outer_implicit", "einsum",
        err("unknown_output", ones((3,), (2,)), RuntimeError, r"output subscript k does not "
            r"appear in the equation for any input operand",
            lambda m, x, y: m.einsum("i,j->k", x, y)))

# movement
_errors("reshape", "reshape", err("bad_size", ones((3,)), RuntimeError,
                                  r"shape '\[-1, 2\]' is invalid for input of size 3"),
        err("negative_size", ones((3, 4)), RuntimeError, r"invalid shape dimension -2",
            lambda m, x: x.reshape(-2, 6)),
        err("two_inferred", ones((3, 4)), RuntimeError, r"only one dimension can be inferred",
            lambda m, x: x.reshape(-1, -1)),
        arg_type(lambda m, x: x.reshape(2.5, 2), r"reshape"))
_errors("view", "view", err("bad_size", ones((2, 5)), RuntimeError,
                            r"shape '\[4, 3\]' is invalid for input of size 10"),
        err("non_contiguous", ones((4, 3)), RuntimeError,
            r"view size is not compatible with input tensor's size and stride",
            lambda m, x: x.t().view(12), traced="strides are not known while tracing"))
_errors("permute", "permute",
        err("dims_count", ones((3, 4)), RuntimeError, r"number of dimensions in the tensor "
            r"input does not match the length of the desired ordering of dimensions"),
        err("repeated_dim", ones((2, 3, 4)), RuntimeError, r"duplicate dims are not allowed",
            lambda m, x: x.permute(0, 0, 1)),
        bad_dim(lambda m, x: x.permute(0, 3, 1), (2, 3, 4)))
_errors("transpose", "transpose", bad_dim(None, (3,)))
_errors("t", "t", err("rank", ones((2, 3, 4)), RuntimeError,
                      r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"))
_errors("squeeze_dim", "squeeze", bad_dim(None, (3,)))
_errors("unsqueeze", "unsqueeze", NOT_TENSOR, bad_dim(lambda m, x: m.unsqueeze(x, 3)))
_errors("flatten", "flatten", bad_dim(None, (3,)),
        err("start_after_end", ones((2, 3, 4)), RuntimeError, r"start_dim cannot come after "
            r"end_dim", lambda m, x: m.flatten(x, 2, 1)))
_errors("expand", "expand",
        err("size_mismatch", ones((5, 1)), RuntimeError, r"The expanded size of the tensor "
            r"\(3\) must match the existing size \(5\) at non-singleton dimension 1"),
        err("too_few_sizes", ones((2, 2, 3, 4)), RuntimeError, r"the number of sizes provided "
            r"\(3\) must be greater or equal to the number of dimensions in the tensor \(4\)"),
        err("negative_size", ones((3,)), RuntimeError, r"The expanded size of the tensor "
            r"\(-2\) must match the existing size \(3\)", lambda m, x: x.expand(2, -2)))
_errors("expand_as_add", "expand(_as)?", err("size_mismatch", ones((3, 2), (3, 5)),
                                             RuntimeError, r"must match the existing size"))
_errors("repeat", "repeat",
        err("too_few_repeats", ones((2, 3, 4)), RuntimeError, r"Number of dimensions of repeat "
            r"dims can not be smaller than number of dimensions of tensor"),
        err("negative_repeat", ones((2, 3)), RuntimeError, r"negative dimension -2",
            lambda m, x: x.repeat(-1, 2)))
_errors("cat", "cat",
        err("size_mismatch", ones((2, 3), (3, 3)), RuntimeError, r"Sizes of tensors must match "
            r"except in dimension 1. Expected size 2 but got size 3 for tensor number 1"),
        err("rank_mismatch", ones((2, 3), (3,)), RuntimeError,
            r"Tensors must have same number of dimensions: got 2 and 1"),
        bad_dim(None, (3,), (2,)),
        arg_type(lambda m, x: m.cat(x, 1), r"cat\(\): argument 'tensors' \(position 1\) "
                 r"must be tuple of Tensors, not Tensor"),
        err("empty_list", lambda m: (), ValueError, r"expected a non-empty list of Tensors",
            lambda m: m.cat([])))
_errors("stack", "stack",
        err("size_mismatch", ones((2, 3), (2, 4)), RuntimeError,
            r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and "
            r"\[2, 4\] at entry 1"),
        bad_dim(lambda m, x, y: m.stack([x, y], -4), (2, 3), (2, 3)),
        err("empty_list", lambda m: (), RuntimeError, r"stack expects a non-empty TensorList",
            lambda m: m.stack([])))
_errors("split", "split", bad_dim(lambda m, x: m.split(x, 2, 2), (3, 5)),
        arg_type(lambda m, x: m.split(x, 2.5), r"split"))
_errors("split_sizes", "split(_with_sizes)?",
        err("bad_sum", ones((3, 2)), RuntimeError,
            r"split_with_sizes expects split_sizes to sum exactly to 3"),
        err("negative_size", ones((4, 2)), RuntimeError, r"split_with_sizes expects "
            r"split_sizes have only non-negative entries",
            lambda m, x: x.split([-1, 5], 0)))
_errors("chunk", "chunk", err("zero_chunks", ones((6, 2)), RuntimeError, r"chunk expects "
                              r"`chunks` to be greater than 0, got: 0",
                              lambda m, x: x.chunk(0, 0)),
        bad_dim(lambda m, x: x.chunk(2, 2), (6, 2)))
_errors("narrow", "narrow",
        err("too_long", ones((3, 2)), RuntimeError, r"start \(1\) \+ length \(2\) exceeds "
            r"dimension size \(2\)"),
        err("negative_length", ones((3, 4)), RuntimeError, r"length must be non-negative",
            lambda m, x: x.narrow(1, 1, -1)),
        err("start_out_of_range", ones((3, 4)), IndexError, r"start out of range",
            lambda m, x: x.narrow(1, 7, 1)),
        bad_dim(None, (4,)))
_errors("flip", "flip", bad_dim(lambda m, x: m.flip(x, (2,))),
        err("repeated_dim", ones((3, 4)), RuntimeError, r"dim 0 appears multiple times",
            lambda m, x: m.flip(x, (0, 0))))
_errors("diagonal", "diagonal", bad_dim(None, (3,)),
        err("same_dims", ones((3, 4)), RuntimeError, r"diagonal dimensions cannot be identical",
            lambda m, x: m.diagonal(x, 0, 1, 1)))
_errors("diagonal_3d", "diagonal", bad_dim(None, (3, 4)))
_errors("diag_vector", "diag", err("rank", ones((2, 3, 4)), RuntimeError,
                                   r"diag\(\): Supports 1D or 2D tensors. Got 3D"))
_errors("trace", "trace", BOOL, err("rank", ones((3,)), RuntimeError, r"expected a matrix"))
_errors("tril", "tril", err("rank", ones((3,)), RuntimeError,
                            r"tril: input tensor must have at least 2 dimensions"))
_errors("triu", "triu", err("rank", ones((3,)), RuntimeError,
                            r"triu: input tensor must have at least 2 dimensions"))
_INDICES = r"only integers, slices \(`:`\), ellipsis \(`...`\), None and long or byte " \
           r"Variables are valid indices"
_errors("getitem_basic", "indexing",
        err("out_of_range", ones((3, 5)), IndexError,
            r"index 5 is out of bounds for dimension 0 with size 3", lambda m, x: x[5]),
        err("too_many_indices", ones((3, 5)), IndexError,
            r"too many indices for tensor of dimension 2", lambda m, x: x[0, 0, 0]))
_errors("getitem_slices", "indexing",
        err("negative_step", ones((3, 4)), ValueError, r"step must be greater than zero",
            lambda m, x: x[::-1]))
_errors("getitem_step3", "indexing",
        err("argument_type", ones((3, 4)), IndexError, _INDICES, lambda m, x: x[1.5]))
_errors("getitem_intlist", "indexing",
        err("out_of_range", ones((3, 4)), IndexError,
            r"index 5 is out of bounds for dimension 0 with size 3", lambda m, x: x[[0, 5]]))
_errors("getitem_mask", "indexing",
        err("mask_shape", lambda m: (m.ones(4, 3), m.ones(3, dtype=m.bool)), IndexError,
            r"The shape of the mask \[3\] at index 0 does not match the shape of the indexed "
            r"tensor \[4, 3\] at index 0", lambda m, x, mask: x[mask]))
_errors("getitem_tensor_idx", "indexing",
        err("out_of_range", lambda m: (m.ones(3, 5), m.tensor([0, 7])), IndexError,
            r"index 7 is out of bounds for dimension \d with size 5"),
        err("float_index", lambda m: (m.ones(3, 5), m.ones(2)), IndexError,
            r"tensors used as indices must be long, int, byte or bool tensors"))
_errors("getitem_pair_idx", "indexing",
        err("second_out_of_range", lambda m: (m.ones(3, 4), m.tensor([0, 1]), m.tensor([1, 5])),
            IndexError, r"index 5 is out of bounds for dimension 1 with size 4"),
        err("shape_mismatch", lambda m: (m.ones(3, 4), m.tensor([0, 1]), m.tensor([0, 1, 2])),
            IndexError, r"shape mismatch: indexing tensors could not be broadcast together"))
_OOB = r"index 4 is out of bounds for dimension 1 with size 4"
_errors("gather", "gather",
        err("index_out_of_range", _idx([0, 4], [1, 2], [3, 0]), RuntimeError, _OOB),
        err("float_index", ones((3, 4), (3, 2)), RuntimeError,
            r"gather\(\): Expected dtype int32/int64 for index"),
        err("index_rank", _idx(0, 1, 2), RuntimeError, r"Index tensor must have the same "
            r"number of dimensions as input tensor"),
        bad_dim(lambda m, x, i: m.gather(x, 2, i), (3, 4), (3, 2), dtype="int64"))
_errors("gather_dim0", "gather", err("negative_index", _idx([0, 1, 2, -1]), RuntimeError,
                                     r"index -1 is out of bounds for dimension 0 with size 3"))
_errors("scatter_add", "scatter(_add)?",
        err("index_out_of_range", lambda m: (m.ones(3, 4), m.tensor([[0, 4]] * 3),
                                             m.ones(3, 2)), RuntimeError, _OOB),
        err("dtype_mismatch", lambda m: (m.ones(3, 4), m.zeros(3, 2, dtype=m.int64),
                                         m.ones(3, 2, dtype=m.float64)), RuntimeError,
            r"Expected self.dtype to be equal to src.dtype"))
_errors("index_select", "index_select",
        err("out_of_range", lambda m: (m.ones(4, 3), m.tensor([0, 4])), IndexError,
            r"index out of range in self"),
        err("index_rank", lambda m: (m.ones(4, 3), m.tensor([[0, 1]])), IndexError,
            r"Index is supposed to be a vector"),
        err("float_index", ones((4, 3), (2,)), RuntimeError,
            r"Expected dtype int32 or int64 for index"))
_errors("one_hot", "one_hot",
        err("too_large", lambda m: (m.tensor([0, 5]),), RuntimeError,
            r"Class values must be smaller than num_classes"),
        err("negative", lambda m: (m.tensor([0, -1]),), RuntimeError,
            r"Class values must be non-negative"),
        err("float_input", ones((3,)), RuntimeError, r"one_hot is only applicable to index "
            r"tensor"))
_errors("pad", "pad",
        err("odd_length", ones((2, 3)), RuntimeError, r"Padding length must be divisible by 2",
            lambda m, x: m.nn.functional.pad(x, (1, 2, 3))),
        err("too_long", ones((2, 3)), RuntimeError, r"Padding length should be less than or "
            r"equal to two times the input dimension",
            lambda m, x: m.nn.functional.pad(x, (1, 1, 1, 1, 1, 1))))
_errors("pad_crop", "pad", err("negative_size", ones((2, 4)), RuntimeError,
                               r"narrow\(\): length must be non-negative",
                               lambda m, x: m.nn.functional.pad(x, (-5, 0))))

# activations
_errors("leaky_relu", "leaky_relu", BOOL)
_errors("elu", "elu", LONG)
_errors("gelu", "gelu", BOOL, err("approximate", ones((3,)), RuntimeError, r"approximate "
                                  r"argument must be either none or tanh",
                                  lambda m, x: m.nn.functional.gelu(x, approximate="fast")))
_errors("gelu_tanh", "gelu", LONG)
_errors("silu", "silu", LONG)
_errors("softplus", "softplus", LONG)
_errors("logsigmoid", "logsigmoid|log_sigmoid", LONG)
_errors("hardtanh", "hardtanh", BOOL)
_errors("normalize", "normalize", LONG, bad_dim(None, (3,)))
_errors("softmin", "softmin", LONG, bad_dim(None, (3,)))

# convolution, pooling
_F = "nn.functional"


def _conv(*shapes):
    return ones(*shapes)


_errors("conv2d", "conv2d",
        err("channels", _conv((1, 4, 5, 5), (3, 2, 3, 3), (3,)), RuntimeError,
            r"expected input\[1, 4, 5, 5\] to have 2 channels, but got 4 channels instead"),
        err("rank", _conv((5, 5), (3, 2, 3, 3), (3,)), RuntimeError,
            r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d"),
        err("kernel_too_large", _conv((1, 2, 2, 2), (3, 2, 3, 3), (3,)), RuntimeError,
            r"Kernel size can't be greater than actual input size"),
        err("bias_size", _conv((1, 2, 5, 5), (3, 2, 3, 3), (4,)), RuntimeError,
            r"expected bias to be 1-dimensional with 3 elements"),
        BOOL)
_errors("conv2d_stride_pad", "conv2d",
        err("zero_stride", _conv((1, 2, 5, 5), (3, 2, 3, 3)), RuntimeError,
            r"non-positive stride is not supported",
            lambda m, x, w: m.nn.functional.conv2d(x, w, stride=0)),
        err("negative_padding", _conv((1, 2, 5, 5), (3, 2, 3, 3)), RuntimeError,
            r"negative padding is not supported",
            lambda m, x, w: m.nn.functional.conv2d(x, w, padding=-1)))
_errors("conv2d_same_dilation", "conv2d",
        err("same_strided", _conv((1, 2, 6, 5), (2, 2, 2, 3)), RuntimeError,
            r"padding='same' is not supported for strided convolutions",
            lambda m, x, w: m.nn.functional.conv2d(x, w, stride=2, padding="same")),
        err("bad_padding_string", _conv((1, 2, 6, 5), (2, 2, 2, 3)), RuntimeError,
            r"Invalid padding string: 'full'",
            lambda m, x, w: m.nn.functional.conv2d(x, w, padding="full")))
_errors("conv2d_groups", "conv2d",
        err("groups_divide_out_channels", _conv((1, 4, 5, 5), (3, 2, 3, 3)), RuntimeError,
            r"expected weight to be divisible by 2 at dimension 0",
            lambda m, x, w: m.nn.functional.conv2d(x, w, groups=2)),
        err("zero_groups", _conv((1, 4, 5, 5), (4, 2, 3, 3)), RuntimeError,
            r"non-positive groups is not supported",
            lambda m, x, w: m.nn.functional.conv2d(x, w, groups=0)))
_errors("conv2d_depthwise_valid", "conv2d",
        err("zero_dilation", _conv((1, 4, 4, 4), (4, 1, 2, 2)), RuntimeError,
            r"non-positive dilation is not supported",
            lambda m, x, w: m.nn.functional.conv2d(x, w, dilation=0, groups=4)))
_errors("conv1d", "conv1d", err("rank", _conv((1, 2, 3, 7), (2, 3, 3), (2,)), RuntimeError,
                                r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d"))
_errors("max_pool2d", "max_pool2d", BOOL,
        err("zero_kernel", ones((1, 2, 5, 6)), RuntimeError, r"kernel size should be greater "
            r"than zero", lambda m, x: m.nn.functional.max_pool2d(x, 0, 1)),
        err("rank", ones((5, 6)), RuntimeError, r"3D or 4D \(batch mode\) tensor expected"),
        err("large_padding", ones((1, 2, 5, 6)), RuntimeError, r"pad should be at most half "
            r"of effective kernel size", lambda m, x: m.nn.functional.max_pool2d(x, 2, 1, 2)),
        err("output_too_small", ones((1, 2, 5, 6)), RuntimeError, r"Output size is too small",
            lambda m, x: m.nn.functional.max_pool2d(x, 7)))
_errors("max_pool2d_stride_pad", "max_pool2d",
        err("zero_stride", ones((1, 2, 5, 6)), RuntimeError, r"stride should not be zero",
            lambda m, x: m.nn.functional.max_pool2d(x, 3, 0)))
_errors("max_pool2d_dilation", "max_pool2d",
        err("zero_dilation", ones((1, 2, 5, 6)), RuntimeError, r"dilation should be greater "
            r"than zero", lambda m, x: m.nn.functional.max_pool2d(x, 2, 1, dilation=0)))
_errors("max_pool1d", "max_pool1d", LONG,
        err("rank", ones((1, 2, 3, 7)), RuntimeError, r"max_pool1d: Expected 2D or 3D"))
_errors("avg_pool2d", "avg_pool2d", BOOL,
        err("output_too_small", ones((1, 2, 5, 6)), RuntimeError, r"Output size is too small",
            lambda m, x: m.nn.functional.avg_pool2d(x, 7)))
_errors("avg_pool2d_pad_exclude", "avg_pool2d",
        err("large_padding", ones((1, 2, 5, 6)), RuntimeError, r"pad should be at most half "
            r"of effective kernel size",
            lambda m, x: m.nn.functional.avg_pool2d(x, 2, 1, 2)))
_errors("avg_pool2d_ceil_exclude_divisor", "avg_pool2d",
        err("zero_divisor", ones((1, 2, 5, 6)), RuntimeError, r"divisor must be not zero",
            lambda m, x: m.nn.functional.avg_pool2d(x, 2, divisor_override=0)))
_errors("avg_pool1d", "avg_pool1d", err("rank", ones((1, 2, 3, 7)), RuntimeError,
                                        r"Expected 2 to 3 dimensions"))
_errors("adaptive_avg_pool2d", "adaptive_avg_pool2d", LONG,
        err("rank", ones((1, 1, 2, 5, 6)), RuntimeError, r"Expected 3D or 4D tensor"),
        err("negative_size", ones((1, 2, 5, 6)), RuntimeError,
            r"elements of output_size must be greater than or equal to 0",
            lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (-1, 2))))

# normalization, linear, embedding
_errors("batch_norm_eval", "batch_norm",
        err("channels", ones((2, 4, 2, 2), (4,), (4,)), RuntimeError,
            r"running_mean should contain 4 elements not 3"))
_errors("batch_norm_train", "batch_norm",
        err("one_value_per_channel", ones((1, 3), (3,), (3,)), ValueError,
            r"Expected more than 1 value per channel when training"))
_errors("batch_norm_train_no_affine", "batch_norm", LONG)
_errors("layer_norm", "layer_norm",
        err("normalized_shape", ones((2, 3, 5), (4,), (4,)), RuntimeError,
            r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], but got "
            r"input of size\s?\[2, 3, 5\]"),
        err("weight_shape", ones((2, 3, 4), (5,), (4,)), RuntimeError,
            r"Expected weight to be of same shape as normalized_shape"))
_errors("layer_norm_2d_no_affine", "layer_norm", LONG)
_errors("group_norm", "group_norm",
        err("groups_divide_channels", ones((2, 5, 3), (5,), (5,)), RuntimeError,
            r"Expected number of channels in input to be divisible by num_groups"))
_errors("linear", "linear", BOOL,
        err("in_features", ones((3, 4), (5, 3), (5,)), RuntimeError,
            r"mat1 and mat2 shapes cannot be multiplied \(3x4 and 3x5\)"))
_errors("linear_no_bias", "linear", err("zero_dim", ones((), (2, 4)), RuntimeError,
                                        r"both arguments to linear need to be at least 1D"))
_errors("embedding", "embedding",
        err("out_of_range", lambda m: (m.tensor([0, 5]), m.ones(5, 3)), IndexError,
            r"index out of range in self"),
        err("float_indices", ones((2,), (5, 3)), RuntimeError,
            r"Expected tensor for argument #1 'indices' to have one of the following scalar "
            r"types: Long, Int"),
        err("weight_rank", lambda m: (m.tensor([0, 1]), m.ones(5)), RuntimeError,
            r"'weight' must be 2-D"))

# losses
_REDUCTION = r"banana is not a valid value for reduction"
_errors("mse_loss", "mse_loss", LONG,
        err("shape_mismatch", ones((3, 4), (3, 5)), RuntimeError,
            r"size of tensor a \(4\) must match the size of tensor b \(5\)"),
        err("reduction", ones((3,), (3,)), ValueError, _REDUCTION,
            lambda m, x, y: m.nn.functional.mse_loss(x, y, reduction="banana")))
_errors("mse_loss_sum_none", "mse_loss", LONG)
_errors("l1_loss", "l1_loss", BOOL,
        err("reduction", ones((3,), (3,)), ValueError, _REDUCTION,
            lambda m, x, y: m.nn.functional.l1_loss(x, y, reduction="banana")))
_errors("smooth_l1_loss", "smooth_l1_loss", LONG)
_errors("smooth_l1_loss_none", "smooth_l1_loss", BOOL)
_errors("huber_loss", "huber_loss", LONG)
_errors("huber_loss_sum", "huber_loss", BOOL)
_errors("cross_entropy", "cross_entropy",
        err("target_out_of_range", lambda m: (m.ones(2, 5), m.tensor([0, 7])), IndexError,
            r"Target 7 is out of bounds"),
        err("batch_mismatch", lambda m: (m.ones(4, 5), m.tensor([0, 1, 2])), ValueError,
            r"Expected input batch_size \(4\) to match target batch_size \(3\)"),
        err("float_input_long_target", lambda m: (m.ones(2, 5, dtype=m.int64),
                                                  m.tensor([0, 1])), RuntimeError,
            r"(?i)long"))
_errors("cross_entropy_sum_none", "cross_entropy",
        err("reduction", lambda m: (m.ones(2, 5), m.tensor([0, 1])), ValueError, _REDUCTION,
            lambda m, x, t: m.nn.functional.cross_entropy(x, t, reduction="banana")))
_errors("cross_entropy_probs", "cross_entropy",
        err("long_probabilities", lambda m: (m.ones(2, 3, 2), m.ones(2, 3, 2, dtype=m.int64)),
            RuntimeError, r"Expected floating point type for target with class probabilities"))
_errors("nll_loss", "nll_loss",
        err("target_out_of_range", lambda m: (m.ones(2, 5), m.tensor([0, 5])), IndexError,
            r"Target 5 is out of bounds"),
        err("negative_target", lambda m: (m.ones(2, 5), m.tensor([0, -3])), IndexError,
            r"Target -3 is out of bounds"),
        err("float_target", ones((2, 5), (2,)), RuntimeError,
            r"expected target dtype to be Long or Byte"),
        err("batch_mismatch", lambda m: (m.ones(4, 5), m.tensor([0, 1, 2])), ValueError,
            r"Expected input batch_size \(4\) to match target batch_size \(3\)"))
_errors("binary_cross_entropy", "binary_cross_entropy",
        err("out_of_range_input", ones((3,), (3,)), RuntimeError,
            r"all elements of input should be between 0 and 1",
            lambda m, p, t: m.nn.functional.binary_cross_entropy(p * 2, t)),
        err("shape_mismatch", ones((3,), (4,)), ValueError,
            r"Using a target size \(torch.Size\(\[4\]\)\) that is different to the input size "
            r"\(torch.Size\(\[3\]\)\) is deprecated|different to the input size",
            lambda m, p, t: m.nn.functional.binary_cross_entropy(p * 0.5, t)))
_errors("bce_with_logits", "binary_cross_entropy_with_logits",
        err("shape_mismatch", ones((3,), (4,)), ValueError,
            r"Target size \(torch.Size\(\[4\]\)\) must be the same as input size "
            r"\(torch.Size\(\[3\]\)\)|must be the same as input size"))

# creation
_errors("zeros", "zeros",
        err("huge", lambda m: (), RuntimeError, _HUGE, lambda m: m.zeros(10 ** 12)),
        err("negative_size", lambda m: (), RuntimeError, r"(?i)negative|non-negative",
            lambda m: m.zeros(3, -2)),
        arg_type(lambda m, x: m.zeros(2.5), r"zeros\(\)"),
        err("device", lambda m: (), RuntimeError, r"device type at start of device string",
            lambda m: m.zeros(3, device="tpu")))
_errors("ones", "ones", err("huge", lambda m: (), RuntimeError, _HUGE,
                            lambda m: m.ones(10 ** 6, 10 ** 6)),
        err("negative_size", lambda m: (), RuntimeError, r"(?i)negative",
            lambda m: m.ones(-2)))
_errors("full", "full", err("huge", lambda m: (), RuntimeError, _HUGE,
                            lambda m: m.full((10 ** 12,), 2.0)),
        err("negative_size", lambda m: (), RuntimeError, r"(?i)negative",
            lambda m: m.full((2, -2), 1.0)))
_errors("empty_like_fill", "empty", err("huge", lambda m: (), RuntimeError, _HUGE,
                                        lambda m: m.empty(10 ** 12)),
        err("negative_size", lambda m: (), RuntimeError, r"(?i)negative",
            lambda m: m.empty(-2)))
_errors("arange", "arange",
        err("huge", lambda m: (), RuntimeError, _HUGE, lambda m: m.arange(10 ** 12)),
        err("wrong_sign", lambda m: (), RuntimeError, r"upper bound and lower bound "
            r"inconsistent with step sign", lambda m: m.arange(5, 0)),
        err("zero_step", lambda m: (), RuntimeError, r"step must be nonzero",
            lambda m: m.arange(0, 5, 0)))
_errors("linspace", "linspace",
        err("huge", lambda m: (), RuntimeError, _HUGE, lambda m: m.linspace(0, 1, 10 ** 12)),
        err("negative_steps", lambda m: (), RuntimeError, r"number of steps must be "
            r"non-negative", lambda m: m.linspace(0, 1, -1)))
_errors("eye", "eye", err("huge", lambda m: (), RuntimeError, _HUGE,
                          lambda m: m.eye(10 ** 6)),
        err("negative_size", lambda m: (), RuntimeError, r"n must be greater or equal to 0, "
            r"got -2", lambda m: m.eye(-2)))
_errors("rand_range", "rand", err("huge", lambda m: (), RuntimeError, _HUGE,
                                  lambda m: m.rand(10 ** 12)),
        err("negative_size", lambda m: (), RuntimeError, r"(?i)negative",
            lambda m: m.rand(-2)))
_errors("randn_finite", "randn", err("huge", lambda m: (), RuntimeError, _HUGE,
                                     lambda m: m.randn(10 ** 12)),
        err("negative_size", lambda m: (), RuntimeError, r"(?i)negative",
            lambda m: m.randn(2, -2)))

# wrong argument types (PyTorch's argument parser: TypeError)
for _name, _op, _fn in [
        ("max_dim_values", "max", lambda m, x: m.max(x, 1.5)),
        ("prod", "prod", lambda m, x: m.prod(x, 1.5)),
        ("cumsum", "cumsum", lambda m, x: m.cumsum(x, 1.5)),
        ("mean_dim", "mean", lambda m, x: m.mean(x, 1.5)),
        ("amax", "amax", lambda m, x: m.amax(x, 1.5)),
        ("transpose", "transpose", lambda m, x: m.transpose(x, 0, "1")),
        ("unsqueeze", "unsqueeze", lambda m, x: m.unsqueeze(x, 1.5)),
        ("chunk", "chunk", lambda m, x: x.chunk(2.5)),
        ("topk", "topk", lambda m, x: x.topk(1.5)),
        ("argsort", "argsort", lambda m, x: m.argsort(x, dim=1.5)),
        ("view", "view", lambda m, x: x.view(2.5, 2)),
        ("layer_norm_2d_no_affine", "layer_norm",
         lambda m, x: m.nn.functional.layer_norm(x, 4.5)),
        ("pad", "pad", lambda m, x: m.nn.functional.pad(x, (1.5, 1))),
        ("matmul", "matmul", lambda m, x: m.matmul(x, [[1.0]])),
        ("outer", "outer", lambda m, x: m.outer(x, 2.0)),
        ("where_scalar", "where", lambda m, x: m.where(x > 0, x, "a")),
        ("ones", "ones", lambda m, x: m.ones("a")),
        ("linspace", "linspace", lambda m, x: m.linspace(0, 1, 2.5))]:
    _errors(_name, _op, arg_type(_fn))
_errors("conv2d_stride_pad", "conv2d", arg_type(
    lambda m, x: m.nn.functional.conv2d(x, m.ones(1, 4, 1, 1), stride=1.5), TYPE, (1, 4, 5, 5)))
_errors("gather_dim0", "gather", arg_type(lambda m, x, i: m.gather(x, 1.5, i), TYPE, (3, 4),
                                          (2, 4), dtype="int64"))
_errors("one_hot", "one_hot", arg_type(lambda m, i: m.nn.functional.one_hot(i, 1.5), TYPE,
                                       (3,), dtype="int64"))
_errors("pad_crop", "pad", err("mode", ones((2, 4)), RuntimeError, r"Unrecognised padding mode",
                               lambda m, x: m.nn.functional.pad(x, (1, 1), mode="banana")))
_errors("norm", "norm", err("order", ones((3, 4)), RuntimeError, r"Order banana not supported",
                            lambda m, x: x.norm(p="banana")))
_errors("batch_norm_eval", "batch_norm",
        err("no_running_stats", ones((2, 3)), RuntimeError,
            r"running_mean must be defined in evaluation mode",
            lambda m, x: m.nn.functional.batch_norm(x, None, None, training=False)))


# entries with one error each, where the table had none
_errors("cos", "cos", err("argument_type", lambda m: ([1.0],), TypeError, _LIST,
                          lambda m, x: m.cos(x)))
for _name, _op in [("sign", "sign"), ("sigmoid_extreme", "sigmoid"), ("expm1_signed", "expm1"),
                   ("log1p_wide", "log1p")]:
    _errors(_name, _op, NOT_TENSOR)
_errors("cast_long", "to", err("device_index", ones((3,)), RuntimeError,
                               r"Invalid device string: 'cuda:abc'",
                               lambda m, x: x.to("cuda:abc")))
_errors("cast_int_to_float", "to", arg_type(lambda m, x: x.to(dtype="float32"), TYPE, (3,),
                                            dtype="int64"))
_errors("rsub_scalar", "sub", BOOL)
_errors("sum_int", "sum", bad_dim(lambda m, x: x.sum(2), (3, 4), dtype="int64"))
_errors("prod_with_zero", "relu", BOOL)
_errors("sort_desc_indices", "sort", bad_dim(lambda m, x: m.sort(x, 2, descending=True)))
_errors("squeeze", "squeeze", bad_dim(lambda m, x: x.squeeze(2)))
_errors("cat_3", "cat", err("size_mismatch", ones((1, 2), (3, 3), (2, 2)), RuntimeError,
                            r"Sizes of tensors must match except in dimension 0"))
_errors("diag_matrix", "diag", err("rank", ones(()), RuntimeError,
                                   r"diag\(\): Supports 1D or 2D tensors. Got 0D"))
_errors("conv2d_unbatched_1x1", "conv2d", err("channels", ones((2, 3, 4), (3, 3, 1, 1)),
                                              RuntimeError, r"expected input\[1, 2, 3, 4\] to "
                                              r"have 3 channels, but got 2 channels instead"))
_errors("max_pool2d_indices", "max_pool2d", BOOL)
_errors("avg_pool2d_ceil", "avg_pool2d", BOOL)
_errors("embedding_padding_idx", "embedding",
        err("out_of_range", lambda m: (m.tensor([0, 7]), m.ones(4, 2)), IndexError,
            r"index out of range in self"))
_errors("mse_loss_weight", "mse_loss",
        err("weight_shape", ones((3, 4), (3, 4)), ValueError,
            r"Weights and input must have the same size",
            lambda m, x, y: m.nn.functional.mse_loss(x, y, weight=m.ones(4, 3))))
_errors("l1_loss_sum_none", "l1_loss", BOOL)
_WEIGHT = r"weight tensor should be defined either for all 5 classes or no classes"
_errors("cross_entropy_weight_ignore", "cross_entropy",
        err("weight_size", lambda m: (m.ones(2, 5), m.tensor([0, 1])), RuntimeError, _WEIGHT,
            lambda m, x, t: m.nn.functional.cross_entropy(x, t, m.ones(3))))
_errors("cross_entropy_smoothing", "cross_entropy",
        err("label_smoothing", lambda m: (m.ones(2, 5), m.tensor([0, 1])), RuntimeError,
            r"label_smoothing must be between 0.0 and 1.0. Got: 1.5",
            lambda m, x, t: m.nn.functional.cross_entropy(x, t, label_smoothing=1.5)))
_errors("cross_entropy_smoothing_none", "cross_entropy",
        err("target_out_of_range", lambda m: (m.ones(3, 4), m.tensor([0, 9, 1])), IndexError,
            r"Target 9 is out of bounds",
            lambda m, x, t: m.nn.functional.cross_entropy(x, t, reduction="none",
                                                          label_smoothing=0.3)))
_errors("cross_entropy_probs_none", "cross_entropy",
        err("probability_shape", ones((3, 4), (3, 5)), RuntimeError,
            r"0D or 1D target tensor expected, multi-target not supported",
            lambda m, x, p: m.nn.functional.cross_entropy(x, p, reduction="none")))
_errors("cross_entropy_probs_weight_smoothing", "cross_entropy",
        err("weight_size", ones((3, 4), (3, 4)), RuntimeError,
            r"weight tensor should be defined either for all 4 classes or no classes",
            lambda m, x, p: m.nn.functional.cross_entropy(x, p, m.ones(5))))
_errors("nll_loss_weight_ignore_sum", "nll_loss",
        err("weight_size", lambda m: (m.ones(6, 3), m.zeros(6, dtype=m.int64)), RuntimeError,
            r"weight tensor should be defined either for all 3 classes or no classes",
            lambda m, x, t: m.nn.functional.nll_loss(x, t, m.ones(4))))
_errors("nll_loss_none", "nll_loss",
        err("target_out_of_range", lambda m: (m.ones(3, 4), m.tensor([0, 4, 1])), IndexError,
            r"Target 4 is out of bounds",
            lambda m, x, t: m.nn.functional.nll_loss(x, t, reduction="none")))
for _name in ("binary_cross_entropy_weight_sum", "binary_cross_entropy_none"):
    _errors(_name, "binary_cross_entropy",
            err("out_of_range_input", ones((3, 4), (3, 4)), RuntimeError,
                r"all elements of input should be between 0 and 1",
                lambda m, p, t: m.nn.functional.binary_cross_entropy(p + 0.5, t,
                                                                     reduction="none")))
_errors("bce_with_logits_weights_none", "binary_cross_entropy_with_logits",
        err("pos_weight_shape", ones((3, 4), (3, 4)), RuntimeError,
            r"size of tensor a \(5\) must match the size of tensor b \(4\)",
            lambda m, x, t: m.nn.functional.binary_cross_entropy_with_logits(
                x, t, pos_weight=m.ones(5))))

# device: mixing CPU and CUDA tensors (only where both PyTorch and graphc have a GPU)
_SAME_DEVICE = r"Expected all tensors to be on the same device"
_errors("add", "add", err("devices", lambda m: (m.ones(3), m.ones(3, device="cuda")),
                          RuntimeError, _SAME_DEVICE, needs="cuda"))
_errors("matmul", "matmul", err("devices", lambda m: (m.ones(3, 4), m.ones(4, 2, device="cuda")),
                                RuntimeError, _SAME_DEVICE, needs="cuda"))
_errors("where", "where", err("devices", lambda m: (m.ones(3, dtype=m.bool), m.ones(3),
                                                    m.ones(3, device="cuda")),
                              RuntimeError, _SAME_DEVICE, needs="cuda"))
