"""Hostile ``graphc.save`` files: valid seed files and the mutations that break them, for the
loader fuzzer (``graphc.testing.fuzz_files``).

Each mutant is a pure function of ``(seed, index)``, so any one of them can be rebuilt from a
report. Most mutations re-sign the file (a correct SHA-256 over the mutated body): otherwise
the loader would reject them all at the checksum and the checks after it would go untested.
The file layout is written out here again from the format's description (not imported from
the loader), so that the fuzzer does not share the loader's mistakes.
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

PREFIX = struct.Struct("<8sIIQQ")  # magic, version, reserved, header length, data length
MAGIC = b"\x89GRAPHC\n"
ALIGN = 64
DIGEST = 32

# values that break size arithmetic: zero, signs, powers of two around int32/int64/uint64
EDGE_INTS = [0, 1, -1, 2, 7, 63, 64, 65, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1,
             2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63, -2**63 - 1, 10**30, -10**30]
WRONG_TYPES = [None, True, False, 0, -1, 1.5, 8.0, 1e308, "", "0", "8", "float32", [], [8],
               [[2]], {}, {"type": "list", "items": []}]
DTYPE_NAMES = ["object", "O", "float128", "longdouble", "<f4", ">f4", "f4", "=f4", "float",
               "int", "V8", "S8", "U2", "M8[ns]", "datetime64", "timedelta64", "bfloat16",
               "complex64", "complex128", "complex256", "uint16", "uint32", "uint64", "bool",
               "int8", "float16", "float64", "", " float32", "FLOAT32", "numpy.float32",
               "torch.float32", "graphc.float32", "float32\x00", "fl\u00f6at32"]
# names of callables and class paths, as a pickle-style loader would resolve them
CODE_STRINGS = ["os.system", "builtins.eval", "builtins.exec", "builtins.__import__",
                "subprocess.Popen", "posix.system", "__reduce__", "__reduce_ex__", "__class__",
                "__import__('os').system('touch /tmp/graphc-fuzz-pwned')",
                "numpy.core.multiarray._reconstruct", "numpy.load", "graphc.nn.Linear",
                "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                "!!python/object/apply:os.system", "cos\nsystem\n(S'id'\ntR.",
                "{{7*7}}", "${jndi:ldap://x}", "$(id)"]


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def sign(body: bytes) -> bytes:
    """``body`` followed by its SHA-256: a file whose checksum holds, whatever it says."""
    return body + hashlib.sha256(body).digest()


def resign(raw: bytes) -> bytes:
    return sign(raw[:-DIGEST]) if len(raw) >= DIGEST else raw


def assemble(header: bytes, data: bytes = b"", *, magic: bytes = MAGIC, version: int = 1,
             reserved: int = 0, hlen: int | None = None, dlen: int | None = None) -> bytes:
    """A signed file around ``header`` and ``data``; ``hlen``/``dlen``/``version`` may lie
    (they wrap to their unsigned field widths, so -1 is the largest value)."""
    body = PREFIX.pack(magic, version % 2**32, reserved % 2**32,
                       (len(header) if hlen is None else hlen) % 2**64,
                       (len(data) if dlen is None else dlen) % 2**64) + header
    return sign(body + bytes(-len(body) % ALIGN) + data)


def forge(header: Any, data: bytes = b"") -> bytes:
    """A signed file around any JSON value as its header."""
    return assemble(json.dumps(header).encode(), data)


@dataclass(frozen=True)
class Layout:
    """A valid file taken apart: its preamble's fields, its header and its data section."""

    raw: bytes
    version: int
    hlen: int
    dlen: int
    header_bytes: bytes
    data: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Layout:
        _, version, _, hlen, dlen = PREFIX.unpack_from(raw)
        start = align(PREFIX.size + hlen)
        return cls(raw, version, hlen, dlen, raw[PREFIX.size:PREFIX.size + hlen],
                   raw[start:start + dlen])

    @property
    def data_start(self) -> int:
        return align(PREFIX.size + self.hlen)

    def header(self) -> dict:
        """A fresh copy of the parsed header, to mutate."""
        return json.loads(self.header_bytes)

    def with_header(self, header: Any, data: bytes | None = None, **fields) -> bytes:
        text = header if isinstance(header, bytes) else json.dumps(header).encode()
        return assemble(text, self.data if data is None else data, **fields)


