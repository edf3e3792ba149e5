"""Creation functions: tensor, zeros, ones, full, arange, linspace, eye, *_like, from_numpy."""
from __future__ import annotations

import numbers

import numpy as np

from .ir import dtypes as dt
from .ir import ops as P
from .ir.core import make_leaf
from .ir.errors import ArgumentError, ShapeError, ValueArgumentError, called_op
from .ir.shapes import check_allocation
from .tensor import DType, Size, Tensor, _bind, _check_device, _n, _t, _wrap


def where(cond, x, y) -> Tensor:
    return _bind(P.WHERE, _n(cond), _n(x), _n(y))


def _dtype_of_data(data) -> DType:
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, np.ndarray):
        return dt.from_numpy(data.dtype)
    if isinstance(data, np.generic):
        try:  # numpy scalars keep their type, as in PyTorch (np.float64(1.5) -> float64)
            return dt.from_numpy(data.dtype)
        except TypeError:
            pass  # a type graphc lacks (uint32, ...): by its kind, below
    if isinstance(data, (bool, np.bool_)):
        return dt.bool_
    if isinstance(data, numbers.Integral):
        return dt.int64
    if isinstance(data, numbers.Real):
        return dt.get_default_dtype()
    if isinstance(data, (list, tuple)):
        kinds = [_dtype_of_data(x) for x in data]
        if not kinds:
            return dt.get_default_dtype()
        out = kinds[0]
        for k in kinds[1:]:
            out = dt.promote_types(out, k)
        return out
    raise ArgumentError(f"Could not infer dtype of {type(data).__name__}")


def _to_array(data, dtype: DType | None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._value("copy")
    d = dtype or _dtype_of_data(data)
    try:
        arr = np.array(data, dtype=d.np)
    except (ValueError, TypeError) as e:
        raise ValueArgumentError(f"tensor(): could not convert the data to {d}: {e}") from None
    if arr.dtype == object:
        raise ArgumentError("tensor(): nested sequences must have a regular shape")
    return arr


def _leaf(arr: np.ndarray, requires_grad: bool = False, dev=None) -> Tensor:
    return _finish(_bind(P.CONSTANT, value=arr, shape=arr.shape, dtype=dt.from_numpy(arr.dtype)),
                   dev, requires_grad)


def _finish(t: Tensor, dev, requires_grad: bool) -> Tensor:
    """A created tensor moved to device ``dev`` (made on the host first), and marked."""
    d = _check_device(dev)
    if d.type != "cpu" and t._node.value is not None:  # (traced: the program's device)
        t = t._moved(d)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype: DType | None = None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors)."""
    return _leaf(_to_array(data, dtype), requires_grad, device)


def as_tensor(data, dtype: DType | None = None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a numpy array or tensor when it can."""
    if isinstance(data, Tensor) and (dtype is None or dtype is data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise ArgumentError(f"from_numpy(): expected np.ndarray (got {type(array).__name__})")
    d = dt.from_numpy(array.dtype)
    leaf = make_leaf(array.shape, d, array)
    return _wrap(leaf)


def _size_args(size) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s)
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise ArgumentError(f"{called_op()}(): argument 'size' must be a sequence of ints, "
                                f"got {type(s).__name__}")
        if s < 0:
            raise ShapeError(f"{called_op()}(): Trying to create tensor with negative dimension "
                             f"{s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def full(size, fill_value, *, dtype: DType | None = None, device=None,
         requires_grad: bool = False) -> Tensor:
    shape = _size_args((size,) if isinstance(size, int) else tuple(size))
    d = dtype or dt.of_scalar(fill_value)
    check_allocation(called_op(), shape, d)
    return _finish(_bind(P.CONSTANT, value=fill_value, shape=shape, dtype=d), device,
                   requires_grad)


