"""Indexing: ``x[idx]`` and ``x[idx] = v`` with numpy's (and PyTorch's) rules.

Basic indices (ints, slices, None, ...) become one ``slice`` and one
``reshape``: a view that shares memory. Advanced indices (integer tensors,
boolean masks, lists) become a ``gather`` of the flat positions that numpy
computes for the same index on ``arange(numel)``. Assignment writes memory
directly when no gradient is involved and otherwise records a functional
update (scatter of the written positions), so autograd sees it.
"""
from __future__ import annotations

import numpy as np

from .creation import full, tensor
from .ir import dtypes as dt
from .ir import ops as P
from .ir.core import LEAF, _state, make_leaf
from .ir.errors import (
    GraphcError,
    IndexOutOfRange,
    ShapeError,
    TraceError,
    ValueArgumentError,
    annotate,
)
from .tensor import Tensor, _bind, _t, _view, _wrap, check_inplace


def _item(it, x: Tensor):
    """One index item in numpy form; Tensors become arrays (or ints when 0-d integer)."""
    if it is None or it is Ellipsis or isinstance(it, slice):
        return it
    if isinstance(it, bool):
        return it
    if isinstance(it, (int, np.integer)):
        return int(it)
    if isinstance(it, Tensor):
        if it.dtype.kind == dt.FLOAT:
            raise IndexOutOfRange(f"tensors used as indices must be long, int, byte or bool "
                                  f"tensors, got {it.dtype.name} (indexing a tensor of shape "
                                  f"{list(x.shape)})")
        if it._node.value is None:  # traced: handled in the graph by _traced_advanced
            if it.dtype.kind != dt.INT:
                raise TraceError(f"indexing with a traced bool mask gives a value-dependent "
                                 f"shape; use graphc.where(mask, x, 0) instead (indexing a "
                                 f"tensor of shape {list(x.shape)})")
            return it
        v = it._host("index with")  # (a CUDA index: its positions are worked out on the host)
        if v.ndim == 0 and it.dtype.kind == dt.INT:
            return int(v)
        return v
    if isinstance(it, (list, tuple, range, np.ndarray)):
        arr = np.asarray(it)
        if arr.size == 0 and not isinstance(it, np.ndarray):
            arr = arr.astype(np.int64)  # x[[]]: an empty integer index, as PyTorch
        if arr.dtype.kind not in "iub":
            raise IndexOutOfRange(f"tensors used as indices must be long, int, byte or bool "
                                  f"tensors, got {arr.dtype} (indexing a tensor of shape "
                                  f"{list(x.shape)})")
        return arr
    raise IndexOutOfRange(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                          f"bool tensors are valid indices (got {type(it).__name__})")


def _items(x: Tensor, idx) -> tuple:
    if not isinstance(idx, tuple):
        idx = (idx,)
    return tuple(_item(it, x) for it in idx)


def _is_basic(items: tuple) -> bool:
    return all(it is None or it is Ellipsis or isinstance(it, (int, slice)) and
               not isinstance(it, bool) for it in items)


def _basic(x: Tensor, items: tuple) -> Tensor:
    ndim = x.ndim
    used = sum(1 for it in items if it is not None and it is not Ellipsis)
    if used > ndim:
        raise IndexOutOfRange(f"too many indices for tensor of dimension {ndim} "
                              f"(got {used} for shape {list(x.shape)})")
    if sum(1 for it in items if it is Ellipsis) > 1:
        raise IndexOutOfRange("an index can only have a single ellipsis ('...')")
    full: list = []
    for it in items:
        if it is Ellipsis:
            full += [slice(None)] * (ndim - used)
        else:
            full.append(it)
    if Ellipsis not in items:
        full += [slice(None)] * (ndim - used)
    starts, stops, steps, shape = [], [], [], []
    axis = 0
    # PyTorch's grad_fn: the last view op the index applies (full slices are skipped)
    label = "SliceBackward0" if len(items) == 1 and isinstance(items[0], slice) \
        else "AliasBackward0"
    for it in full:
        if it is None:
            shape.append(1)
            label = "UnsqueezeBackward0"
            continue
        d = x.shape[axis]
        if isinstance(it, int):
            if not -d <= it < d:
                raise IndexOutOfRange(f"index {it} is out of bounds for dimension {axis} with "
                                      f"size {d}")
            i = it + d if it < 0 else it
            starts.append(i), stops.append(i + 1), steps.append(1)
            label = "SelectBackward0"
        else:
            if it.step is not None and it.step <= 0:
                raise ValueArgumentError("step must be greater than zero")
            a, b, s = it.indices(d)
            b = max(a, b)
            starts.append(a), stops.append(b), steps.append(s)
            shape.append(P.slice_len(a, b, s))
            if (a, b, s) != (0, d, 1):
                label = "SliceBackward0"
        axis += 1
    node = x._node
    if any(a != 0 or b != d or s != 1 for a, b, s, d in zip(starts, stops, steps, x.shape)):
        node = _state.handler.bind(P.SLICE, (node,), {"starts": tuple(starts),
                                                      "stops": tuple(stops),
                                                      "steps": tuple(steps)})
    shape = tuple(shape)
    if node is x._node or node.shape != shape:  # (a slice of the result's shape is the view)
        node = _state.handler.bind(P.RESHAPE, (node,), {"shape": shape})
    out = _view(x, node, lambda b: _basic(b, items))
    if out._node.requires_grad:
        out._node.label = label
    return out


