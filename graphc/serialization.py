"""``graphc.save`` / ``graphc.load``: tensors and nested containers in a format that loads
without executing code (no pickle, no eval).

A file is, in this order::

    magic    8 bytes   b"\\x89GRAPHC\\n"
    version  u32 LE    FORMAT_VERSION
    reserved u32 LE    0
    hlen     u64 LE    length of the header
    dlen     u64 LE    length of the data section
    header   hlen      UTF-8 JSON: {"blobs": [...], "root": <node>}
    padding            zeros up to a multiple of 64
    data     dlen      raw little-endian arrays, each at a 64-byte-aligned offset
    sha256   32 bytes  of everything before it

A node is a JSON null, bool, int, string or finite float, or an object with a "type" key:
``list``/``tuple`` (items), ``dict``/``odict`` (keys and values, themselves nodes, so int
keys stay ints), ``float`` (inf, -inf, nan), ``size`` (a graphc.Size), ``tensor`` or
``ndarray`` (blob: an index into "blobs", each {dtype, shape, offset, nbytes, ...}).
``load`` checks the sizes against the file before reading, then the checksum, then the
header's nesting, numbers and keys before and while parsing it, then every field, and raises
SerializationError on anything that does not fit: it never allocates more than the file's
size (and what its header parses into), never recurses deeper than _MAX_JSON_DEPTH levels,
never resolves a name to code. ``graphc.testing.fuzz_files`` holds it to that.
"""
from __future__ import annotations

import bisect
import collections
import hashlib
import io
import json
import math
import os
import re
import struct
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from .creation import from_numpy
from .ir import dtypes as dt
from .ir.errors import ArgumentError, GraphcError, ValueArgumentError
from .nn import Parameter  # here, not in load: loading imports nothing
from .tensor import Size, Tensor

MAGIC = b"\x89GRAPHC\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIIQQ")  # magic, version, reserved, header length, data length
_DIGEST = 32
_ALIGN = 64
_MAX_DEPTH = 256
# json's C parser recurses once per level of nesting (on the C stack, where the recursion
# limit was raised); a node level is an object and a list, the header adds two more
_MAX_JSON_DEPTH = 2 * _MAX_DEPTH + 8
_MAX_INT_DIGITS = 4300  # Python's default int-to-str limit, whatever the process set
_MAX_NDIM = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32
_MAX_NBYTES = 2**63 - 1  # numpy's (and PyTorch's) sizes are int64
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_TENSOR_DTYPES = {d.name: d.np for d in dt.ALL}
_NUMPY_DTYPES = {d.name: d for d in map(np.dtype, (
    "bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
    "float16", "float32", "float64", "complex64", "complex128"))}


class SerializationError(GraphcError, RuntimeError):
    """A file that graphc.load cannot read: not a graphc file, truncated or corrupted
    (PyTorch raises RuntimeError for unreadable archives)."""


def _align(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _path(where: tuple) -> str:
    return "obj" + "".join(f"[{k!r}]" for k in where)


# ---------------------------------------------------------------- save

class _Encoder:
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
        self.size = _align(self.size)
        meta.update(dtype=arr.dtype.name, shape=list(arr.shape), offset=self.size,
                    nbytes=arr.nbytes)
        self.blobs.append(meta)
        self.arrays.append(arr)
        self.size += arr.nbytes
        return len(self.blobs) - 1

    def encode(self, obj: Any, where: tuple = (), depth: int = 0) -> Any:
        """The node of ``obj``; ``where`` is its path in the saved object, for errors."""
        if depth > _MAX_DEPTH:
            raise ValueArgumentError(f"graphc.save: the object is nested more than "
                                     f"{_MAX_DEPTH} levels deep (at {_path(where)})")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, Tensor):
            return {"type": "tensor", "blob": self._tensor(obj)}
        if isinstance(obj, (np.ndarray, np.generic)):  # before float: np.float64 is a float
            arr = np.asarray(obj)
            if arr.dtype.name not in _NUMPY_DTYPES:
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
    enc = _Encoder()
    root = enc.encode(obj)
    header = json.dumps({"blobs": enc.blobs, "root": root}, allow_nan=False,
                        separators=(",", ":")).encode()
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(header), enc.size)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as out:
            _write(out, prefix, header, enc)
    else:
        _write(f, prefix, header, enc)