def declared_size(raw: bytes) -> int | None:
    """The file size that ``raw``'s preamble gives, or None where it has no preamble."""
    if len(raw) < PREFIX.size:
        return None
    _, _, _, hlen, dlen = PREFIX.unpack_from(raw)
    return align(PREFIX.size + hlen) + dlen + DIGEST


@cache
def seed_files() -> tuple[Layout, ...]:
    """Valid files holding every kind of node and blob: the starting points of mutation."""
    import graphc  # here, not at import: graphc.testing is imported by graphc's own tests

    w = graphc.nn.Parameter(graphc.arange(12, dtype=graphc.float32).reshape(3, 4))
    shared = graphc.tensor([1.5, -2.0], dtype=graphc.float64)
    state = collections.OrderedDict([
        ("0.weight", w), ("0.bias", graphc.zeros(3, requires_grad=True)),
        ("1.mask", graphc.tensor([True, False, True])),
        ("1.half", graphc.tensor([0.5, 65504.0], dtype=graphc.float16)),
        ("1.num_batches_tracked", graphc.tensor(5)),
        ("2.empty", graphc.zeros(3, 0, 2, dtype=graphc.int16)),
        ("2.bytes", graphc.tensor([1, 255], dtype=graphc.uint8))])
    nested = {
        "state": {0: {"step": graphc.tensor(3.0), "avg": shared}, 1: {"avg": shared}},
        "groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "amsgrad": False, "foreach": None,
                    "params": [0, 1], "name": "héllo \u2603"}],
        "special": [float("inf"), float("-inf"), float("nan"), 2**70, -0.0],
        "size": graphc.Size([2, 3]), (1, "k"): "tuple key", 2.5: None,
        "numpy": [np.arange(6, dtype=np.uint32).reshape(2, 3), np.float32(1.5),
                  np.complex64(1 - 2j), np.zeros((2, 0), np.int8), np.bool_(True)]}
    objects = [state, nested, graphc.linspace(-1, 1, 6).reshape(2, 3),
               [None, "only a string", (1, 2)]]
    files = []
    for obj in objects:
        buf = io.BytesIO()
        graphc.save(obj, buf)
        files.append(Layout.parse(buf.getvalue()))
    return tuple(files)


# ---------------------------------------------------------------- walking a header

def _dicts(x: Any) -> Iterator[dict]:
    """Every JSON object inside ``x``, ``x`` included (iteratively: headers may be deep)."""
    stack = [x]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            yield x
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)


def _nodes(header: dict) -> list[dict]:
    return [d for d in _dicts(header.get("root")) if "type" in d]


