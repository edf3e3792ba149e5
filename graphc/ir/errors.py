"""Exceptions that name the op, the operands and the user's source line.

Each subclasses the builtin that PyTorch raises in the same situation, so
``except RuntimeError`` in ported code still catches it.
"""
from __future__ import annotations

import functools
import os
import re
import sys

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def user_frame():
    """The innermost frame outside the graphc package (the user's code)."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
    return f


def user_loc() -> tuple | None:
    """Where the user's code is now: (code object, bytecode offset), resolved lazily."""
    f = user_frame()
    return (f.f_code, f.f_lasti) if f is not None else None


def loc_line(loc: tuple) -> tuple[str, int]:
    """(file, line) of a location: (code, offset) as user_loc() and eager nodes record it,
    which is much cheaper to take per op than a line number, or (file, line) itself."""
    where, pos = loc
    if isinstance(where, str):
        return where, pos
    for start, end, line in where.co_lines():
        if start <= pos < end and line is not None:
            return where.co_filename, line
    return where.co_filename, where.co_firstlineno


def called_op() -> str:
    """The graphc function or operator the user called (the outermost frame inside the
    package), for messages raised deep inside it: ``mul`` for ``x * "a"``."""
    f, name = sys._getframe(1), "op"
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        code = f.f_code.co_name
        if code.isidentifier() and (not code.startswith("_") or code.startswith("__")):
            name = code
        f = f.f_back
    name = name.strip("_")
    return _DUNDERS.get(name, name)


_DUNDERS = {"truediv": "div", "rtruediv": "div", "radd": "add", "rsub": "sub", "rmul": "mul",
            "rpow": "pow", "floordiv": "floor_divide", "mod": "remainder", "getitem": "indexing",
            "setitem": "indexing", "init": "device"}


def format_loc(loc: tuple | None, full: bool = False) -> str:
    if loc is None:
        return "<unknown>"
    path, line = loc_line(loc)
    return f"{path if full else os.path.basename(path)}:{line}"


class GraphcError(Exception):
    """Base of graphc's own exceptions; the message ends with the user's line."""

    def __init__(self, message: str) -> None:
        loc = user_loc()
        if loc is not None:
            message = f"{message}\n  at {format_loc(loc, full=True)}"
        super().__init__(message)


class ShapeError(GraphcError, RuntimeError):
    """Operand shapes that the op cannot take (PyTorch raises RuntimeError)."""


class DTypeError(GraphcError, RuntimeError):
    """Operand dtypes that the op cannot take, where PyTorch raises RuntimeError."""


class ArgumentError(GraphcError, TypeError):
    """Arguments of the wrong Python type or dtype, where PyTorch raises TypeError."""


class ValueArgumentError(GraphcError, ValueError):
    """Argument values out of their domain, where PyTorch raises ValueError."""


class IndexOutOfRange(GraphcError, IndexError):
    """Indices out of range or of the wrong kind."""


class IndexValueError(GraphcError, IndexError, RuntimeError):
    """Index *values* out of range inside an op (gather, scatter_add, one_hot): PyTorch raises
    RuntimeError there; it is an IndexError too, so either ``except`` catches it."""


class DomainError(GraphcError, RuntimeError):
    """Input values outside an op's domain, where PyTorch raises RuntimeError (a negative
    or NaN probability, a distribution that sums to zero)."""


class InvalidArgument(GraphcError, RuntimeError):
    """An argument value outside what the op takes (bad padding, kernel geometry, a rounding
    mode, an empty list), where PyTorch raises RuntimeError."""


class OutOfMemory(GraphcError, RuntimeError, MemoryError):
    """A tensor too large to allocate: PyTorch raises RuntimeError ("tried to allocate N
    bytes"); it is a MemoryError too, so either ``except`` catches it."""


class DivisionByZero(GraphcError, RuntimeError, ZeroDivisionError):
    """Integer division or remainder by zero: PyTorch raises RuntimeError('ZeroDivisionError');
    it is a ZeroDivisionError too, so either ``except`` catches it."""


class AutogradError(GraphcError, RuntimeError):
    """Autograd misuse: non-scalar backward, freed graph, saved value modified in place."""


class TraceError(GraphcError, RuntimeError):
    """Value-dependent Python control flow on a traced tensor."""


class VerifyError(RuntimeError):
    """A malformed graph: always a bug in graphc or in a pass."""


_OP_PREFIX = re.compile(r"[\w.]+\(\): ")


def reports_as(name: str):
    """Decorator for a public op written with other ops: a graphc error raised inside it
    names ``name``, the op the user called (as PyTorch's messages do), instead of the inner
    op: "sub(): ..." from l1_loss becomes "l1_loss(): ...". Messages that name it already,
    and other exceptions, pass unchanged."""
    named = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")

    def decorate(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except GraphcError as e:
                rename(e, name, named)
                raise
        return op
    return decorate


def rename(e: BaseException, name: str, named: re.Pattern | None = None) -> None:
    """Make the message of ``e`` name op ``name``: its "op(): " prefix replaced, or one added."""
    if not e.args or not isinstance(e.args[0], str):
        return
    msg = e.args[0]
    if (named or re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")).search(msg):
        return
    prefix = _OP_PREFIX.match(msg)
    e.args = (f"{name}(): {msg[prefix.end() if prefix else 0:]}",) + e.args[1:]


def annotate(e: BaseException, note: str) -> None:
    """Add ``note`` to the message of ``e``, before the user's line that ends it."""
    if e.args and isinstance(e.args[0], str):
        msg, at, loc = e.args[0].partition("\n  at ")
        e.args = (f"{msg} {note}{at}{loc}",) + e.args[1:]


def describe(x) -> str:
    """``f32[2,3]`` for a node, the value for a literal: for error messages."""
    if hasattr(x, "shape") and hasattr(getattr(x, "dtype", None), "short"):  # not np.float64
        return f"{x.dtype.short}[{','.join(map(str, x.shape))}]"
    return repr(x)