def positions(shape: tuple, items: tuple) -> np.ndarray:
    """Flat positions in a tensor of ``shape`` that the index ``items`` selects."""
    try:
        if not shape:
            return np.zeros((), np.int64)[items]
        # sum over dims of (that dim's coordinate) * stride, each coordinate grid a zero-
        # stride broadcast view indexed like the tensor: memory and time go with the
        # selection, not with the tensor (x[idx] on a 60000 x 784 tensor took 55 ms)
        pos = None
        stride = 1
        for d in range(len(shape) - 1, -1, -1):
            grid = np.arange(shape[d], dtype=np.int64).reshape((-1,) + (1,) * (len(shape) - d - 1))
            coord = np.broadcast_to(grid, shape)[items]
            pos = coord * stride if pos is None else pos + coord * stride
            stride *= shape[d]
        return np.ascontiguousarray(pos)
    except IndexError as e:
        raise IndexOutOfRange(f"{e} (indexing a tensor of shape {list(shape)})") from None


def _traced_advanced(x: Tensor, items: tuple) -> Tensor:
    """Integer-tensor indices whose values are only known at run time (inside compile).

    The advanced dims must be adjacent (numpy moves non-adjacent ones to the
    front, which is rarely meant); they merge into one dim that a gather reads at
    the flat index sum(idx_k * stride_k), negative indices counted from the end.
    """
    ndim = x.ndim
    used = sum(1 for it in items if it is not None and it is not Ellipsis)
    full: list = []
    for it in items:
        full += [slice(None)] * (ndim - used) if it is Ellipsis else [it]
    full += [slice(None)] * (ndim - len([i for i in full if i is not None]))
    if any(it is None for it in full):
        raise TraceError("indexing with traced index tensors and None is not supported inside "
                         "@graphc.compile yet; unsqueeze the result instead")
    adv = [d for d, it in enumerate(full) if not isinstance(it, slice)]
    if adv != list(range(adv[0], adv[-1] + 1)):
        raise TraceError("traced index tensors must index adjacent dims inside "
                         "@graphc.compile; use index_select/gather per dim instead")
    basic = _basic(x, tuple(slice(None) if d in adv else it for d, it in enumerate(full)))
    idx = [_t(it) for it in (full[d] for d in adv)]
    sizes = [basic.shape[d] for d in adv]
    from .composite import broadcast_tensors, where
    try:
        idx = broadcast_tensors(*idx)
    except ShapeError:
        raise IndexOutOfRange(f"shape mismatch: indexing tensors could not be broadcast "
                              f"together with shapes {[list(i.shape) for i in idx]}") from None
    flat = None
    for d, i, n in zip(adv, idx, sizes):
        i = _bind(P.CHECK_RANGE, i._node, low=-n, high=n,
                  what=f"index {{value}} is out of bounds for dimension {d} with size {n} "
                       f"(indexing a tensor of shape {list(x.shape)})")
        i = where(i < 0, i + n, i)
        flat = i if flat is None else flat * n + i
    p, q = adv[0], adv[-1] + 1
    pre, post = basic.shape[:p], basic.shape[q:]
    merged = basic.reshape(pre + (int(np.prod(sizes, dtype=np.int64)),) + post)
    b = tuple(flat.shape)
    k = int(np.prod(b, dtype=np.int64))
    index = flat.reshape((1,) * len(pre) + (k,) + (1,) * len(post)).expand(pre + (k,) + post)
    out = _bind(P.GATHER, merged._node, index._node, axis=p, user_op="indexing")
    return out.reshape(pre + b + post)


def getitem(x: Tensor, idx) -> Tensor:
    """``x[idx]``: every error says it came from indexing, and the tensor's shape."""
    try:
        return _getitem(x, idx)
    except GraphcError as e:
        if "indexing" not in str(e):
            annotate(e, f"(indexing a tensor of shape {list(x.shape)})")
        raise


def _getitem(x: Tensor, idx) -> Tensor:
    items = _items(x, idx)
    if _is_basic(items):
        return _basic(x, items)
    if any(isinstance(it, Tensor) for it in items):
        return _traced_advanced(x, items)
    if not (x.requires_grad and _state.grad_enabled) and isinstance(x._node.value, np.ndarray) \
            and not _state.handler.traces:  # (under tracing a captured tensor's value changes)
        try:  # nothing to differentiate: numpy's own advanced indexing (a copy, as PyTorch)
            v = x._node.value[items]
        except IndexError as e:
            raise IndexOutOfRange(f"{e} (indexing a tensor of shape {list(x.shape)})") from None
        return _wrap(make_leaf(v.shape, x.dtype, np.ascontiguousarray(v)))
    pos = positions(x.shape, items)
    flat = x.reshape(-1)
    out = _bind(P.GATHER, flat._node, tensor(pos.reshape(-1), device=x.device)._node, axis=0)
    if out.shape != pos.shape:
        out = out.reshape(pos.shape)
    if out._node.requires_grad:
        out._node.label = "IndexBackward0"
    return out


