"""default_collate and default_convert: samples into batches, as PyTorch's."""
from __future__ import annotations

import collections.abc
import copy
import numbers

import numpy as np

from ...composite import stack
from ...creation import as_tensor, from_numpy, tensor
from ...ir import dtypes as dt
from ...ir.errors import ArgumentError, ShapeError
from ...tensor import Tensor

_COLLATE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                  "lists; found {}")


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _check_numpy(arr: np.ndarray) -> None:
    if arr.dtype.kind in "SaUO":  # strings and objects have no tensor type, as in PyTorch
        raise ArgumentError(_COLLATE_ERROR.format(arr.dtype))


def default_collate(batch):
    """Stack a list of samples into a batch, recursing into dicts, tuples and lists.

    Tensors, numpy arrays and numbers become tensors with a leading batch dim; strings stay
    lists; a tuple of fields becomes a list of batched fields (a namedtuple stays one).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.ndarray):
        _check_numpy(elem)
        try:  # one numpy stack is much cheaper than a graphc op per sample
            return from_numpy(np.stack(batch))
        except ValueError:
            raise ShapeError(f"stack expects each tensor to be equal size, but got "
                             f"{[list(np.shape(b)) for b in batch]}") from None
    if isinstance(elem, (np.bool_, np.number)):
        return from_numpy(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=dt.float64)
    if isinstance(elem, numbers.Integral):  # bool included: tensor() makes a bool tensor
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            out = copy.copy(elem)  # keeps the mapping's type (OrderedDict, defaultdict, ...)
            out.update(fields)
            return out
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise ShapeError("each element in list of batch should be of equal size")
        fields = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # a list, as PyTorch
        if isinstance(elem, collections.abc.MutableSequence):
            out = copy.copy(elem)
            out[:] = fields
            return out
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise ArgumentError(_COLLATE_ERROR.format(type(elem)))


def default_convert(data):
    """Numpy arrays to tensors inside ``data`` (the collate_fn when ``batch_size=None``)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "SaUO" else as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return as_tensor(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            out = copy.copy(data)
            out.update(fields)
            return out
        return fields
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
