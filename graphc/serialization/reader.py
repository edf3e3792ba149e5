"""The first half of graphc.load: a file's bytes, checked (sizes before reading, then the
checksum, then the header's JSON before and while parsing it), as the parsed header and the
data section. Nothing here allocates more than the file holds or recurses without bound."""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from ..ir.errors import ArgumentError
from .format import (
    ALIGN,
    DIGEST_SIZE,
    FORMAT_VERSION,
    MAGIC,
    MAX_DEPTH,
    PREFIX,
    SerializationError,
    align,
    short,
)

# json's C parser recurses once per level of nesting (on the C stack, where the recursion
# limit was raised); a node level is an object and a list, the header adds two more
_MAX_JSON_DEPTH = 2 * MAX_DEPTH + 8
_MAX_INT_DIGITS = 4300  # Python's default int-to-str limit, whatever the process set
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


class Reader:
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
        _, version, reserved, hlen, dlen = PREFIX.unpack(prefix)
        if version != FORMAT_VERSION:
            raise self.fail(f"format version {version} is not one this graphc reads "
                            f"({FORMAT_VERSION}): written by another graphc, or corrupted")
        if reserved:
            raise self.fail(f"the preamble's reserved field is {reserved}, not 0: written by "
                            "a newer graphc, or corrupted")
        data_start = align(PREFIX.size + hlen)
        total = data_start + dlen + DIGEST_SIZE
        # sizes from the header are checked against the file before anything is allocated
        if available is not None and (available < total or (exact and available > total)):
            raise self.fail(f"the file is truncated or its header is corrupted: the header "
                            f"gives a size of {total} bytes, the file has {available}")
        buf = self._read_all(stream, prefix, total, available is not None)
        if hashlib.sha256(memoryview(buf)[:-DIGEST_SIZE]).digest() != buf[-DIGEST_SIZE:].tobytes():
            raise self.fail("checksum mismatch: the file is corrupted")
        header = self._parse_header(memoryview(buf)[PREFIX.size:PREFIX.size + hlen])
        return buf[data_start:data_start + dlen], header

    def _read_prefix(self, stream: BinaryIO) -> bytes:
        """The preamble, in as many reads as a pipe or raw stream takes to give it."""
        prefix = stream.read(PREFIX.size)
        if not isinstance(prefix, bytes):
            raise ArgumentError("graphc.load: the file object must be opened in binary mode "
                                "('rb')")
        while prefix and len(prefix) < PREFIX.size and (more := stream.read(
                PREFIX.size - len(prefix))):
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
            raise self.fail(f"the header is not valid JSON ({short(str(e))})") from None
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
        if len(prefix) < PREFIX.size:
            raise self.fail(f"the file is truncated: {len(prefix)} bytes, shorter than the "
                            f"{PREFIX.size}-byte preamble")

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
            raw = np.empty(total + ALIGN, dtype=np.uint8)
            skip = -raw.ctypes.data % ALIGN
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
        raise _Refused(f"the header holds the number {short(text)}, beyond a float64")
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
        seen: set[str] = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))  # linear, not count()
        raise _Refused(f"the header repeats the key {short(repeated)} in an object")
    return obj


def _json_depth(text: memoryview) -> int:
    """How deeply the arrays and objects of JSON ``text`` nest, counted in linear time
    without recursion (brackets inside strings do not count)."""
    if text.nbytes <= _MAX_JSON_DEPTH:
        return 0  # too short to nest deeper
    depth = _bracket_depth(np.frombuffer(text, np.uint8))
    if depth <= _MAX_JSON_DEPTH:
        return depth  # brackets inside strings only add to it
    return _bracket_depth(np.frombuffer(_JSON_STRING.sub(b'""', text), np.uint8))


def _bracket_depth(chars: np.ndarray) -> int:
    depth = deepest = 0
    for start in range(0, len(chars), 1 << 16):  # cumsum in chunks: bounded memory
        chunk = chars[start:start + (1 << 16)]
        steps = ((chunk == ord("[")) | (chunk == ord("{"))).astype(np.int32)
        steps -= (chunk == ord("]")) | (chunk == ord("}"))
        levels = np.cumsum(steps) + depth
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest
