"""The file format of graphc.save (laid out in graphc.serialization's docstring): its
constants, its dtypes and the error every reader raises."""
from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..ir import dtypes as dt
from ..ir.errors import GraphcError

MAGIC = b"\x89GRAPHC\n"
FORMAT_VERSION = 1
PREFIX = struct.Struct("<8sIIQQ")  # magic, version, reserved, header length, data length
DIGEST_SIZE = 32
ALIGN = 64
MAX_DEPTH = 256  # levels of nested containers, saved or loaded
TENSOR_DTYPES = {d.name: d.np for d in dt.ALL}
NUMPY_DTYPES = {d.name: d for d in map(np.dtype, (
    "bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
    "float16", "float32", "float64", "complex64", "complex128"))}


class SerializationError(GraphcError, RuntimeError):
    """A file that graphc.load cannot read: not a graphc file, truncated or corrupted
    (PyTorch raises RuntimeError for unreadable archives)."""


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."