def functional_write(x: Tensor, pos: np.ndarray, value: Tensor) -> Tensor:
    """``x`` with ``value`` (broadcast to ``pos``'s shape) at flat positions ``pos``.

    Where a position repeats, the last write wins, as in numpy.
    """
    n = x.numel()
    vals = value.to(x.device).type(x.dtype).expand(pos.shape).reshape(-1)  # (copy_'s rule)
    flat = pos.reshape(-1)
    _, first = np.unique(flat[::-1], return_index=True)
    if len(first) != len(flat):
        keep = np.sort(len(flat) - 1 - first)
        vals = _bind(P.GATHER, vals._node, tensor(keep, device=x.device)._node, axis=0)
        flat = flat[keep]
    mask = np.zeros(n, dtype=bool)
    mask[flat] = True
    zeros = full((n,), 0, dtype=x.dtype, device=x.device)
    placed = _bind(P.SCATTER_ADD, zeros._node, tensor(flat, device=x.device)._node, vals._node,
                   axis=0)
    out = _bind(P.WHERE, tensor(mask, device=x.device)._node, placed._node, x.reshape(-1)._node)
    return out.reshape(x.shape)


def _grad_involved(x: Tensor, value) -> bool:
    return _state.grad_enabled and (x.requires_grad or (isinstance(value, Tensor)
                                                        and value.requires_grad))


def setitem(x: Tensor, idx, value) -> None:
    items = _items(x, idx)
    if _grad_involved(x, value) or not isinstance(x._node.value, np.ndarray):
        new = functional_write(x, positions(x.shape, items), _t(value))
        x._assign(new._node, "__setitem__")
        return
    check_inplace(x, "__setitem__")
    buf = x._node.value
    if not buf.flags.writeable:
        raise ShapeError("__setitem__(): unsupported operation: this tensor is an expanded view "
                         "or read-only memory; call .clone() before writing to it")
    v = value._value() if isinstance(value, Tensor) else value
    target = buf[items] if not _is_basic(items) else None
    try:
        if target is None:
            buf[items] = v
        else:
            buf[items] = np.broadcast_to(np.asarray(v, dtype=buf.dtype), target.shape)
    except (ValueError, TypeError) as e:
        raise ShapeError(f"__setitem__(): cannot assign a value of shape "
                         f"{list(np.shape(v))} to the indexed part of a tensor of shape "
                         f"{list(x.shape)}: {e}") from None
    _refresh(x)


def _refresh(x: Tensor) -> None:
    """After a direct write to ``x``'s memory: bump its version and give it a fresh node."""
    node = x._node
    node.vbox[0] += 1
    leaf = make_leaf(node.shape, node.dtype, node.value)
    leaf.vbox, leaf.ver = node.vbox, node.vbox[0]
    leaf.requires_grad = node.requires_grad and node.op is LEAF
    leaf.sink = node.sink
    x._node = leaf
    after_write(x)


def after_write(t: Tensor) -> None:
    """After ``t``'s memory was written: its base and every other view of it see the write.

    Their nodes are rebuilt from the base's new node (recording history when the
    base requires grad), as PyTorch regenerates a view's grad_fn after an
    in-place op on its base; a stale node would give wrong gradients.
    """
    if t._base is not None:
        refresh_base(t)
    base = t._base if t._base is not None else t
    if not base._views:
        return
    prev, _state.grad_enabled = _state.grad_enabled, True
    try:
        for v in list(base._views):
            n = v._node
            if v is not t and n.vbox is not None and n.ver != n.vbox[0]:
                v._node = v._view_fn(base)._node
    finally:
        _state.grad_enabled = prev


def refresh_base(view: Tensor) -> None:
    """After a write through ``view``: the base's node reflects it (and autograd sees it)."""
    base = view._base
    node = base._node
    if _state.grad_enabled and (node.requires_grad or view.requires_grad):
        idx = _wrap(make_leaf(node.shape, dt.int64,
                              np.arange(int(np.prod(node.shape)), dtype=np.int64)
                              .reshape(node.shape)))
        pos = view._view_fn(idx)._value()
        new = functional_write(base, pos, view)._node
    else:
        new = make_leaf(node.shape, node.dtype)
        new.requires_grad, new.sink = node.requires_grad and node.op is LEAF, node.sink
    new.value, new.vbox, new.ver = node.value, node.vbox, node.vbox[0]
    base._node = new


Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem
