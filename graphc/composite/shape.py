"""Shape and indexing composites: views, cat/stack/split, gather/scatter, one_hot."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..creation import arange, tensor
from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.errors import (
    ArgumentError,
    DTypeError,
    IndexOutOfRange,
    InvalidArgument,
    ShapeError,
    ValueArgumentError,
    reports_as,
)
from ..ir.shapes import broadcast_shapes, infer_reshape, int_arg, normalize_axes, normalize_axis
from ..tensor import Tensor, _bind, _input, _t, _view
from ._util import _label, _pymax, _pymin, _pysum
from .elementwise import clamp, where


def _shape_args(shape, op: str) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int_arg(s, op, "size", "tuple of ints") for s in shape)


def reshape(x, *shape, op: str = "reshape") -> Tensor:
    x = _t(x)
    new = infer_reshape(x.shape, _shape_args(shape, op), op)
    if new == x.shape:
        return _alias(x)
    return _view(x, _bind(P.RESHAPE, x._node, shape=new)._node,
                 lambda b: b.reshape(new))


def _alias(x: Tensor) -> Tensor:
    """A new tensor object on the same node (PyTorch returns a view for no-op reshapes)."""
    return _view(x, _bind(P.RESHAPE, x._node, shape=x.shape)._node, lambda b: b)


def view(x, *shape) -> Tensor:
    x = _t(x)
    if len(shape) == 1 and isinstance(shape[0], dt.DType):
        raise ArgumentError("view(dtype) is not supported; use .type(dtype)")
    out = reshape(x, *shape, op="view")
    v = x._node.value
    if v is not None and out._node.vbox is not x._node.vbox and v.size:
        raise ShapeError(f"view(): view size {list(out.shape)} is not compatible with input "
                         f"tensor's size and stride {list(x.shape)} (at least one dimension "
                         "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return _label(out, "ViewBackward0")


def view_as(x, other) -> Tensor:
    return view(x, _t(other).shape)


def reshape_as(x, other) -> Tensor:
    return reshape(x, _t(other).shape)


def permute(x, *dims) -> Tensor:
    x = _t(x)
    dims = _shape_args(dims, "permute")
    if len(dims) != x.ndim:
        raise ShapeError(f"permute(): number of dimensions in the tensor input does not match "
                         f"the length of the desired ordering of dimensions i.e. input.dim() = "
                         f"{x.ndim} is not equal to len(dims) = {len(dims)}")
    perm = tuple(normalize_axis(d, x.ndim, "permute") for d in dims)
    if len(set(perm)) != len(perm):
        raise ShapeError(f"permute(): duplicate dims are not allowed, got {list(dims)}")
    if perm == tuple(range(x.ndim)):
        return _alias(x)
    return _view(x, _bind(P.PERMUTE, x._node, perm=perm)._node, lambda b: b.permute(perm))


def transpose(x, dim0: int, dim1: int) -> Tensor:
    x = _t(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(dim0, x.ndim, "transpose"), normalize_axis(dim1, x.ndim, "transpose")
    if x.ndim == 0:
        return _alias(x)
    perm[a], perm[b] = perm[b], perm[a]
    return _label(permute(x, perm), "TransposeBackward0")


swapaxes = swapdims = transpose


def t(x) -> Tensor:
    x = _t(x)
    if x.ndim > 2:
        raise ShapeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return _label(transpose(x, 0, -1), "TBackward0") if x.ndim == 2 else _alias(x)


def movedim(x, source: int, destination: int) -> Tensor:
    x = _t(x)
    s, d = normalize_axis(source, x.ndim, "movedim"), normalize_axis(destination, x.ndim,
                                                                      "movedim")
    perm = [i for i in range(x.ndim) if i != s]
    perm.insert(d, s)
    return permute(x, perm)


def squeeze(x, dim=None) -> Tensor:
    x = _t(x)
    if dim is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    else:
        axes = tuple(a for a in normalize_axes(dim, x.ndim, "squeeze")
                     if x.ndim and x.shape[a] == 1)
    new = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return _label(reshape(x, new), "SqueezeBackward0")


def unsqueeze(x, dim: int) -> Tensor:
    x = _input(x, "unsqueeze")
    d = normalize_axis(dim, x.ndim + 1, "unsqueeze")
    new = x.shape[:d] + (1,) + x.shape[d:]
    return _label(reshape(x, new), "UnsqueezeBackward0")


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    x = _t(x)
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = normalize_axis(start_dim, x.ndim, "flatten"), normalize_axis(end_dim, x.ndim,
                                                                        "flatten")
    if s > e:
        raise ShapeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for d in x.shape[s:e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])


def unflatten(x, dim: int, sizes) -> Tensor:
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "unflatten")
    sizes = infer_reshape((x.shape[d],), tuple(sizes), "unflatten")
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def expand(x, *sizes) -> Tensor:
    x = _t(x)
    sizes = _shape_args(sizes, "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand(): the number of sizes provided ({len(sizes)}) must be greater "
                         f"or equal to the number of dimensions in the tensor ({x.ndim})")
    for i, s in enumerate(sizes):
        if s < -1 or s == -1 and i < lead:
            raise ShapeError(f"expand(): The expanded size of the tensor ({s}) isn't allowed "
                             f"(sizes {list(sizes)} for a tensor of shape {list(x.shape)})")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    if shape == x.shape:
        return _alias(x)
    out = _bind(P.EXPAND, x._node, shape=shape)
    return _view(x, out._node, lambda b: b.expand(shape))


def expand_as(x, other) -> Tensor:
    return expand(x, _t(other).shape)


def broadcast_to(x, shape) -> Tensor:
    return expand(x, tuple(shape))


def broadcast_tensors(*tensors) -> tuple[Tensor, ...]:
    shape = broadcast_shapes(*(_t(x).shape for x in tensors), op="broadcast_tensors")
    return tuple(expand(x, shape) for x in tensors)


def repeat(x, *sizes) -> Tensor:
    x = _t(x)
    sizes = _shape_args(sizes, "repeat")
    if len(sizes) < x.ndim:
        raise ShapeError("repeat(): number of dimensions of repeat dims can not be smaller than "
                         "number of dimensions of tensor")
    if _pymin(sizes, default=0) < 0:
        shape = [r * s for r, s in zip(sizes, (1,) * (len(sizes) - x.ndim) + x.shape)]
        raise ShapeError(f"repeat(): Trying to create tensor with negative dimension "
                         f"{_pymin(shape)}: {shape} (repeats {list(sizes)})")
    x = reshape(x, (1,) * (len(sizes) - x.ndim) + x.shape)
    inter = []
    for s in x.shape:
        inter += [1, s]
    y = reshape(x, inter)
    target = []
    for r, s in zip(sizes, x.shape):
        target += [r, s]
    y = _bind(P.EXPAND, y._node, shape=tuple(target))
    return reshape(y, tuple(r * s for r, s in zip(sizes, x.shape)))


def tile(x, dims) -> Tensor:
    x = _t(x)
    dims = tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def _tensor_list(tensors, op: str) -> list[Tensor]:
    if not isinstance(tensors, (list, tuple)):
        raise ArgumentError(f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                            f"not {type(tensors).__name__}")
    return [_t(x) for x in tensors]


def cat(tensors: Sequence, dim: int = 0) -> Tensor:
    ts = _tensor_list(tensors, "cat")
    if not ts:
        raise ValueArgumentError("cat(): expected a non-empty list of Tensors")  # as PyTorch
    # PyTorch skips legacy empty 1-D tensors of shape (0,)
    real = [x for x in ts if not (x.ndim == 1 and x.shape[0] == 0)] or ts[:1]
    d = normalize_axis(dim, real[0].ndim, "cat")
    if len(real) == 1:
        return real[0].clone()
    return _bind(P.CONCAT, *[x._node for x in real], axis=d)


concat = concatenate = cat


def stack(tensors: Sequence, dim: int = 0) -> Tensor:
    ts = _tensor_list(tensors, "stack")
    if not ts:
        raise ShapeError("stack(): expects a non-empty TensorList")
    for x in ts[1:]:
        if x.shape != ts[0].shape:
            raise ShapeError(f"stack(): expects each tensor to be equal size, but got "
                             f"{list(ts[0].shape)} and {list(x.shape)}")
    d = normalize_axis(dim, ts[0].ndim + 1, "stack")
    return _label(cat([unsqueeze(x, d) for x in ts], d), "StackBackward0")


def hstack(tensors) -> Tensor:
    ts = [_t(x) for x in tensors]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    return cat([x if _t(x).ndim > 1 else _t(x).reshape(1, -1) for x in tensors], 0)


def narrow(x, dim: int, start: int, length: int) -> Tensor:
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "narrow")
    size = x.shape[d]
    start, length = int_arg(start, "narrow", "start"), int_arg(length, "narrow", "length")
    if not -size <= start <= size:
        raise IndexOutOfRange(f"narrow(): start out of range (expected to be in range of "
                              f"[{-size}, {size}], but got {start})")
    start = start + size if start < 0 else start
    if length < 0:
        raise ShapeError(f"narrow(): length must be non-negative, got {length}")
    if start + length > size:
        raise ShapeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size "
                         f"({size}).")
    idx = (slice(None),) * d + (slice(start, start + length),)
    return x[idx]


def split(x, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "split")
    n = x.shape[d]
    if not isinstance(split_size_or_sections, (tuple, list)):
        step = int_arg(split_size_or_sections, "split", "split_size")
        if step <= 0 and n:
            raise ShapeError(f"split(): split_size must be positive, got {step}")
        sizes = [_pymin(step, n - i) for i in range(0, n, step)] if n else [0]
    else:
        sizes = [int_arg(s, "split_with_sizes", "split_sizes", "tuple of ints")
                 for s in split_size_or_sections]
        if _pymin(sizes, default=0) < 0:
            raise ShapeError(f"split_with_sizes(): expects split_sizes have only non-negative "
                             f"entries, but got split_sizes={sizes}")
        if _pysum(sizes) != n:
            raise ShapeError(f"split_with_sizes(): expects split_sizes to sum exactly to {n} "
                             f"(input tensor's size at dimension {d}), but got {sizes}")
    out, pos = [], 0
    for s in sizes:
        out.append(narrow(x, d, pos, s))
        pos += s
    return tuple(out)


def chunk(x, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    x = _t(x)
    chunks = int_arg(chunks, "chunk", "chunks")
    if chunks <= 0:
        raise InvalidArgument(f"chunk(): chunk expects `chunks` to be greater than 0, got: "
                              f"{chunks}")
    n = x.shape[normalize_axis(dim, x.ndim, "chunk")]
    return split(x, _pymax(1, -(-n // chunks)), dim)


def unbind(x, dim: int = 0) -> tuple[Tensor, ...]:
    x = _t(x)
    d = normalize_axis(dim, x.ndim, "unbind")
    return tuple(squeeze(s, d) for s in split(x, 1, d)) if x.shape[d] else ()


def _zero(x: Tensor):
    """A zero literal that keeps ``x``'s dtype in ``where`` (False for bool)."""
    return False if x.dtype is dt.bool_ else 0