def _write(out: BinaryIO, prefix: bytes, header: bytes, enc: _Encoder) -> None:
    digest = hashlib.sha256()

    def put(chunk) -> None:
        digest.update(chunk)
        out.write(chunk)

    put(prefix)
    put(header)
    put(bytes(_align(len(prefix) + len(header)) - len(prefix) - len(header)))
    pos = 0
    for meta, arr in zip(enc.blobs, enc.arrays):
        put(bytes(meta["offset"] - pos))
        put(memoryview(arr.reshape(-1).view(np.uint8)))
        pos = meta["offset"] + meta["nbytes"]
    put(bytes(enc.size - pos))
    out.write(digest.digest())


# ---------------------------------------------------------------- load

class _Reader:
    """Reads and checks the bytes of one saved object; ``fail`` names the file."""

    def __init__(self, f) -> None:
        self.f = f
        self.name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(
            f, "name", f"<{type(f).__name__}>")

    def fail(self, what: str) -> SerializationError:
        return SerializationError(f"graphc.load: {self.name!s}: {what}")

    def read(self) -> tuple[np.ndarray, dict]:
        """The data section and the parsed header, after checking sizes and the checksum."""
        if isinstance(self.f, (str, os.PathLike)):
            with open(self.f, "rb") as stream:
                return self._read(stream, exact=True)
        if not hasattr(self.f, "read"):
            raise ArgumentError(f"graphc.load: expected a path or a binary file object, got "
                                f"{type(self.f).__name__}")
        return self._read(self.f, exact=False)

    def _read(self, stream: BinaryIO, exact: bool) -> tuple[np.ndarray, dict]:
        available = self._available(stream)
        prefix = self._read_prefix(stream)
        self._check_prefix(prefix)
        _, version, reserved, hlen, dlen = _PREFIX.unpack(prefix)
        if version != FORMAT_VERSION:
            raise self.fail(f"format version {version} is not one this graphc reads "
                            f"({FORMAT_VERSION}): written by another graphc, or corrupted")
        if reserved:
            raise self.fail(f"the preamble's reserved field is {reserved}, not 0: written by "
                            "a newer graphc, or corrupted")
        data_start = _align(_PREFIX.size + hlen)
        total = data_start + dlen + _DIGEST
        # sizes from the header are checked against the file before anything is allocated
        if available is not None and (available < total or (exact and available > total)):
            raise self.fail(f"the file is truncated or its header is corrupted: the header "
                            f"gives a size of {total} bytes, the file has {available}")
        buf = self._read_all(stream, prefix, total, available is not None)
        if hashlib.sha256(memoryview(buf)[:-_DIGEST]).digest() != buf[-_DIGEST:].tobytes():
            raise self.fail("checksum mismatch: the file is corrupted")
        header = self._parse_header(memoryview(buf)[_PREFIX.size:_PREFIX.size + hlen])
        return buf[data_start:data_start + dlen], header

    def _read_prefix(self, stream: BinaryIO) -> bytes:
        """The preamble, in as many reads as a pipe or raw stream takes to give it."""
        prefix = stream.read(_PREFIX.size)
        if not isinstance(prefix, bytes):
            raise ArgumentError("graphc.load: the file object must be opened in binary mode "
                                "('rb')")
        while prefix and len(prefix) < _PREFIX.size and (more := stream.read(
                _PREFIX.size - len(prefix))):
            prefix += more
        return prefix

    def _parse_header(self, text: memoryview) -> dict:
        """The header's JSON, refused where it nests too deeply for the parser's recursion,
        holds duplicate keys (which other readers resolve differently) or numbers that are
        not finite float64s or reasonable ints."""
        if _json_depth(text) > _MAX_JSON_DEPTH:
            raise self.fail(f"the header nests JSON more than {_MAX_JSON_DEPTH} levels deep")
        try:
            header = json.loads(str(text, "utf-8"), parse_constant=_reject_constant,
                                parse_float=_finite_float, parse_int=_parse_int(),
                                object_pairs_hook=_unique_keys)
        except _Refused as e:  # raised here, not in json's frames: errors name the user's line
            raise self.fail(str(e)) from None
        except (ValueError, RecursionError) as e:
            raise self.fail(f"the header is not valid JSON ({_short(str(e))})") from None
        if not isinstance(header, dict):
            raise self.fail("the header is not a JSON object")
        return header

    @staticmethod
    def _available(stream: BinaryIO) -> int | None:
        """Bytes left in ``stream``, or None where it cannot seek."""
        try:
            if not stream.seekable():
                return None
            here = stream.tell()
            end = stream.seek(0, io.SEEK_END)
            stream.seek(here)
            return end - here
        except (AttributeError, OSError, ValueError):
            return None

    def _check_prefix(self, prefix: bytes) -> None:
        if not prefix:
            raise self.fail("the file is empty")
        n = min(len(prefix), len(MAGIC))
        if prefix[:n] != MAGIC[:n]:
            hint = ""
            if prefix.startswith(b"PK"):
                hint = " (a zip archive: a torch.save file? graphc does not read those)"
            elif prefix[:1] == b"\x80":
                hint = " (a pickle, which graphc never loads)"
            raise self.fail(f"not a graphc.save file: it starts with {prefix[:8]!r}, not the "
                            f"magic number {MAGIC!r}{hint}")
        if len(prefix) < _PREFIX.size:
            raise self.fail(f"the file is truncated: {len(prefix)} bytes, shorter than the "
                            f"{_PREFIX.size}-byte preamble")

    def _read_all(self, stream: BinaryIO, prefix: bytes, total: int,
                  size_known: bool) -> np.ndarray:
        """The whole record, ``prefix`` and the ``total - len(prefix)`` bytes after it.

        Where the stream's size is known (and was checked against ``total``), one read into
        one buffer that the tensors then view: their 64-byte-aligned offsets in the file are
        aligned in memory too. Otherwise reads in chunks that grow with what has come, so
        that a size from a tampered header never allocates more than twice what the stream
        held.
        """
        if size_known and hasattr(stream, "readinto"):
            raw = np.empty(total + _ALIGN, dtype=np.uint8)
            skip = -raw.ctypes.data % _ALIGN
            buf = raw[skip:skip + total]
            buf[:len(prefix)] = np.frombuffer(prefix, np.uint8)
            view, filled = memoryview(buf), len(prefix)
            while filled < total and (k := stream.readinto(view[filled:])):
                filled += k
        else:
            data = bytearray(prefix)
            while len(data) < total and (chunk := stream.read(
                    min(total - len(data), max(len(data), 1 << 16)))):
                data += chunk
            buf, filled = np.frombuffer(data, np.uint8), len(data)
        if filled < total:
            raise self.fail(f"the file is truncated: it ends {total - filled} bytes before "
                            "the size its header gives")
        return buf


