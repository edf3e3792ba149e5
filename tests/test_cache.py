"""The compile cache under stress: two processes compiling into one folder at once, a
folder that cannot be written (read-only, full, under a file) and damaged entries. Each
case compiles and runs correctly with exactly one CacheWarning, never a crash, and never
loads a partial object file."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np
import pytest

import graphc
from graphc.runtime import cache

X = np.linspace(-1, 1, 48, dtype=np.float32)


def compile_some(n: int, start: int = 0) -> list[bool]:
    """Compile and run ``n`` distinct functions, checking each against numpy; whether each
    one's object code came from the cache."""
    hits = []
    for k in range(start, start + n):
        f = graphc.compile(lambda x, k=k: (x * (k + 2.0) + 1.0).tanh().sum())
        got = float(f(graphc.tensor(X)))
        assert got == pytest.approx(float(np.tanh(X * (k + 2.0) + 1.0).sum()), rel=1e-4)
        hits.append(f.last.native.compiled.from_cache)
    return hits


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A fresh cache folder for this process, no entry in memory, no warning given yet."""
    d = tmp_path / "cache"
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(d))
    monkeypatch.setattr(cache, "_warned", set())
    cache.forget_recent()
    yield d
    cache.forget_recent()


def cache_warnings(fn) -> tuple[list, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught if issubclass(w.category, cache.CacheWarning)]


def leftovers(d) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".tmp-")) if d.exists() else []


# ---------------------------------------------------------------- folders that cannot be written

def test_a_read_only_folder_compiles_everything_with_one_warning(folder, monkeypatch):
    def refuse(*args, **kwargs):  # what creating a file in a read-only folder raises
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    hits, said = cache_warnings(lambda: compile_some(3) + compile_some(3))
    assert hits == [False] * 3 + [True] * 3  # compiled again: this process's entries
    assert len(said) == 1 and "cannot write the compile cache" in said[0], said


def test_a_rename_refused_leaves_no_temporary_file(folder, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", dst)
    monkeypatch.setattr(os, "replace", refuse)
    hits, said = cache_warnings(lambda: compile_some(3))
    assert hits == [False] * 3 and len(said) == 1
    assert leftovers(folder) == [] and not list(folder.glob("*.o"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders (the monkeypatched tests cover it)")
def test_a_folder_without_write_permission(folder):
    folder.mkdir()
    folder.chmod(0o500)
    try:
        hits, said = cache_warnings(lambda: compile_some(2))
    finally:
        folder.chmod(0o700)
    assert hits == [False, False] and len(said) == 1


def test_a_folder_below_a_file(folder, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "file" / "cache"))
    hits, said = cache_warnings(lambda: compile_some(3))
    assert hits == [False] * 3 and len(said) == 1, said


def test_a_full_disk_leaves_no_partial_file(folder, monkeypatch):
    def full(f, data):
        f.write(data[: len(data) // 3])  # part of it reached the disk, then it was full
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(cache, "_write_all", full)
    hits, said = cache_warnings(lambda: compile_some(3))
    assert hits == [False] * 3
    assert len(said) == 1 and "No space left" in said[0], said
    assert leftovers(folder) == [] and not list(folder.glob("*.o"))


# ---------------------------------------------------------------- damaged entries

def test_truncated_entries_are_rebuilt_with_one_warning(folder):
    assert compile_some(2) == [False, False]
    for obj in folder.glob("*.o"):
        data = obj.read_bytes()
        obj.write_bytes(data[: len(data) // 2])
    cache.forget_recent()  # as a new process would
    hits, said = cache_warnings(lambda: compile_some(2))
    assert hits == [False, False]  # never loaded
    assert len(said) == 1 and "corrupted compile cache entry" in said[0], said
    cache.forget_recent()
    assert compile_some(2) == [True, True]  # rewritten whole


def test_an_entry_is_complete_or_absent_while_another_process_writes_it(folder):
    """A reader racing a writer: every read is a miss or the whole entry, never a part."""
    assert compile_some(1) == [False]
    (obj,) = folder.glob("*.o")
    key, data = obj.stem, obj.read_bytes()
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {os.getcwd()!r})
        from graphc.runtime import cache
        data = open({str(obj)!r}, "rb").read()
        for _ in range(300):
            cache._write_atomically({str(obj)!r}, data)
        """)])
    seen = set()
    while writer.poll() is None:
        cache.forget_recent()  # read the file each time
        got = cache.load(key)
        seen.add(None if got is None else len(got))
    assert writer.wait() == 0
    assert seen <= {None, len(data) - data.index(b"\n", len(cache.MAGIC) + 65) - 1}
    assert cache.load(key) is not None


# ---------------------------------------------------------------- two processes at once

_COMPILER = textwrap.dedent("""
    import os, sys, time, warnings
    warnings.simplefilter("error")  # any warning fails this process
    sys.path.insert(0, os.getcwd())
    from tests.test_cache import compile_some
    while not os.path.exists(sys.argv[1]):  # start together
        time.sleep(0.001)
    hits = compile_some(6)
    print(sum(hits))
""")


def _start(go: str, d) -> subprocess.Popen:
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(d))
    return subprocess.Popen([sys.executable, "-c", _COMPILER, go], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_processes_compiling_into_one_folder_at_once(tmp_path):
    d, go = tmp_path / "cache", str(tmp_path / "go")
    procs = [_start(go, d) for _ in range(2)]
    time.sleep(0.5)  # both imported graphc and wait
    open(go, "w").close()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert len(list(d.glob("*.o"))) == 6 and leftovers(d) == []
    third = _start(go, d)
    out, err = third.communicate(timeout=300)
    assert third.returncode == 0, err
    assert out.strip() == "6"  # every entry either wrote is whole
