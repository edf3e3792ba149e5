"""Error inputs of the op table: bad calls of each op and the exception PyTorch gives.

An :class:`ErrorInput` builds its arguments per module ``m`` (graphc or torch), so the same
bad call runs on both: PyTorch must raise ``error`` with a message matching ``match`` (which
keeps the table honest), and graphc must raise an instance of the same builtin whose message
names the op and the user's line, eagerly and compiled (``tests/test_op_errors.py``).

Besides the hand-written inputs of each entry (``OpCase.errors``), :func:`error_inputs`
derives some from the record itself: a shape mismatch for elementwise binary entries, and
a bool or integer input for entries whose ``errors`` list :data:`BOOL` or :data:`LONG`
(PyTorch refuses those dtypes for many float ops, each with its own wording).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ErrorInput:
    """One bad call: ``fn(m, *make(m))`` raises ``error`` (PyTorch: matching ``match``)."""

    what: str                     # short id for test names: "dim_out_of_range", ...
    make: Callable                # make(m) -> tuple of arguments built with module m
    error: type                   # the builtin PyTorch raises; graphc raises a subclass of it
    match: str                    # a regex PyTorch's message matches
    fn: Callable | None = None    # fn(m, *args); None: the entry's own fn
    needs: str | None = None      # "cuda": only where CUDA tensors can be made (both sides)
    traced: str = ""              # why compiled code cannot raise it (then eager only)


@dataclass(frozen=True)
class Derived:
    """An error input built from the entry's record (its first sample's shapes and kinds)."""

    build: Callable               # build(case) -> ErrorInput


def _dtype_input(dtype: str, match: str) -> Derived:
    def build(c) -> ErrorInput:
        def make(m):
            return tuple(_arg(m, a, dtype if a.is_float else None, c) for a in c.samples[0])
        return ErrorInput(f"{dtype}_input", make, RuntimeError, match)
    return Derived(build)


# PyTorch refuses these dtypes for many float-only ops, each in its own words
# ("abs_cpu" not implemented for 'Bool', "Boolean inputs not supported for relu",
# "linalg.vector_norm: Expected a floating point ... Got Long", "std and var only support
# floating point and complex dtypes"): each names the dtype or asks for floating point
BOOL = _dtype_input("bool", r"(?i)bool|floating point")
LONG = _dtype_input("int64", r"(?i)long|floating point")


def _arg(m, a, dtype: str | None, c):
    """A tensor of ``a``'s shape: ones of ``dtype`` (default: the entry's first dtype for
    float arguments, int64 zeros for index arguments, the sample's kind otherwise)."""
    if dtype is None:
        if a.kind == "bool":
            dtype = "bool"
        elif a.kind == "int" or a.kind.startswith("index:"):
            dtype = "int64"
        else:
            dtype = c.dtypes[0]
    fill = 0 if a.kind.startswith("index:") else 1
    return m.full(a.shape, fill, dtype=getattr(m, dtype))


def _is_binary_elementwise(c, binary_shapes: list) -> bool:
    shapes = [tuple(a.shape for a in s) for s in c.samples]
    return len(shapes) >= 4 and all(len(s) == 2 for s in shapes) and \
        shapes == binary_shapes[:len(shapes)]


def broadcast_mismatch(c) -> ErrorInput:
    """Operands of shapes [2, 3] and [4, 3], which do not broadcast."""
    a, b = c.samples[0]

    def make(m):
        return (_arg(m, replace(a, shape=(2, 3)), None, c),
                _arg(m, replace(b, shape=(4, 3)), None, c))
    return ErrorInput("broadcast_mismatch", make, RuntimeError,
                      r"size of tensor a \(2\) must match the size of tensor b \(4\)")


def error_inputs(c, binary_shapes: list) -> list[ErrorInput]:
    """Every error input of entry ``c``: derived ones first, then its hand-written ones."""
    out = [broadcast_mismatch(c)] if _is_binary_elementwise(c, binary_shapes) else []
    for e in c.errors:
        out.append(e.build(c) if isinstance(e, Derived) else e)
    return out


# ---------------------------------------------------------------- helpers for the table

def ones(*shapes, dtype: str = "float32") -> Callable:
    """``make`` for ones of the given shapes."""
    return lambda m: tuple(m.ones(s, dtype=getattr(m, dtype)) for s in shapes)


def err(what: str, make: Callable, error: type, match: str, fn: Callable | None = None,
        needs: str | None = None, traced: str = "") -> ErrorInput:
    return ErrorInput(what, make, error, match, fn, needs, traced)


DIM_RANGE = r"Dimension out of range \(expected to be in range of \[-\d+, \d+\], but got -?\d+\)"


def bad_dim(fn: Callable, *shapes, dtype: str = "float32") -> ErrorInput:
    """``fn`` names a dim the inputs (ones of ``shapes``, default one [3, 4]) do not have."""
    return err("dim_out_of_range", ones(*(shapes or [(3, 4)]), dtype=dtype), IndexError,
               DIM_RANGE, fn)


# how PyTorch's argument parser words a wrong argument type
TYPE = r"must be [\w ]+, (not|but found) \w+|received an invalid combination of arguments|" \
       r"takes \d positional argument"


def arg_type(fn: Callable, match: str = TYPE, *shapes, dtype: str = "float32") -> ErrorInput:
    """``fn`` passes an argument of the wrong Python type."""
    return err("argument_type", ones(*(shapes or [(3, 4)]), dtype=dtype), TypeError, match, fn)


def _not_tensor(c) -> ErrorInput:
    def make(m):
        return ([1.0, 2.0],) + tuple(_arg(m, a, None, c) for a in c.samples[0][1:])
    return ErrorInput("argument_type", make, TypeError, r"must be Tensor, not list")


# a Python list where the op's first argument must be a tensor (PyTorch's functions take
# no lists: "exp(): argument 'input' (position 1) must be Tensor, not list")
NOT_TENSOR = Derived(_not_tensor)
