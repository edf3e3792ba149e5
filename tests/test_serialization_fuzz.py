"""graphc.load against hostile files: the mutation fuzzer (graphc.testing.fuzz_files) at a
fixed seed, proof that the fuzzer catches each way a loader can fail, code-like payloads that
must never run, and files that are not regular files at all."""
import builtins
import importlib
import io
import os
import resource
import signal
import sys
import threading
import time

import numpy as np
import pytest

import graphc
from graphc.serialization import SerializationError
from graphc.testing import fuzz_files
from graphc.testing.fuzz_files import AuditLog, Stream, fuzz, soak
from graphc.testing.hostile_files import (
    CODE_STRINGS,
    KINDS,
    PREFIX,
    mutant,
    seed_files,
    string_slots,
)

SEED = 20240613
FILES_PER_KIND = 80


def test_hostile_files_load_as_valid_data_or_raise_serialization_error(tmp_path):
    """1040 mutants, each loaded from its path and from an open file or a pipe: a
    SerializationError naming the file, or an object that round-trips; within the time limit
    and memory bound, with no audit event (see fuzz_files.check)."""
    report = fuzz(SEED, FILES_PER_KIND * len(KINDS), tmp_path)
    assert not report.bugs, report.summary()
    for kind in KINDS:
        assert sum(report.counts[kind].values()) == FILES_PER_KIND
    outcomes = sum(report.counts.values(), start=__import__("collections").Counter())
    assert outcomes["valid"] > 0.1 * report.files and outcomes["rejected"] > 0.5 * report.files
    # re-signed mutants get past the checksum: most rejections come from the checks after it
    assert report.reasons["checksum"] < 0.1 * outcomes["rejected"], report.summary()
    assert report.reasons["header check"] > 0.4 * outcomes["rejected"], report.summary()


# ---------------------------------------------------------------- the fuzzer catches ...

def _raises_value_error(f):
    raise ValueError("not a SerializationError")


def _nameless_error(f):
    raise SerializationError("graphc.load: something is wrong")


def _allocates(f):
    big = np.ones(64 << 20, np.uint8)  # 64 MiB for files of a few KiB
    return graphc.load(f) if big.any() else None


def _sleeps(f):
    time.sleep(3)


def _compiles(f):
    exec("None")
    return graphc.load(f)


def _returns_an_object(f):
    return object()


def _rejects_file_objects(f):
    if isinstance(f, io.BufferedReader):
        raise SerializationError(f"graphc.load: {f.name}: refused")
    return graphc.load(f)


@pytest.mark.parametrize("load,detail", [
    (_raises_value_error, "ValueError: not a SerializationError"),
    (_nameless_error, "the message does not name the file"),
    (_allocates, "the load took"),
    (_sleeps, "Hang: took longer than 0.3 s"),
    (_compiles, "audit events during load: [\"compile("),
    (_returns_an_object, "loaded an object that no file holds: an object of type object"),
    (_rejects_file_objects, "loading the path and a file object disagree"),
])
def test_the_fuzzer_catches_a_broken_loader(load, detail, tmp_path):
    report = fuzz(SEED, 4, tmp_path, time_limit=0.3, load=load)  # two of each read route
    assert report.bugs and all(detail in bug["detail"] for bug in report.bugs), report.bugs


def misbehaving_load(f):
    """graphc.load, but for file 1 (a segfault), file 3 (a hang where no timer signal
    reaches) and file 5 (a 2 GiB allocation): for the soak's test, in its child process."""
    index = int(str(getattr(f, "name", f)).rsplit("-", 1)[1].split(".")[0])
    if index == 1:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), signal.SIGSEGV)
    if index == 3:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)
    if index == 5:
        np.ones(2 << 30, np.uint8)
    return graphc.load(f)


def test_the_soak_survives_crashes_hangs_and_huge_allocations(tmp_path):
    report = soak(SEED, 7, tmp_path, time_limit=0.5, memory_mb=256,
                  loader=f"{__name__}:misbehaving_load")
    assert report.files == 7
    bugs = {bug["index"]: bug["detail"] for bug in report.bugs}
    assert sorted(bugs) == [1, 3, 5], report.summary()
    assert bugs[1] == f"crash: the worker exited with status {-signal.SIGSEGV}"
    assert bugs[3] == "hang: the worker stopped answering"
    # RLIMIT_AS: the allocation fails, not the machine; numpy traces the attempt all the same
    assert bugs[5].startswith("the load took 2147") and "(MemoryError: " in bugs[5]
    assert report.worker_max_rss < 1 << 30


def test_a_mutant_is_a_function_of_seed_and_index():
    assert mutant(SEED, 17) == mutant(SEED, 17)
    assert mutant(SEED, 17).data != mutant(SEED + 1, 17).data
    assert mutant(SEED, 17).kind == mutant(SEED, 17 + len(KINDS)).kind


# ---------------------------------------------------------------- never executes code

