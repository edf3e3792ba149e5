"""Reference semantics: one op evaluated with numpy, as eager mode and constant folding do."""
from __future__ import annotations

import numpy as np

from . import dtypes as dt
from .core import Op
from .errors import DTypeError

_ndarray = np.ndarray


def run_op(op: Op, attrs: dict, vals: list, dtype: dt.DType) -> np.ndarray:
    """The numpy value of ``op`` on ``vals``, as an array of ``dtype``."""
    npd = dtype.np
    if op.cast_inputs:
        to = npd if op.cast_inputs is True else _promoted(vals)
        vals = [v.astype(to) if type(v) is _ndarray and v.dtype != to else v for v in vals]
    return _call(op, attrs, vals, npd)


def _promoted(vals: list) -> np.dtype:
    """PyTorch's promoted type of comparison operands (numpy would not let a 0-d array
    stay weak)."""
    from types import SimpleNamespace
    ops = [SimpleNamespace(dtype=dt.from_numpy(v.dtype), shape=v.shape)
           if type(v) is _ndarray else v for v in vals]
    return dt.result_type(ops).np


def _call(op: Op, attrs: dict, vals: list, npd: np.dtype) -> np.ndarray:
    """Run the numpy implementation on already-cast values; the result has dtype ``npd``."""
    try:
        ufunc = op.ufunc
        out = ufunc(*vals) if ufunc is not None else op.impl(attrs, *vals)
    except OverflowError as e:
        out = _run_wrapped(op, attrs, vals, npd, e)
    except ValueError as e:
        raise DTypeError(f"{op.name}(): {e}") from None
    if type(out) is not _ndarray:
        out = np.asarray(out)
    if out.dtype is not npd and out.dtype != npd:
        out = out.astype(npd)
    return out


def _run_wrapped(op: Op, attrs: dict, vals: list, npd: np.dtype, err: Exception) -> np.ndarray:
    """Retry with Python ints out of the integer result type's range wrapped into it.

    numpy refuses ``uint8_array + -2``; PyTorch wraps the scalar (``-2 -> 254``),
    just as ``uint8_array - 2`` wraps.
    """
    if not (op.cast_inputs and npd.kind in "iu"):
        raise DTypeError(f"{op.name}(): {err}") from None
    try:
        vals = [np.array(v).astype(npd)[()] if type(v) is int else v for v in vals]
        return op.ufunc(*vals) if op.ufunc is not None else op.impl(attrs, *vals)
    except (ValueError, OverflowError) as e:
        raise DTypeError(f"{op.name}(): {e}") from None