def zeros(*size, dtype: DType | None = None, device=None, requires_grad: bool = False) -> Tensor:
    return full(_size_args(size), 0, dtype=dtype or dt.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def ones(*size, dtype: DType | None = None, device=None, requires_grad: bool = False) -> Tensor:
    return full(_size_args(size), 1, dtype=dtype or dt.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def empty(*size, dtype: DType | None = None, device=None, requires_grad: bool = False) -> Tensor:
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _like(fn, x: Tensor, dtype, kwargs):
    kwargs.setdefault("device", x.device)
    return fn(x.shape, dtype=dtype or x.dtype, **kwargs)


def zeros_like(x, *, dtype=None, **kw) -> Tensor:
    return _like(zeros, _t(x), dtype, kw)


def ones_like(x, *, dtype=None, **kw) -> Tensor:
    return _like(ones, _t(x), dtype, kw)


def empty_like(x, *, dtype=None, **kw) -> Tensor:
    return _like(empty, _t(x), dtype, kw)


def full_like(x, fill_value, *, dtype=None, **kw) -> Tensor:
    x = _t(x)
    kw.setdefault("device", x.device)
    return full(x.shape, fill_value, dtype=dtype or x.dtype, **kw)


def _new_method(fn):
    """``Tensor.new_zeros(...)`` and kin: ``fn`` with the tensor's dtype unless one is given."""
    def method(self, *args, dtype=None, **kw) -> Tensor:
        return fn(*args, dtype=dtype or self.dtype, **kw)
    method.__name__ = f"new_{fn.__name__}"
    return method


Tensor.new_zeros, Tensor.new_ones = _new_method(zeros), _new_method(ones)
Tensor.new_empty, Tensor.new_full = _new_method(empty), _new_method(full)
Tensor.new_tensor = _new_method(tensor)


def arange(start, end=None, step=1, *, dtype: DType | None = None, device=None,
           requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if dtype is None:
        dtype = (dt.int64 if all(isinstance(v, (int, np.integer)) for v in vals)
                 else dt.get_default_dtype())
    return _finish(_bind(P.ARANGE, start=vals[0], stop=vals[1], step=vals[2], dtype=dtype),
                   device, requires_grad)


def linspace(start, end, steps: int, *, dtype: DType | None = None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values from ``start`` to ``end``, rounded exactly as PyTorch rounds them.

    PyTorch rounds start, end and the step to the result type, computes each value as
    one fused multiply-add and counts the second half back from ``end`` (so the last
    value is exactly ``end``); extended precision emulates the fused operation.
    """
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise ArgumentError(f"linspace(): argument 'steps' must be int, not "
                            f"{type(steps).__name__}")
    if steps < 0:
        raise ShapeError("linspace(): number of steps must be non-negative")
    dtype = dtype or dt.get_default_dtype()
    check_allocation("linspace", (steps,), dtype)
    work = dtype.np if dtype.kind == dt.FLOAT else np.dtype(np.float64)
    if dtype.kind != dt.FLOAT:  # integer results start from the truncated endpoints
        start, end = int(start), int(end)
    s, e = work.type(start), work.type(end)
    step = work.type((e - s) / work.type(max(steps - 1, 1)))
    i = np.arange(steps)
    wide = np.longdouble
    first = wide(s) + wide(step) * i.astype(wide)
    second = wide(e) - wide(step) * (steps - 1 - i).astype(wide)
    values = np.where(i < steps // 2, first, second).astype(work)
    if steps == 1:
        values[:] = s
    return _leaf(values.astype(dtype.np), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: DType | None = None, device=None,
        requires_grad: bool = False) -> Tensor:
    m = n if m is None else m
    for what, v in (("n", n), ("m", m)):
        if v < 0:
            raise ShapeError(f"eye(): {what} must be greater or equal to 0, got {v}")
    check_allocation("eye", (n, m), dtype or dt.get_default_dtype())
    r = arange(n).reshape(n, 1) == arange(m).reshape(1, m)
    return _finish(r.type(dtype or dt.get_default_dtype()), device, requires_grad)