def test_loading_never_imports_or_runs_code(tmp_path, monkeypatch):
    """Names of callables, class paths, pickle opcodes and shell commands planted in every
    string of the header (node types, dtypes, kinds, keys, values): loading them raises a
    SerializationError or gives back the strings, and imports, compiles or runs nothing."""
    canary = tmp_path / "pwned"
    payloads = [s.replace("/tmp/graphc-fuzz-pwned", str(canary)) for s in CODE_STRINGS]
    files = []
    for base in seed_files():
        for shift in range(len(payloads)):
            header = base.header()
            for i, (container, key) in enumerate(string_slots(header)):
                container[key] = payloads[(i + shift) % len(payloads)]
            files.append(base.with_header(header))
    as_data = {p: [p, (p,), {"type": p, "module": "os", "name": "system"}] for p in payloads}
    buf = io.BytesIO()
    graphc.save(as_data, buf)
    files.append(buf.getvalue())

    imports = []  # of modules not imported yet (numpy looks up its own loaded ones)
    real_import, real_import_module = builtins.__import__, importlib.import_module

    def spy(real):
        def imported(name, *args, **kwargs):
            if name not in sys.modules:
                imports.append(name)
            return real(name, *args, **kwargs)
        return imported

    monkeypatch.setattr(builtins, "__import__", spy(real_import))
    monkeypatch.setattr(importlib, "import_module", spy(real_import_module))
    modules = set(sys.modules)
    loaded, rejected = [], 0
    for i, data in enumerate(files):
        path = tmp_path / f"payload-{i}.graphc"
        path.write_bytes(data)
        with AuditLog.get().watch(str(path)) as events:
            try:
                loaded.append(graphc.load(path))
            except SerializationError:
                rejected += 1
        assert events == [], (i, events)
    monkeypatch.undo()
    assert imports == [] and set(sys.modules) == modules and not canary.exists()
    assert rejected == len(files) - len(loaded) and rejected >= len(files) // 2
    assert loaded[-1] == as_data and all(type(k) is str for k in loaded[-1])


# ---------------------------------------------------------------- files of every kind

def test_paths_that_are_not_files_raise_what_pytorch_raises(tmp_path):
    torch = pytest.importorskip("torch")
    good = tmp_path / "good.graphc"
    graphc.save([1, graphc.ones(2)], good)
    for bad, error in [(tmp_path, IsADirectoryError), (tmp_path / "missing", FileNotFoundError),
                       (good / "inside", NotADirectoryError)]:
        for path in (bad, str(bad)):
            with pytest.raises(error) as ours:
                graphc.load(path)
            assert ours.value.filename == str(bad)
        with pytest.raises(error):
            torch.load(bad)


def test_empty_unreadable_and_open_files_name_the_path(tmp_path):
    empty = tmp_path / "empty.graphc"
    empty.write_bytes(b"")
    with pytest.raises(SerializationError, match=f"{empty}: the file is empty"):
        graphc.load(empty)
    locked = tmp_path / "locked.graphc"
    graphc.save({"x": 1}, locked)
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads it anyway
        assert graphc.load(locked) == {"x": 1}
    else:
        with pytest.raises(PermissionError) as e:
            graphc.load(locked)
        assert e.value.filename == str(locked)
    locked.chmod(0o600)
    cut = tmp_path / "cut.graphc"
    cut.write_bytes(locked.read_bytes()[:-5])
    with open(cut, "rb") as f, pytest.raises(SerializationError, match=f"{cut}: the file is"):
        graphc.load(f)
    with pytest.raises(SerializationError, match="<pipe>: the file is truncated"):
        graphc.load(Stream(cut.read_bytes(), "<pipe>"))


class FailingDisk(io.RawIOBase):
    def readable(self):
        return True

    def readinto(self, b):
        raise OSError(5, "Input/output error")


def test_a_read_error_is_the_devices_oserror():
    with pytest.raises(OSError, match="Input/output error"):
        graphc.load(FailingDisk())


def test_a_fifo_is_read_as_a_stream(tmp_path):
    """A named pipe cannot seek: it is read in chunks up to the size its preamble gives,
    whatever that claims; what it delivers is checked like a file's."""
    fifo = tmp_path / "pipe.graphc"
    os.mkfifo(fifo)
    good = io.BytesIO()
    graphc.save({"w": graphc.arange(4)}, good)
    huge = bytearray(good.getvalue()[:PREFIX.size])
    PREFIX.pack_into(huge, 0, huge[:8], 1, 0, 2**62, 2**62)
    for data, expect in [(good.getvalue(), None), (b"", "the file is empty"),
                         (b"garbage, not a checkpoint", "not a graphc.save file"),
                         (bytes(huge), "the file is truncated"),
                         (good.getvalue()[:-1] + b"!", "checksum")]:
        writer = threading.Thread(target=fifo.write_bytes, args=(data,), daemon=True)
        writer.start()
        if expect is None:
            assert graphc.load(fifo)["w"].tolist() == [0, 1, 2, 3]
        else:
            with pytest.raises(SerializationError, match=f"{fifo}: {expect}"):
                graphc.load(fifo)
        writer.join(10)
        assert not writer.is_alive()


def test_the_cli_reproduces_one_mutant(tmp_path, capsys):
    out = tmp_path / "m.graphc"
    assert fuzz_files.main(["--seed", str(SEED), "--only", "5", "--write", str(out)]) == 0
    assert out.read_bytes() == mutant(SEED, 5).data
    assert f"#5 {mutant(SEED, 5).kind}: " in capsys.readouterr().out