def string_slots(x: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every string value inside ``x``."""
    slots, stack = [], [x]
    while stack:
        x = stack.pop()
        items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
        for k, v in items:
            if isinstance(v, str):
                slots.append((x, k))
            stack.append(v)
    return slots


def _blob_index(rng: random.Random, header: dict) -> int | None:
    blobs = header.get("blobs") or []
    return rng.randrange(len(blobs)) if blobs else None


def _near(rng: random.Random, true: int) -> int:
    """A value off by one, off by an alignment, or at an edge."""
    if rng.random() < 0.5:
        return true + rng.choice([-65, -64, -8, -1, 1, 8, 64, 65])
    return rng.choice(EDGE_INTS)


# ---------------------------------------------------------------- mutations

Mutation = Callable[[random.Random, Layout], tuple[bytes, str]]


@dataclass(frozen=True)
class Kind:
    """A kind of mutation; ``needs_blobs``: it only applies to files holding arrays."""

    name: str
    mutate: Mutation
    needs_blobs: bool = False


KINDS: dict[str, Kind] = {}


def mutation(name: str, needs_blobs: bool = False) -> Callable[[Mutation], Mutation]:
    def register(fn: Mutation) -> Mutation:
        KINDS[name] = Kind(name, fn, needs_blobs)
        return fn
    return register


def _maybe_resign(rng: random.Random, raw: bytes, p: float) -> tuple[bytes, str]:
    if rng.random() < p:
        return resign(raw), " (re-signed)"
    return raw, " (old checksum)"


def _structural_position(rng: random.Random, base: Layout) -> int:
    """Half the time in the preamble or header, where a change alters the structure."""
    return rng.randrange(base.data_start if rng.random() < 0.5 else len(base.raw))


@mutation("bit_flip")
def _bit_flip(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    raw = bytearray(base.raw)
    spots = sorted(_structural_position(rng, base) for _ in range(rng.choice([1, 1, 2, 3, 8])))
    for i in spots:
        raw[i] ^= 1 << rng.randrange(8)
    out, signed = _maybe_resign(rng, bytes(raw), 0.8)
    return out, f"bits flipped at {spots}{signed}"


JSON_BYTES = b'{}[]",:-+0123456789eE.\\ ntrufalsN\x00\xff'


@mutation("byte_overwrite")
def _byte_overwrite(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    raw = bytearray(base.raw)
    at, n = _structural_position(rng, base), rng.choice([1, 2, 4, 8, 16])
    fill = rng.choice(["random", "zeros", "ones", "json"])
    new = {"random": lambda: rng.randbytes(n), "zeros": lambda: bytes(n),
           "ones": lambda: b"\xff" * n,
           "json": lambda: bytes(rng.choice(JSON_BYTES) for _ in range(n))}[fill]()
    raw[at:at + n] = new[:len(raw) - at]
    out, signed = _maybe_resign(rng, bytes(raw), 0.8)
    return out, f"{n} {fill} bytes written at {at}{signed}"


def _boundaries(base: Layout) -> list[int]:
    """Every offset where one part of the file ends and another begins (and its neighbours)."""
    start, size = base.data_start, len(base.raw)
    points = [0, 1, 4, 7, 8, 9, 12, 16, 20, 24, 31, 32, 33, 32 + base.hlen // 2,
              32 + base.hlen - 1, 32 + base.hlen, start - 1, start, start + 1,
              start + base.dlen, size - DIGEST - 1, size - DIGEST, size - DIGEST + 1,
              size - 1]
    for meta in json.loads(base.header_bytes)["blobs"]:
        for edge in (meta["offset"], meta["offset"] + meta["nbytes"]):
            points += [start + edge - 1, start + edge, start + edge + 1]
    return sorted({p for p in points if 0 <= p < size})


@mutation("truncate")
def _truncate(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    cut = rng.choice(_boundaries(base))
    how = rng.random()
    if how < 0.2:  # longer than its preamble says: a path must hold exactly one object
        extra = rng.choice([b"\x00", bytes(64), base.raw, rng.randbytes(100)])
        return base.raw + extra, f"{len(extra)} bytes appended"
    if how < 0.45:
        return sign(base.raw[:cut]), f"cut to {cut} bytes, then signed"
    return base.raw[:cut], f"cut to {cut} bytes"


@mutation("prefix_field")
def _prefix_field(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    field = rng.choice(["version", "reserved", "hlen", "dlen"])
    true = {"version": 1, "reserved": 0, "hlen": base.hlen, "dlen": base.dlen}[field]
    value = _near(rng, true)
    return assemble(base.header_bytes, base.data, **{field: value}), f"{field} = {value}"


def _bad_shape(rng: random.Random, shape: list) -> Any:
    return rng.choice([
        [-1], [d + 1 for d in shape] or [1], shape + [1], shape[:-1], shape[::-1],
        [2**32, 2**32], [2**62, 4], [2**63], [2**64], [2**61, 0], [2**63, 0], [0, 2**64],
        [2**40, 2**40, 0], [1] * 64, [1] * 65, [1] * rng.randrange(66, 20000), [2.0], ["2"],
        [True], [[2]], [None], 2, "3x4", {}, [-2**63], [2**31] * 4, None,
        [2**63 - 1] * rng.randrange(100, 20000)])  # a product of a million bits


@mutation("blob_field", needs_blobs=True)
def _blob_field(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    header = base.header()
    meta = header["blobs"][_blob_index(rng, header)]
    field = rng.choice(["offset", "nbytes", "shape", "dtype", "kind", "scalar",
                        "requires_grad", "parameter", "delete", "extra"])
    if field in ("offset", "nbytes"):
        value = _near(rng, meta[field]) if rng.random() < 0.8 else rng.choice(WRONG_TYPES)
    elif field == "shape":
        value = _bad_shape(rng, meta["shape"])
    elif field == "dtype":
        value = rng.choice(DTYPE_NAMES + WRONG_TYPES)
    elif field == "kind":
        value = rng.choice(["tensor", "ndarray", "module", "parameter", "", "Tensor", None])
    elif field == "delete":
        field = rng.choice(sorted(meta))
        del meta[field]
        return base.with_header(header), f"blob field {field} deleted"
    elif field == "extra":
        field = rng.choice(CODE_STRINGS)
        value = rng.choice(WRONG_TYPES + CODE_STRINGS)
    else:
        value = rng.choice(WRONG_TYPES)
    meta[field] = value
    return base.with_header(header), f"blob {field} = {_short(value)}"


@mutation("wrong_dtype", needs_blobs=True)
def _wrong_dtype(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    header = base.header()
    meta = header["blobs"][_blob_index(rng, header)]
    how = rng.random()
    if how < 0.5:
        meta["dtype"] = rng.choice(DTYPE_NAMES)
        note = f"dtype = {meta['dtype']!r}"
    elif how < 0.8:  # another real dtype, the sizes made to agree: a reinterpretation
        meta["dtype"] = rng.choice(["bool", "uint8", "int8", "int16", "int32", "int64",
                                    "float16", "float32", "float64", "uint32", "complex64"])
        itemsize = np.dtype(meta["dtype"]).itemsize
        if meta["nbytes"] % itemsize == 0:
            meta["shape"] = [meta["nbytes"] // itemsize]
        note = f"dtype = {meta['dtype']}, shape {meta['shape']}"
    else:
        meta["kind"] = {"tensor": "ndarray"}.get(meta["kind"], "tensor")
        for node in _nodes(header):  # the nodes follow, or not
            if node.get("blob") is not None and rng.random() < 0.5:
                node["type"] = meta["kind"]
        note = f"kind = {meta['kind']}"
    return base.with_header(header), note


@mutation("shape_size", needs_blobs=True)
def _shape_size(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    header = base.header()
    meta = header["blobs"][_blob_index(rng, header)]
    itemsize = np.dtype(meta["dtype"]).itemsize
    numel = meta["nbytes"] // itemsize
    shape, nbytes = rng.choice([
        ([numel + 2**64 // itemsize], meta["nbytes"]),  # wraps to the true size in uint64
        ([2**32, 2**32 // itemsize], 0), ([2**63 // itemsize, 2], 0),  # wrap to zero
        ([2**32, 2**31], 2**63 * itemsize), ([2**63 - 1], (2**63 - 1) * itemsize),
        ([0, 2**62], 0), ([2**62, 0], 0), ([2**63 - 1, 0], 0), ([2**64, 0], 0),
        ([2**31, 2**31, 0], 0), ([2**20] * 3 + [0], 0), ([0] * 65, 0),
        (meta["shape"], meta["nbytes"] + itemsize), (meta["shape"], meta["nbytes"] - itemsize),
        ([numel * 2], meta["nbytes"] * 2), ([numel, 1], meta["nbytes"]),
        ([1, numel], meta["nbytes"]), (meta["shape"], 0), ([0], meta["nbytes"])])
    meta["shape"], meta["nbytes"] = shape, nbytes
    return base.with_header(header), f"shape {_short(shape)}, nbytes {nbytes}"


@mutation("offsets", needs_blobs=True)
def _offsets(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    header = base.header()
    blobs = header["blobs"]
    meta, other = blobs[_blob_index(rng, header)], rng.choice(blobs)
    end = base.dlen
    meta["offset"] = rng.choice([
        end, end + 1, end - meta["nbytes"] + 1, end - meta["nbytes"], 2**63, 2**64 - 1,
        2**64, -1, -64, other["offset"], other["offset"] + 1,
        other["offset"] + max(other["nbytes"] - 1, 0), meta["offset"] + 1, 0])
    if rng.random() < 0.3:  # a second blob over the same bytes, used by the root
        blobs.append(dict(meta))
        header["root"] = {"type": "list", "items": [
            header["root"], {"type": meta["kind"], "blob": len(blobs) - 1}]}
    return base.with_header(header), f"offset = {meta['offset']}"


NODE_TYPES = ["list", "tuple", "dict", "odict", "size", "float", "tensor", "ndarray", "set",
              "bytes", "module", "object", "function", "", "LIST", None, 3]


@mutation("node_field")
def _node_field(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    header = base.header()
    node = rng.choice(_nodes(header))
    how = rng.choice(["type", "field", "field", "delete", "extra", "swap"])
    fields = sorted(k for k in node if k != "type")
    if how == "type":
        node["type"] = rng.choice(NODE_TYPES + CODE_STRINGS)
        return base.with_header(header), f"node type = {node['type']!r}"
    if how == "field" and fields:
        field = rng.choice(fields)
        node[field] = rng.choice(WRONG_TYPES + [
            ["1e400"], [-1], [1.5], [True], [2**64], [{"type": "list", "items": []}],
            [{"type": "ndarray", "blob": 0}], "1e400", "Infinity", "-nan", "inf ", -1,
            2**64, len(header["blobs"])])
        return base.with_header(header), f"node {field} = {_short(node[field])}"
    if how == "delete" and fields:
        del node[rng.choice(fields)]
        return base.with_header(header), "a node field deleted"
    if how == "swap":
        other = rng.choice(_nodes(header))
        node.clear()
        node.update(json.loads(json.dumps(other)))
        return base.with_header(header), "a node replaced by another"
    key = rng.choice(CODE_STRINGS + ["py/object", "$ref", "args"])
    node[key] = rng.choice(CODE_STRINGS + WRONG_TYPES)
    return base.with_header(header), f"node field {key!r} added"


@mutation("code_payload")
def _code_payload(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    header = base.header()
    slots = string_slots(header)
    how = rng.choice(["one", "all", "keys", "node"])
    if how == "one" and slots:
        container, key = rng.choice(slots)
        container[key] = rng.choice(CODE_STRINGS)
    elif how == "all":
        for container, key in slots:
            container[key] = rng.choice(CODE_STRINGS)
    elif how == "keys":
        for d in rng.sample(list(_dicts(header)), k=1):
            d[rng.choice(CODE_STRINGS)] = rng.choice(CODE_STRINGS)
    else:
        node = rng.choice(_nodes(header))
        node.update({"type": rng.choice(CODE_STRINGS), "module": "os", "name": "system",
                     "args": ["touch /tmp/graphc-fuzz-pwned"]})
    return base.with_header(header), f"code-like strings planted ({how})"


def _bomb(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    """A header built to exhaust the parser: (header bytes, what it is)."""
    d = rng.choice([300, 1000, 10_000, 200_000])
    n = rng.choice([1000, 30_000, 300_000])
    shallow = rng.choice([200, 500, 900, 990, 2000])  # near Python's recursion limit
    wrap = b'{"blobs":[],"root":%s}'
    node = b'{"type":"list","items":['
    candidates = [
        lambda: (b"[" * d + b"]" * d, f"array nested {d} deep"),
        lambda: (b'{"a":' * d + b"0" + b"}" * d, f"object nested {d} deep"),
        lambda: (wrap % (b"[" * shallow + b"]" * shallow), f"root a list nested {shallow} deep"),
        lambda: (base.header_bytes.replace(b'"dtype":', b'"dtype":%s,"was":' % (
            b"[" * shallow + b"]" * shallow), 1), f"a dtype nested {shallow} deep"),
        lambda: (b"[" * d, f"unclosed array nested {d} deep"),
        lambda: (wrap % (node * (d // 100) + b"]}" * (d // 100)), f"root nested {d // 100} deep"),
        lambda: (wrap % (b"[" + b"0," * n + b"0]"), f"root array of {n} zeros"),
        lambda: (b'{"blobs":[' + b"{}," * n + b'{}],"root":1}', f"{n} empty blob objects"),
        lambda: (wrap % (b"[" + b"[]," * n + b"[]]"), f"root array of {n} empty arrays"),
        lambda: (wrap % (b'"' + b"A" * (n * 3) + b'"'), f"a string of {n * 3} bytes"),
        lambda: (wrap % (b'"' + b"\\u00e9" * n + b'"'), f"a string of {n} escapes"),
        lambda: (wrap % (b"9" * rng.choice([4300, 4301, 100_000])), "a huge integer"),
        lambda: (wrap % rng.choice([b"1e999999", b"-1e400", b"1" + b"0" * 400 + b".0",
                                    b"0." + b"0" * 100_000 + b"1", b"1e-999999"]),
                 "a huge float"),
        lambda: (wrap % rng.choice([b"NaN", b"Infinity", b"-Infinity", b"[NaN]"]),
                 "a non-JSON constant"),
        lambda: (wrap % json.dumps({"type": "dict", "keys": [i * (2**61 - 1) for i in range(
            n // 10)], "values": [0] * (n // 10)}).encode(), f"{n // 10} int keys of one hash"),
        lambda: (b'{"blobs":[],"root":1,"root":{"type":"pickle"}}', "a duplicate root"),
        lambda: (wrap % (b"{" + b"".join(b'"%d":0,' % i for i in range(n)) + b'"%d":1}' % (
            n - 1)), f"an object of {n} keys, the last repeated"),
        lambda: (b'{"blobs":[],"blobs":"x","root":1}', "duplicate blobs"),
        lambda: (wrap % b'{"type":"list","type":"tuple","items":[]}', "a duplicate node type"),
        lambda: (base.header_bytes.replace(b'"nbytes":', b'"nbytes":0,"nbytes":', 1),
                 "a duplicate nbytes"),
        lambda: (rng.choice([b"\xff\xfe{}", b"\xef\xbb\xbf" + base.header_bytes,
                             base.header_bytes.decode().encode("utf-16"),
                             wrap % b'"\\ud800"', wrap % b'"\x00\x01"', wrap % b'"\xc3("']),
                 "a bad encoding"),
        lambda: (base.header_bytes + rng.choice([b" x", b"\x00", b"}", b" "]),
                 "trailing bytes"),
        lambda: (rng.choice([b"", b" ", b"null", b"[]", b'"root"', b"0", b"{}"]),
                 "a header of nothing"),
    ]
    return rng.choice(candidates)()  # only the chosen bomb is built


@mutation("json_bomb")
def _json_bomb(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    text, what = _bomb(rng, base)
    return assemble(text, base.data), what


@mutation("blob_table", needs_blobs=True)
def _blob_table(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    header = base.header()
    blobs = header["blobs"]
    how = rng.choice(["delete", "duplicate", "swap", "wrong type", "reverse", "many"])
    if how == "delete":
        del blobs[_blob_index(rng, header)]
    elif how == "duplicate":
        blobs.insert(0, dict(rng.choice(blobs)))
    elif how == "swap":
        i, j = rng.randrange(len(blobs)), rng.randrange(len(blobs))
        blobs[i], blobs[j] = blobs[j], blobs[i]
    elif how == "wrong type":
        header["blobs"] = rng.choice([{}, None, "x", [None], [[]], 3, {"0": blobs[0]}])
    elif how == "reverse":
        blobs.reverse()
    else:  # many zero-sized arrays, each referenced by the root
        count = rng.choice([100, 1000])
        blobs += [{"kind": "tensor", "dtype": "float32", "shape": [0], "offset": 0,
                   "nbytes": 0}] * count
        header["root"] = {"type": "list", "items": [
            {"type": "tensor", "blob": i} for i in range(len(blobs) - count, len(blobs))]}
    return base.with_header(header), f"blob table: {how}"


@mutation("splice")
def _splice(rng: random.Random, base: Layout) -> tuple[bytes, str]:
    other = rng.choice(seed_files())
    how = rng.choice(["other data", "zero data", "ff data", "half data", "double data",
                      "padded header"])
    if how == "other data":
        return assemble(base.header_bytes, other.data), "the data of another file"
    if how in ("zero data", "ff data"):
        fill = b"\x00" if how == "zero data" else b"\xff"
        return assemble(base.header_bytes, fill * base.dlen), how
    if how == "half data":
        return assemble(base.header_bytes, base.data[:base.dlen // 2]), how
    if how == "double data":
        return assemble(base.header_bytes, base.data * 2), how
    pad = rng.choice([1, 31, 32, 64, 100])  # JSON allows whitespace: a valid file
    return assemble(base.header_bytes + b" " * pad, base.data), f"header padded by {pad}"


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------- mutants

@dataclass(frozen=True)
class Mutant:
    index: int
    kind: str
    data: bytes
    note: str


def mutant(seed: int, index: int) -> Mutant:
    """Mutant number ``index`` of run ``seed``: the kinds take turns, the rest is random."""
    rng = random.Random(f"graphc-fuzz:{seed}:{index}")
    kind = KINDS[sorted(KINDS)[index % len(KINDS)]]
    bases = [b for b in seed_files() if not kind.needs_blobs or json.loads(b.header_bytes)["blobs"]]
    data, note = kind.mutate(rng, rng.choice(bases))
    return Mutant(index, kind.name, data, note)