def diagonal(x, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of dims (dim1, dim2), as a new last dim (a gather, not a view)."""
    x = _t(x)
    a, b = normalize_axis(dim1, x.ndim, "diagonal"), normalize_axis(dim2, x.ndim, "diagonal")
    if a == b:
        raise ShapeError(f"diagonal(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    y = permute(x, [i for i in range(x.ndim) if i not in (a, b)] + [a, b])
    r, c = y.shape[-2], y.shape[-1]
    n = max(0, min(r, c - offset) if offset >= 0 else min(r + offset, c))
    i = arange(n, device=x.device)
    flat_index = (i + max(-offset, 0)) * c + (i + max(offset, 0))
    flat = y.reshape(y.shape[:-2] + (r * c,))
    return gather(flat, -1, flat_index.expand(y.shape[:-2] + (n,)))


def diag(x, diagonal: int = 0) -> Tensor:
    """A 1-D input becomes a matrix with it on diagonal ``diagonal``; 2-D gives a diagonal."""
    x = _t(x)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    if x.ndim != 1:
        raise ShapeError(f"diag(): expected a 1-D or 2-D tensor, got {x.ndim}-D")
    m, k = x.shape[0], diagonal
    n = m + abs(k)
    i = arange(n, device=x.device)
    on_diagonal = (i.reshape(1, n) - i.reshape(n, 1)) == k
    vals = index_select(x, 0, i.clamp(0, max(m - 1, 0))) if m else zeros_like_shape(x, n)
    # row r holds v[r] above the main diagonal, column c holds v[c] below it
    grid = vals.reshape(n, 1) if k >= 0 else vals.reshape(1, n)
    return where(on_diagonal, grid.expand(n, n), 0)


def zeros_like_shape(x: Tensor, n: int) -> Tensor:
    return _bind(P.CONSTANT, value=0, shape=(n,), dtype=x.dtype)


def trace(x) -> Tensor:
    x = _input(x, "trace")
    if x.ndim != 2:
        raise ShapeError(f"trace(): expected a matrix, but got tensor with dim {x.ndim}")
    if x.dtype is dt.bool_:
        raise DTypeError("trace(): \"trace\" not implemented for 'Bool'")
    return diagonal(x).sum()


def _matrices(x, op: str) -> Tensor:
    x = _input(x, op)
    if x.ndim < 2:
        raise ShapeError(f"{op}(): {op}: input tensor must have at least 2 dimensions, got "
                         f"{list(x.shape)}")
    return x


def tril(x, diagonal: int = 0) -> Tensor:
    x = _matrices(x, "tril")
    r, c = x.shape[-2], x.shape[-1]
    keep = arange(r, device=x.device).reshape(r, 1) + diagonal >= \
        arange(c, device=x.device).reshape(1, c)
    return where(keep, x, _zero(x))


def triu(x, diagonal: int = 0) -> Tensor:
    x = _matrices(x, "triu")
    r, c = x.shape[-2], x.shape[-1]
    keep = arange(r, device=x.device).reshape(r, 1) + diagonal <= \
        arange(c, device=x.device).reshape(1, c)
    return where(keep, x, _zero(x))


def flip(x, dims) -> Tensor:
    x = _t(x)
    axes = normalize_axes(dims, x.ndim, "flip")
    out = x
    for a in axes:
        n = x.shape[a]
        out = index_select(out, a, arange(n - 1, -1, -1, device=x.device)) if n else out
    return out



def _check_index(index: Tensor, op: str) -> Tensor:
    if index.dtype.kind != dt.INT:
        raise DTypeError(f"{op}(): Expected dtype int64 for index, got {index.dtype.name}")
    return index.long()


def gather(x, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    return gather_as("gather", x, dim, index)


def gather_as(op: str, x, dim: int, index) -> Tensor:
    """``gather`` inside op ``op``: an index out of range names ``op``, eagerly and from
    compiled kernels."""
    x, index = _t(x), _check_index(_t(index), op)
    d = normalize_axis(dim, x.ndim, op)
    if op == "gather":
        return _bind(P.GATHER, x._node, index._node, axis=d)
    return _bind(P.GATHER, x._node, index._node, axis=d, user_op=op)


def scatter_add(x, dim: int, index, src) -> Tensor:
    x, index, src = _t(x), _check_index(_t(index), "scatter_add"), _t(src)
    d = normalize_axis(dim, x.ndim, "scatter_add")
    return _bind(P.SCATTER_ADD, x._node, index._node, src._node, axis=d)


def scatter_add_(x: Tensor, dim: int, index, src) -> Tensor:
    return x._assign(scatter_add(x, dim, index, src)._node, "scatter_add_")


def index_select(x, dim: int, index) -> Tensor:
    return index_select_as("index_select", x, dim, index)


def index_select_as(op: str, x, dim: int, index) -> Tensor:
    """``index_select`` inside op ``op``, whose errors name it."""
    x, index = _t(x), _check_index(_t(index), op)
    if index.ndim > 1:
        raise IndexOutOfRange(f"{op}(): Index is supposed to be a vector, got "
                              f"{list(index.shape)}")
    d = normalize_axis(dim, x.ndim, op)
    if x.ndim == 0:
        return gather_as(op, x.reshape(1), 0, index.reshape(-1)).reshape(())
    shape = [1] * x.ndim
    shape[d] = index.numel()
    target = list(x.shape)
    target[d] = index.numel()
    idx = expand(reshape(index, shape), target)
    return gather_as(op, x, d, idx)


def take(x, index) -> Tensor:
    x, index = _t(x), _t(index)
    return gather(x.reshape(-1), 0, index.reshape(-1)).reshape(index.shape)


@reports_as("masked_fill")
def masked_fill(x, mask, value) -> Tensor:
    x, mask = _t(x), _t(mask)
    if mask.dtype is not dt.bool_:
        raise DTypeError(f"masked_fill_(): expected mask to be a bool tensor, got "
                         f"{mask.dtype.name}")
    v = value
    if isinstance(v, Tensor):
        if v.ndim:
            raise ShapeError("masked_fill(): only supports a 0-dimensional value tensor")
        v = v.type(x.dtype)
    elif x.dtype.kind != dt.FLOAT and isinstance(v, float):
        v = int(v) if x.dtype.kind == dt.INT else bool(v)
    out = where(mask, v, x)
    if out.dtype is not x.dtype:
        out = out.type(x.dtype)
    if out.shape != x.shape:
        raise ShapeError(f"masked_fill(): mask {list(mask.shape)} cannot be broadcast to "
                         f"{list(x.shape)}")
    return _label(out, "MaskedFillBackward0")


def masked_fill_(x: Tensor, mask, value) -> Tensor:
    return x._assign(masked_fill(x, mask, value)._node, "masked_fill_")


def clamp_(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    return x._assign(clamp(x, min, max)._node, "clamp_")


def one_hot(x, num_classes: int = -1) -> Tensor:
    x = _t(x)
    num_classes = int_arg(num_classes, "one_hot", "num_classes")
    if x.dtype is not dt.int64:
        raise DTypeError(f"one_hot is only applicable to index tensor of type int64, got "
                         f"{x.dtype.name}")
    if num_classes < 0:
        if x.numel() == 0:
            raise ValueArgumentError("one_hot(): can not infer total number of classes from "
                                     "empty tensor")
        num_classes = int(x.max().item()) + 1
    x = _bind(P.CHECK_RANGE, x._node, low=0, high=num_classes, what="one_hot(): class values")
    return (unsqueeze(x, -1) == arange(num_classes, device=x.device)).long()


def nonzero(x, *, as_tuple: bool = False):
    """Indices of nonzero elements (data-dependent shape: eager only)."""
    x = _t(x)
    v = x._host("call nonzero() on")
    idx = np.nonzero(v)
    if as_tuple:
        return tuple(tensor(i.astype(np.int64), device=x.device) for i in idx)
    return tensor(np.stack(idx, axis=1).astype(np.int64).reshape(-1, v.ndim), device=x.device)


def detach(x) -> Tensor:
    return _t(x).detach()


def clone(x) -> Tensor:
    return _t(x).clone()


def numel(x) -> int:
    return _t(x).numel()
