"""The second half of graphc.load: objects from a checked header and data section, each
node and blob validated before it is built. Names in the file are only ever compared with
the few node types and dtypes below, never resolved to code."""
from __future__ import annotations

import collections
import os
from typing import Any, BinaryIO

import numpy as np

from ..creation import from_numpy
from ..ir.errors import ValueArgumentError
from ..nn import Parameter  # here, not in load: loading imports nothing
from ..tensor import Size
from .format import MAX_DEPTH, NUMPY_DTYPES, TENSOR_DTYPES, short
from .reader import Reader

_MAX_NDIM = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32
_MAX_SAME_HASH = 64  # keys of one hash in a dict: -1 and -2 share one, chosen keys many
_INT64_MAX = 2**63 - 1  # numpy's (and PyTorch's) sizes and byte counts are int64


class Decoder:
    """Builds objects from a checked header, validating every node and blob."""

    def __init__(self, reader: Reader, header: dict, data: np.ndarray) -> None:
        self.fail = reader.fail
        self.data = data
        blobs = header.get("blobs")
        if not isinstance(blobs, list) or "root" not in header:
            raise self.fail("the header lacks its 'blobs' list or its 'root'")
        self.blobs = blobs
        self.built: dict[tuple, Any] = {}
        self.ranges: list[tuple[int, int, int]] = []  # (start, end, blob) of those built

    def node(self, n: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"the header nests objects more than {MAX_DEPTH} levels deep")
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if not isinstance(n, dict) or not isinstance(n.get("type"), str):
            raise self.fail(f"the header holds a malformed node {short(n)}")
        kind = n["type"]
        if kind in ("list", "tuple", "size"):
            items = self._field(n, "items", list)
            if kind == "size":
                if not all(type(d) is int and 0 <= d <= _INT64_MAX for d in items):
                    raise self.fail(f"a Size node holds non-sizes: {short(items)}")
                return Size(items)
            out = [self.node(v, depth + 1) for v in items]
            return out if kind == "list" else tuple(out)
        if kind in ("dict", "odict"):
            keys, values = self._field(n, "keys", list), self._field(n, "values", list)
            if len(keys) != len(values):
                raise self.fail("a dict node has different numbers of keys and values")
            built = [self.node(k, depth + 1) for k in keys]
            self._check_hashes(built, keys)
            out = {} if kind == "dict" else collections.OrderedDict()
            for key, v in zip(built, values):
                out[key] = self.node(v, depth + 1)
            return out
        if kind == "float":
            value = n.get("value")
            if value not in ("inf", "-inf", "nan"):
                raise self.fail(f"a float node has the value {short(value)}")
            return float(value)
        if kind in ("tensor", "ndarray"):
            index = n.get("blob")
            if type(index) is not int or not 0 <= index < len(self.blobs):
                raise self.fail(f"a {kind} node refers to blob {short(index)}, not one of the "
                                f"{len(self.blobs)} in the file")
            if (index, kind) not in self.built:  # a tensor saved twice loads as one
                self.built[index, kind] = self._blob(index, kind)
            return self.built[index, kind]
        raise self.fail(f"the header holds a node of unknown type {short(kind)}")

    def _check_hashes(self, keys: list, nodes: list) -> None:
        """Every key hashable, and few of one hash: a dict takes quadratic time to insert keys
        of one hash, and ints, floats and tuples are easily chosen to collide
        (hash(i * (2**61 - 1)) == 0 for every int i)."""
        counts: collections.Counter = collections.Counter()  # hash values never collide
        for key, node in zip(keys, nodes):
            try:
                h = hash(key)
            except TypeError:
                raise self.fail(f"a dict node has an unhashable key {short(node)}") from None
            counts[h] += 1
            if counts[h] > _MAX_SAME_HASH:
                raise self.fail(f"a dict node has more than {_MAX_SAME_HASH} keys of one hash, "
                                f"as {short(node)}: made to collide")

    def _field(self, n: dict, name: str, kind: type) -> Any:
        value = n.get(name)
        if not isinstance(value, kind):
            raise self.fail(f"a {n['type']} node lacks its '{name}' {kind.__name__}")
        return value

    def _blob(self, index: int, kind: str) -> Any:
        meta = self.blobs[index]
        if not isinstance(meta, dict) or meta.get("kind") != kind:
            raise self.fail(f"blob {index} is not described as a {kind}")
        name = meta.get("dtype")
        allowed = TENSOR_DTYPES if kind == "tensor" else NUMPY_DTYPES
        if not isinstance(name, str) or name not in allowed:
            raise self.fail(f"blob {index} has the unknown {kind} dtype {short(name)}")
        dtype = allowed[name].newbyteorder("<")
        shape, offset, nbytes = meta.get("shape"), meta.get("offset"), meta.get("nbytes")
        if type(offset) is not int or type(nbytes) is not int or offset < 0 or nbytes < 0:
            raise self.fail(f"blob {index} has a malformed offset or size")
        needed = self._nbytes(index, shape, dtype)
        if nbytes != needed:
            raise self.fail(f"blob {index} has {nbytes} bytes, but shape {shape} of {name} "
                            f"needs {needed}")
        if offset + nbytes > len(self.data):
            raise self.fail(f"blob {index} (bytes {offset}..{offset + nbytes}) lies outside the "
                            f"data section of {len(self.data)} bytes")
        raw = self.data[offset:offset + nbytes]
        if dtype.kind == "b" and nbytes and raw.max() > 1:
            raise self.fail(f"blob {index} is a bool array with bytes other than 0 and 1")
        if nbytes:
            self.ranges.append((offset, offset + nbytes, index))
        arr = raw.view(dtype).reshape(tuple(shape))  # a view of the file's buffer, no copy
        if not dtype.isnative or not arr.flags.aligned:
            arr = arr.astype(dtype.newbyteorder("="))
        if kind == "ndarray":
            return arr[()] if meta.get("scalar") is True and arr.ndim == 0 else arr
        t = from_numpy(arr)
        requires_grad = meta.get("requires_grad") is True
        if requires_grad and dtype.kind != "f":
            raise self.fail(f"blob {index} requires grad but has the non-float dtype {name}")
        if meta.get("parameter") is True:
            return Parameter(t, requires_grad=requires_grad)
        return t.requires_grad_(True) if requires_grad else t

    def _nbytes(self, index: int, shape: Any, dtype: np.dtype) -> int:
        """The bytes that an array of ``shape`` holds, after checking that numpy can make it:
        at most _MAX_NDIM sizes, whose product (of the nonzero ones) in bytes fits int64.
        Stops multiplying there: a product of thousands of huge sizes takes quadratic time."""
        if not isinstance(shape, list) or len(shape) > _MAX_NDIM or not all(
                type(d) is int and d >= 0 for d in shape):
            raise self.fail(f"blob {index} has the malformed shape {short(shape)} (at most "
                            f"{_MAX_NDIM} sizes, each a nonnegative int)")
        extent = dtype.itemsize
        for d in shape:
            extent *= d or 1
            if extent > _INT64_MAX:
                raise self.fail(f"blob {index} has the shape {short(shape)}, too large for an "
                                "array")
        return 0 if 0 in shape else extent

    def check_overlaps(self) -> None:
        """Blobs are views of one buffer: overlapping ones would share memory. (Sorted once,
        at the end: inserting each range into a sorted list took quadratic time.)"""
        self.ranges.sort()
        for (_, end, _), (start, _, index) in zip(self.ranges, self.ranges[1:]):
            if start < end:
                raise self.fail(f"blob {index} overlaps another blob in the data section")


def load(f: str | os.PathLike | BinaryIO, map_location=None, pickle_module=None, *,
         weights_only: bool | None = None, mmap: bool | None = None, **pickle_load_args) -> Any:
    """Read an object written by ``graphc.save`` from a path or binary file object.

    Only data is read back: no code runs, whatever the file holds. ``map_location`` may be
    None or the CPU (graphc's tensors live there); ``weights_only`` is accepted for
    PyTorch compatibility and changes nothing.
    """
    _check_map_location(map_location)
    reader = Reader(f)
    data, header = reader.read()
    decoder = Decoder(reader, header, data)
    obj = decoder.node(header.get("root"))
    decoder.check_overlaps()
    return obj


def _check_map_location(map_location) -> None:
    if map_location is None or callable(map_location):  # fn(storage, location): CPU anyway
        return
    targets = map_location.values() if isinstance(map_location, dict) else [map_location]
    for target in targets:
        if str(target).split(":")[0] != "cpu":
            raise ValueArgumentError(f"graphc.load: map_location={map_location!r} is not "
                                     "supported; graphc loads tensors to the CPU (use None or "
                                     "'cpu')")