class _Refused(ValueError):
    """A header's JSON that parses but is refused: becomes a SerializationError."""


def _reject_constant(name: str):
    raise _Refused(f"the header holds a non-JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the header holds the number {_short(text)}, beyond a float64")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:  # int() of it would take quadratic time
        raise _Refused(f"the header holds an integer of {len(text)} digits")
    return int(text)


def _parse_int() -> Callable[[str], int] | None:
    """json's parse_int: None (the fast built-in) where the interpreter already refuses
    integers longer than _MAX_INT_DIGITS, else a check (slower per integer)."""
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    return None if 0 < limit <= _MAX_INT_DIGITS else _bounded_int


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        keys = [k for k, _ in pairs]
        repeated = next(k for k in keys if keys.count(k) > 1)
        raise _Refused(f"the header repeats the key {_short(repeated)} in an object")
    return obj


def _json_depth(text: memoryview) -> int:
    """How deeply the arrays and objects of JSON ``text`` nest, counted in linear time
    without recursion (brackets inside strings do not count)."""
    if text.nbytes <= _MAX_JSON_DEPTH:
        return 0  # too short to nest deeper
    skeleton = np.frombuffer(_JSON_STRING.sub(b'""', text), np.uint8)
    depth = deepest = 0
    for start in range(0, len(skeleton), 1 << 16):  # cumsum in chunks: bounded memory
        chunk = skeleton[start:start + (1 << 16)]
        steps = ((chunk == ord("[")) | (chunk == ord("{"))).astype(np.int32)
        steps -= (chunk == ord("]")) | (chunk == ord("}"))
        levels = np.cumsum(steps) + depth
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


