"""graphc.save: an object's containers become the JSON header, its arrays the data
section (the format is in graphc.serialization's docstring)."""
from __future__ import annotations

import collections
import hashlib
import json
import math
import os
from typing import Any, BinaryIO

import numpy as np

from ..ir.errors import ArgumentError, ValueArgumentError
from ..tensor import Size, Tensor
from .format import FORMAT_VERSION, MAGIC, MAX_DEPTH, NUMPY_DTYPES, PREFIX, align


def _path(where: tuple) -> str:
    return "obj" + "".join(f"[{k!r}]" for k in where)


class Encoder:
    """Turns an object into a JSON node, collecting the arrays it holds as blobs."""

    def __init__(self) -> None:
        self.blobs: list[dict] = []
        self.arrays: list[np.ndarray] = []
        self.size = 0  # of the data section so far
        self._seen: dict[int, int] = {}  # id(tensor) -> blob index: a tensor saved twice
        self._open: set[int] = set()  # containers being encoded: a cycle is an error

    def add_blob(self, arr: np.ndarray, meta: dict) -> int:
        arr = np.asarray(arr, order="C")  # a view is saved as its values (0-d stays 0-d)
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        self.size = align(self.size)
        meta.update(dtype=arr.dtype.name, shape=list(arr.shape), offset=self.size,
                    nbytes=arr.nbytes)
        self.blobs.append(meta)
        self.arrays.append(arr)
        self.size += arr.nbytes
        return len(self.blobs) - 1

    def encode(self, obj: Any, where: tuple = (), depth: int = 0) -> Any:
        """The node of ``obj``; ``where`` is its path in the saved object, for errors."""
        if depth > MAX_DEPTH:
            raise ValueArgumentError(f"graphc.save: the object is nested more than "
                                     f"{MAX_DEPTH} levels deep (at {_path(where)})")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, Tensor):
            return {"type": "tensor", "blob": self._tensor(obj)}
        if isinstance(obj, (np.ndarray, np.generic)):  # before float: np.float64 is a float
            arr = np.asarray(obj)
            if arr.dtype.name not in NUMPY_DTYPES:
                raise ArgumentError(f"graphc.save: cannot save a numpy array of dtype "
                                    f"{arr.dtype} (at {_path(where)})")
            meta = {"kind": "ndarray", "scalar": isinstance(obj, np.generic)}
            return {"type": "ndarray", "blob": self.add_blob(arr, meta)}
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            if math.isfinite(obj):
                return float(obj)
            return {"type": "float", "value": repr(float(obj))}  # 'inf', '-inf', 'nan'
        kind = {list: "list", tuple: "tuple", Size: "size", dict: "dict",
                collections.OrderedDict: "odict"}.get(type(obj))
        if kind is None:
            raise ArgumentError(f"graphc.save: cannot save an object of type "
                                f"{type(obj).__module__}.{type(obj).__qualname__} (at "
                                f"{_path(where)}); it saves tensors, numpy arrays, numbers, "
                                "strings, None and lists, tuples and dicts of them")
        if id(obj) in self._open:
            raise ValueArgumentError(f"graphc.save: the object contains itself (at "
                                     f"{_path(where)})")
        self._open.add(id(obj))
        if kind in ("dict", "odict"):
            keys, values = [], []
            for k, v in obj.items():
                keys.append(self.encode(k, where + ("<key>",), depth + 1))
                values.append(self.encode(v, where + (k,), depth + 1))
            node = {"type": kind, "keys": keys, "values": values}
        elif kind == "size":
            node = {"type": kind, "items": [int(d) for d in obj]}
        else:
            node = {"type": kind, "items": [self.encode(v, where + (i,), depth + 1)
                                            for i, v in enumerate(obj)]}
        self._open.discard(id(obj))
        return node

    def _tensor(self, t: Tensor) -> int:
        if id(t) in self._seen:
            return self._seen[id(t)]
        meta = {"kind": "tensor", "requires_grad": t.requires_grad,
                "parameter": type(t).__name__ == "Parameter"}
        index = self.add_blob(t.detach()._value("save"), meta)
        self._seen[id(t)] = index
        return index


def save(obj: Any, f: str | os.PathLike | BinaryIO, pickle_module=None,
         pickle_protocol: int = 2, _use_new_zipfile_serialization: bool = True,
         _disable_byteorder_record: bool = False) -> None:
    """Write ``obj`` (tensors, numbers, strings, None and nested lists, tuples and dicts of
    them, as state dicts are) to the path or binary file ``f``."""
    enc = Encoder()
    root = enc.encode(obj)
    header = json.dumps({"blobs": enc.blobs, "root": root}, allow_nan=False,
                        separators=(",", ":")).encode()
    prefix = PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(header), enc.size)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as out:
            write(out, prefix, header, enc)
    else:
        write(f, prefix, header, enc)


def write(out: BinaryIO, prefix: bytes, header: bytes, enc: Encoder) -> None:
    digest = hashlib.sha256()

    def put(chunk) -> None:
        digest.update(chunk)
        out.write(chunk)

    put(prefix)
    put(header)
    put(bytes(align(len(prefix) + len(header)) - len(prefix) - len(header)))
    pos = 0
    for meta, arr in zip(enc.blobs, enc.arrays):
        put(bytes(meta["offset"] - pos))
        put(memoryview(arr.reshape(-1).view(np.uint8)))
        pos = meta["offset"] + meta["nbytes"]
    put(bytes(enc.size - pos))
    out.write(digest.digest())
