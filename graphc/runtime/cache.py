"""The on-disk cache of compiled object code, in ``GRAPHC_CACHE_DIR``: by default the
user's cache folder (``$XDG_CACHE_HOME/graphc``, else ``~/.cache/graphc``); ``0`` turns it off.

An entry is keyed by a hash of the module's LLVM IR and of the target (triple, CPU
name and features, LLVM and graphc versions), so a second process compiling the same
function skips LLVM's optimizer and code generator. Object code is never trusted
blindly: each file starts with a header naming its key and the SHA-256 of its payload;
a file that is truncated, corrupted or written for another key is ignored, deleted and
rebuilt. Files are written to a unique temporary name and renamed, so processes
compiling into one folder at once never see each other's half-written entries.

The cache only ever saves time: a folder that cannot be written (read-only, full, a path
through a file) or an entry that cannot be used costs a recompile and one
:class:`CacheWarning` per process and kind of problem, never an error.

This process also keeps the object code it used last in memory (``RECENT_BYTES``): a
program compiled again (a model compiled anew each epoch) skips LLVM's optimizer even
where the folder cannot be written. That matters beyond time: llvmlite's optimizer keeps about
80 KiB per run (its PassBuilder's instrumentation callbacks are never freed).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import warnings
from collections import OrderedDict

import llvmlite
import llvmlite.binding as llvm

MAGIC = b"graphc-object-v1\n"


class CacheWarning(UserWarning):
    """The compile cache could not be used as it is (compiled code is still correct)."""


_warned: set[str] = set()  # kinds of problem already reported by this process


def _warn_once(kind: str, message: str) -> None:
    if kind not in _warned:
        _warned.add(kind)
        warnings.warn(f"graphc: {message}; compiled code is correct but may be rebuilt "
                      "(GRAPHC_CACHE_DIR names the folder, 0 turns the cache off)",
                      CacheWarning, stacklevel=2)


def folder() -> str | None:
    d = os.environ.get("GRAPHC_CACHE_DIR")
    if d is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "graphc")
    return None if d in ("", "0") else d


def key(llvm_ir: str) -> str:
    """The entry's name: a hash of everything the object code depends on."""
    from .. import __version__
    h = hashlib.sha256()
    for part in (llvm_ir, llvm.get_process_triple(), llvm.get_host_cpu_name(),
                 llvm.get_host_cpu_features().flatten(), llvmlite.__version__,
                 ".".join(map(str, llvm.llvm_version_info)), __version__):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _path(k: str, ext: str) -> str | None:
    d = folder()
    return os.path.join(d, f"{k}.{ext}") if d else None


def load(k: str) -> bytes | None:
    """The object code stored under ``k``, or None (no cache, no entry, or a bad file,
    which is then removed)."""
    path = _path(k, "o")
    if path is None:
        return None
    recent = _recall(k)
    if recent is not None:
        return recent
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):  # no entry (the folder may be a file:
        return None                                  # store() says so, once)
    except OSError as e:  # unreadable (permissions), a folder, an I/O error
        _warn_once("read", f"cannot read the compile cache entry {path} ({e})")
        return None
    head = MAGIC + k.encode() + b"\n"
    if data.startswith(head) and len(data) >= len(head) + 65:
        digest, payload = data[len(head):len(head) + 64], data[len(head) + 65:]
        if hashlib.sha256(payload).hexdigest().encode() == digest and payload:
            _remember(k, payload)
            return payload
    _warn_once("corrupt", f"ignored a truncated or corrupted compile cache entry {path}")
    _remove(path)
    return None


def load_text(k: str) -> str:
    path = _path(k, "ll")
    try:
        with open(path) as f:
            return f.read()
    except (OSError, TypeError):
        return "; optimized LLVM IR not in the cache (the object code came from it)"


def store(k: str, payload: bytes, optimized_ir: str) -> None:
    """Write an entry (the object file last: a reader that finds it finds the text too); a
    cache that cannot be written is skipped with one warning, never an error."""
    d = folder()
    if d is None:
        return
    _remember(k, payload)
    head = MAGIC + k.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    try:
        os.makedirs(d, exist_ok=True)
        for ext, data in (("ll", optimized_ir.encode()), ("o", head + payload)):
            _write_atomically(os.path.join(d, f"{k}.{ext}"), data)
    except OSError as e:  # read-only, full (ENOSPC), a path through a file, ...
        _warn_once("write", f"cannot write the compile cache in {d} ({e})")


def _write_atomically(path: str, data: bytes) -> None:
    """``path`` holds ``data`` or is untouched: written to a unique temporary file in the
    same folder, then renamed over it (atomic on POSIX and Windows)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)  # never leave a partial file behind (a full disk stays full otherwise)
        raise


def _write_all(f, data: bytes) -> None:
    """The one write of an entry's bytes (where a full disk raises ENOSPC)."""
    f.write(data)


# ---------------------------------------------------------------- this process's entries

RECENT_BYTES = 4 << 20
_recent: OrderedDict[str, bytes] = OrderedDict()  # oldest first
_recent_bytes = [0]
_recent_lock = threading.Lock()  # programs compile in several threads at once


def _recall(k: str) -> bytes | None:
    with _recent_lock:
        hit = _recent.get(k)
        if hit is not None:
            _recent.move_to_end(k)
        return hit


def _remember(k: str, payload: bytes) -> None:
    with _recent_lock:
        _recent_bytes[0] += len(payload) - len(_recent.pop(k, b""))
        _recent[k] = payload
        while _recent_bytes[0] > RECENT_BYTES and len(_recent) > 1:
            _recent_bytes[0] -= len(_recent.popitem(last=False)[1])


def forget_recent() -> None:
    """Drop this process's entries (tests that damage the files on disk)."""
    with _recent_lock:
        _recent.clear()
        _recent_bytes[0] = 0


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