class _Decoder:
    """Builds objects from a checked header, validating every node and blob."""

    def __init__(self, reader: _Reader, header: dict, data: np.ndarray) -> None:
        self.fail = reader.fail
        self.data = data
        blobs = header.get("blobs")
        if not isinstance(blobs, list) or "root" not in header:
            raise self.fail("the header lacks its 'blobs' list or its 'root'")
        self.blobs = blobs
        self.built: dict[tuple, Any] = {}
        self.starts: list[int] = []  # the byte ranges of the blobs built so far, sorted
        self.ends: list[int] = []

    def node(self, n: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail(f"the header nests objects more than {_MAX_DEPTH} levels deep")
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if not isinstance(n, dict) or not isinstance(n.get("type"), str):
            raise self.fail(f"the header holds a malformed node {_short(n)}")
        kind = n["type"]
        if kind in ("list", "tuple", "size"):
            items = self._field(n, "items", list)
            if kind == "size":
                if not all(type(d) is int and d >= 0 for d in items):
                    raise self.fail(f"a Size node holds non-sizes: {_short(items)}")
                return Size(items)
            out = [self.node(v, depth + 1) for v in items]
            return out if kind == "list" else tuple(out)
        if kind in ("dict", "odict"):
            keys, values = self._field(n, "keys", list), self._field(n, "values", list)
            if len(keys) != len(values):
                raise self.fail("a dict node has different numbers of keys and values")
            out = {} if kind == "dict" else collections.OrderedDict()
            for k, v in zip(keys, values):
                key = self.node(k, depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise self.fail(f"a dict node has an unhashable key {_short(k)}") from None
                out[key] = self.node(v, depth + 1)
            return out
        if kind == "float":
            value = n.get("value")
            if value not in ("inf", "-inf", "nan"):
                raise self.fail(f"a float node has the value {_short(value)}")
            return float(value)
        if kind in ("tensor", "ndarray"):
            index = n.get("blob")
            if type(index) is not int or not 0 <= index < len(self.blobs):
                raise self.fail(f"a {kind} node refers to blob {_short(index)}, not one of the "
                                f"{len(self.blobs)} in the file")
            if (index, kind) not in self.built:  # a tensor saved twice loads as one
                self.built[index, kind] = self._blob(index, kind)
            return self.built[index, kind]
        raise self.fail(f"the header holds a node of unknown type {_short(kind)}")

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
        allowed = _TENSOR_DTYPES if kind == "tensor" else _NUMPY_DTYPES
        if not isinstance(name, str) or name not in allowed:
            raise self.fail(f"blob {index} has the unknown {kind} dtype {_short(name)}")
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
        self._claim(index, offset, nbytes)
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
            raise self.fail(f"blob {index} has the malformed shape {_short(shape)} (at most "
                            f"{_MAX_NDIM} sizes, each a nonnegative int)")
        extent = dtype.itemsize
        for d in shape:
            extent *= d or 1
            if extent > _MAX_NBYTES:
                raise self.fail(f"blob {index} has the shape {_short(shape)}, too large for an "
                                "array")
        return 0 if 0 in shape else extent

    def _claim(self, index: int, offset: int, nbytes: int) -> None:
        """Blobs are views of one buffer: overlapping ones would share memory."""
        if not nbytes:
            return
        i = bisect.bisect(self.starts, offset)
        if (i and self.ends[i - 1] > offset) or (i < len(self.starts)
                                                 and self.starts[i] < offset + nbytes):
            raise self.fail(f"blob {index} overlaps another blob in the data section")
        self.starts.insert(i, offset)
        self.ends.insert(i, offset + nbytes)


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def load(f: str | os.PathLike | BinaryIO, map_location=None, pickle_module=None, *,
         weights_only: bool | None = None, mmap: bool | None = None, **pickle_load_args) -> Any:
    """Read an object written by ``graphc.save`` from a path or binary file object.

    Only data is read back: no code runs, whatever the file holds. ``map_location`` may be
    None or the CPU (graphc's tensors live there); ``weights_only`` is accepted for
    PyTorch compatibility and changes nothing.
    """
    _check_map_location(map_location)
    reader = _Reader(f)
    data, header = reader.read()
    return _Decoder(reader, header, data).node(header.get("root"))


def _check_map_location(map_location) -> None:
    if map_location is None or callable(map_location):  # fn(storage, location): CPU anyway
        return
    targets = map_location.values() if isinstance(map_location, dict) else [map_location]
    for target in targets:
        if str(target).split(":")[0] != "cpu":
            raise ValueArgumentError(f"graphc.load: map_location={map_location!r} is not "
                                     "supported; graphc loads tensors to the CPU (use None or "
                                     "'cpu')")
