"""Shapes: broadcasting and axis normalization (PyTorch's and numpy's rules)."""
from __future__ import annotations

import os

from .errors import ArgumentError, IndexOutOfRange, OutOfMemory, ShapeError

Shape = tuple[int, ...]


def broadcast_shapes(*shapes: Shape, op: str = "broadcast") -> Shape:
    """The broadcast of ``shapes``; ShapeError naming ``op`` if they do not broadcast."""
    first = shapes[0]
    for s in shapes:  # the common cases first: equal shapes, scalars
        if s != first and s:
            break
    else:
        return first if first or len(shapes) == 1 else max(shapes, key=len)
    if len(shapes) == 2:  # two shapes: a bias, or one of kept dims (x - x.max(1, True))
        a, b = shapes if len(shapes[0]) >= len(shapes[1]) else shapes[::-1]
        if a[len(a) - len(b):] == b:
            return a
        if len(a) == len(b):
            out = tuple([y if x == 1 else x for x, y in zip(a, b)])
            if all([y == 1 or y == o for y, o in zip(b, out)]):
                return out
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for s in shapes:
        off = ndim - len(s)
        for i, d in enumerate(s):
            o = out[off + i]
            if o == d or d == 1:
                continue
            if o == 1:
                out[off + i] = d
            else:
                listed = " and ".join(str(list(x)) for x in shapes)
                raise ShapeError(
                    f"{op}(): shapes {listed} are not broadcastable "
                    f"(size {o} vs {d} at dim {off + i - ndim})"
                )
    return tuple(out)


def normalize_axis(axis: int, ndim: int, op: str = "op") -> int:
    """A non-negative axis; IndexError like PyTorch's 'Dimension out of range'."""
    if type(axis) is not int:
        axis = _int_dim(axis, op)
    n = max(ndim, 1)
    if not -n <= axis < n:
        raise IndexOutOfRange(
            f"{op}(): dimension out of range (expected to be in range of [{-n}, {n - 1}], "
            f"but got {axis})"
        )
    return axis + n if axis < 0 else axis


def _int_dim(axis, op: str) -> int:
    return int_arg(axis, op, "dim", "int or tuple of ints")


def int_arg(value, op: str, name: str, expected: str = "int") -> int:
    """``value`` as an int (numpy integers and 0-d integer tensors count); TypeError like
    PyTorch's argument parser for anything else (a float would pass range checks and
    slice or round silently)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ArgumentError(f"{op}(): argument '{name}' must be {expected}, not "
                            f"{type(value).__name__}")
    return value.__index__()


def normalize_axes(axes, ndim: int, op: str = "op") -> tuple[int, ...]:
    """Sorted unique non-negative axes; ``None`` means all axes."""
    if axes is None:
        return tuple(range(ndim))
    if not isinstance(axes, (tuple, list)):
        axes = (axes,)
    out = sorted({normalize_axis(a, ndim, op) for a in axes})
    if len(out) != len(tuple(axes)):
        raise ShapeError(f"{op}(): dim {tuple(axes)} appears multiple times in the list of dims")
    return tuple(out)


def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def infer_reshape(shape: Shape, new: Shape, op: str = "reshape") -> Shape:
    """Resolve one ``-1`` in ``new`` against the element count of ``shape``."""
    new = tuple(int(d) for d in new)
    total = numel(shape)
    if new.count(-1) > 1:
        raise ShapeError(f"{op}(): only one dimension can be inferred, got {list(new)}")
    if any(d < -1 for d in new):
        raise ShapeError(f"{op}(): invalid shape dimension in {list(new)}")
    if -1 in new:
        rest = numel(tuple(d for d in new if d != -1))
        if rest == 0 or total % rest:
            raise ShapeError(f"{op}(): shape {list(new)} is invalid for input of size {total}")
        new = tuple(total // rest if d == -1 else d for d in new)
    if numel(new) != total:
        raise ShapeError(f"{op}(): shape {list(new)} is invalid for input of size {total}")
    return new


def sum_axes_to(shape: Shape, target: Shape) -> tuple[tuple[int, ...], int]:
    """Axes of ``shape`` to sum so that it broadcasts back to ``target``.

    Returns (axes to sum with keepdims, number of leading axes to drop).
    """
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1
    )
    return axes, lead


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: no limit known
        return None


PHYSICAL_MEMORY = _physical_memory()


def out_of_memory(op: str, shape: Shape, dtype, nbytes: int | None = None) -> OutOfMemory:
    """The error for a tensor that cannot be allocated, in PyTorch's words."""
    nbytes = numel(shape) * dtype.itemsize if nbytes is None else nbytes
    have = f" (this machine has {PHYSICAL_MEMORY} bytes)" if PHYSICAL_MEMORY else ""
    return OutOfMemory(f"{op}(): can't allocate memory: you tried to allocate {nbytes} bytes "
                       f"for a {dtype.name} tensor of shape {list(shape)}{have}")


def check_allocation(op: str, shape: Shape, dtype) -> None:
    """Raise OutOfMemory for a tensor larger than this machine's memory, before anything
    tries to allocate it (numpy would fail too, or worse, succeed lazily and swap)."""
    if PHYSICAL_MEMORY and numel(shape) * dtype.itemsize > PHYSICAL_MEMORY:
        raise out_of_memory(op, shape, dtype)
