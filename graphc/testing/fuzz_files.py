"""A fuzzer for ``graphc.load``: thousands of hostile files (``hostile_files``), each of which
must load as data that round-trips, or raise a SerializationError naming the file, in
bounded time and memory and without importing or executing anything.

As a test: ``fuzz(seed, files, workdir)`` in this process. As a soak::

    python -m graphc.testing.fuzz_files --files 10000 --seed 7

runs the files in child processes under an address-space limit (RLIMIT_AS), restarting a
child that crashes or hangs and reporting the file it died on;
``--only I --write PATH`` writes mutant I of a seed out, to reproduce a report.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import importlib
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import types
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from .hostile_files import Mutant, declared_size, mutant

TIME_LIMIT = 5.0  # seconds per load: a loader that takes longer is hung
# Memory a load may take: its file's bytes (read once into one buffer) and the Python objects
# its JSON header becomes, at most this many times the header's size (a byte of "[[],[]...]"
# is a 56-byte list), and a constant. Far below what a size field taken on trust allocates.
FILE_COPIES = 2
HEADER_AMPLIFICATION = 48
MEMORY_SLACK = 1 << 20
RAISED_RECURSION_LIMIT = 100_000
RATIO_FROM = 1 << 16  # smaller files' peaks are mostly the loader's constant overhead


def memory_bound(data: bytes) -> int:
    size = declared_size(data)
    header = min(len(data), size) if size is not None else len(data)
    return FILE_COPIES * len(data) + HEADER_AMPLIFICATION * header + MEMORY_SLACK


@dataclass
class Outcome:
    """What loading one mutant did: ``valid`` (loaded and round-tripped), ``rejected`` (a
    SerializationError naming the file) or ``bug`` (anything else, described in ``detail``)."""

    index: int
    kind: str
    result: str
    seconds: float
    peak: int  # bytes traced at the peak of the load
    size: int
    detail: str = ""
    rss: int = 0  # a soak worker's peak resident memory so far, in bytes


class Hang(BaseException):
    """Raised into a load that overran its time (BaseException: no ``except Exception``
    in the loader swallows it)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupts the block after ``seconds`` (a timer signal: main thread only; elsewhere
    the soak's watchdog still catches a hang)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise Hang(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class AuditLog:
    """Audit events raised while watching (sys.addaudithook: import, exec, compile,
    os.system, subprocess.Popen, pickle.find_class, ctypes, ...), except the loader's own:
    opening the file it was given, walking the stack (sys._getframe, frame.f_code) to name
    the user's line in an error, and id() (a tensor's hash)."""

    _instance: AuditLog | None = None
    HARMLESS = {"sys._getframe", "builtins.id"}  # id(): Tensor.__hash__, for tensor dict keys

    def __init__(self) -> None:
        self.watching: str | None = None
        self.events: list[str] = []

    @classmethod
    def get(cls) -> AuditLog:
        if cls._instance is None:  # a hook cannot be removed: one per process
            cls._instance = cls()
            sys.addaudithook(cls._instance)
        return cls._instance

    def __call__(self, event: str, args: tuple) -> None:
        if self.watching is None or event in self.HARMLESS or (
                event == "object.__getattr__" and isinstance(args[0], types.FrameType)):
            return
        if event == "open" and args and str(args[0]) == self.watching:
            return
        self.events.append(f"{event}{_short_args(args)}")

    @contextlib.contextmanager
    def watch(self, path: str) -> Iterator[list[str]]:
        self.events = []
        self.watching = path
        try:
            yield self.events
        finally:
            self.watching = None


def _short_args(args: tuple) -> str:
    text = repr(args)
    return text if len(text) <= 80 else text[:77] + "..."


class Stream(io.RawIOBase):
    """A file read through a pipe: it cannot seek, so its size is unknown until it ends."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.pos, self.name = data, 0, name

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), len(self.data) - self.pos, 1 << 16)
        b[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


# ---------------------------------------------------------------- one file

Loader = Callable[[Any], Any]


def check(m: Mutant, path: Path, load: Loader | None = None, save: Callable | None = None,
          time_limit: float = TIME_LIMIT) -> Outcome:
    """Loads mutant ``m`` from ``path`` (and, every other file, from an open file or a pipe,
    which must agree) and judges what happened."""
    import graphc
    load, save = load or graphc.load, save or graphc.save
    path.write_bytes(m.data)
    name = str(path)
    first = _load_once(m, name, lambda: load(name), load, save, time_limit)
    if first.result == "bug":
        return first
    second_route = ("file object", lambda: _load_file_object(load, name)) if m.index % 2 \
        else ("pipe", lambda: load(Stream(m.data, name)))
    second = _load_once(m, name, second_route[1], load, save, time_limit)
    for worse in (second, first):
        worse.seconds = max(first.seconds, second.seconds)
        worse.peak = max(first.peak, second.peak)
    if second.result == "bug":
        second.detail = f"from a {second_route[0]}: {second.detail}"
        return second
    longer = declared_size(m.data) is not None and len(m.data) > declared_size(m.data)
    same = first.result == second.result and (first.result == "rejected"
                                              or first.detail == second.detail)
    if not same and not longer:  # a path must hold one object; a stream may hold more
        first.result = "bug"
        first.detail = (f"loading the path and a {second_route[0]} disagree: "
                        f"{first.detail[:100]!r} / {second.detail[:100]!r}")
    return first


def _load_file_object(load: Loader, name: str) -> Any:
    with open(name, "rb") as f:
        return load(f)


def _load_once(m: Mutant, name: str, run: Callable[[], Any], load: Loader, save: Callable,
               time_limit: float) -> Outcome:
    from graphc.serialization import SerializationError
    outcome = Outcome(m.index, m.kind, "bug", 0.0, 0, len(m.data))
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    obj, loaded = None, False
    try:
        with deadline(time_limit), AuditLog.get().watch(name) as events:
            obj = run()
            loaded = True
    except SerializationError as e:
        message = str(e)
        outcome.result, outcome.detail = "rejected", _reason(message, name)
        if name not in message:
            outcome.result, outcome.detail = "bug", f"the message does not name the file: {e}"
    except (Hang, Exception) as e:  # anything else is a bug: MemoryError, RecursionError...
        outcome.detail = f"{type(e).__name__}: {str(e)[:300]}{_where(e)}"
    outcome.seconds = time.perf_counter() - start
    outcome.peak = tracemalloc.get_traced_memory()[1] - before
    if events:
        outcome.result, outcome.detail = "bug", f"audit events during load: {events[:5]}"
    elif outcome.peak > memory_bound(m.data):  # numpy traces even an allocation that failed
        raised = f" ({outcome.detail})" if outcome.detail else ""
        outcome.result = "bug"
        outcome.detail = (f"the load took {outcome.peak} bytes for a file of {len(m.data)}: "
                          f"more than {memory_bound(m.data)}{raised}")
    elif loaded:
        outcome.result, outcome.detail = _round_trip(obj, load, save)
    return outcome


def _reason(message: str, name: str) -> str:
    """The message's first line without the file's name: compared across read routes."""
    return message.splitlines()[0].replace(name, "<file>")


def _where(e: BaseException) -> str:
    """The innermost line that raised ``e``, outside this file (a Hang is raised by the
    timer's handler here, into the line that overran)."""
    tb, where = e.__traceback__, ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != __file__:
            where = f" (at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"
        tb = tb.tb_next
    return where


def _round_trip(obj: Any, load: Loader, save: Callable) -> tuple[str, str]:
    """A mutant that loads is another valid file: its object holds only what a file can hold,
    and saving it and loading that again gives the same object (the same file, byte for
    byte, when saved once more)."""
    problem = _unsavable(obj)
    if problem:
        return "bug", f"loaded an object that no file holds: {problem}"
    try:
        once = _saved(save, obj)
        twice = _saved(save, load(io.BytesIO(once)))
    except Exception as e:
        return "bug", f"loaded, but does not round-trip: {type(e).__name__}: {e}"
    if once != twice:
        return "bug", "loaded, but saving, loading and saving again changes the file"
    return "valid", f"saved again as {len(once)} bytes, sha256 {hashlib.sha256(once).hexdigest()}"


def _saved(save: Callable, obj: Any) -> bytes:
    buf = io.BytesIO()
    save(obj, buf)
    return buf.getvalue()


def _unsavable(obj: Any, depth: int = 0) -> str:
    """What in ``obj`` is not a type or shape a file can hold ('' where all is)."""
    import graphc
    if depth > 300:
        return "nesting deeper than 300"
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return ""
    if isinstance(obj, graphc.Tensor):
        arr = obj.detach().numpy()
        if tuple(obj.shape) != arr.shape or arr.size != int(np.prod(arr.shape, dtype=object)):
            return f"a tensor of shape {tuple(obj.shape)} holding an array of {arr.shape}"
        return ""
    if isinstance(obj, (np.ndarray, np.generic)):
        return "" if np.asarray(obj).dtype.kind in "biufc" else f"an array of {obj.dtype}"
    if isinstance(obj, dict):
        items = [*obj, *obj.values()]
    elif isinstance(obj, (list, tuple)):
        items = list(obj)
    else:
        return f"an object of type {type(obj).__name__}"
    return next((p for p in (_unsavable(v, depth + 1) for v in items) if p), "")


# ---------------------------------------------------------------- many files

@dataclass
class Report:
    """Counts of a run: per kind and result, the slowest and largest loads, and every bug."""

    seed: int
    files: int = 0
    counts: dict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    reasons: collections.Counter = field(default_factory=collections.Counter)
    max_seconds: float = 0.0
    slowest: str = ""
    max_peak: int = 0
    largest: str = ""
    max_ratio: float = 0.0  # of a load's traced peak to its file's size (files of 64 KiB+)
    max_size: int = 0
    bugs: list = field(default_factory=list)
    worker_max_rss: int = 0  # bytes, the largest peak of a worker process (the soak only)

    def add(self, o: Outcome) -> None:
        self.files += 1
        self.counts[o.kind][o.result] += 1
        self.max_size = max(self.max_size, o.size)
        self.worker_max_rss = max(self.worker_max_rss, o.rss)
        if o.result == "rejected":
            self.reasons[_reason_class(o.detail)] += 1
        if o.seconds > self.max_seconds:
            self.max_seconds, self.slowest = o.seconds, f"#{o.index} {o.kind} ({o.size} bytes)"
        if o.peak > self.max_peak:
            self.max_peak, self.largest = o.peak, f"#{o.index} {o.kind} ({o.size} bytes)"
        if o.size >= RATIO_FROM:
            self.max_ratio = max(self.max_ratio, o.peak / o.size)
        if o.result == "bug":
            self.bugs.append(asdict(o))

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**out, "counts": {k: dict(c) for k, c in self.counts.items()},
                "reasons": dict(self.reasons)}

    def summary(self) -> str:
        lines = [f"seed {self.seed}: {self.files} files"]
        lines.append(f"{'kind':16}{'files':>7}{'valid':>7}{'rejected':>10}{'bugs':>6}")
        for kind in sorted(self.counts):
            c = self.counts[kind]
            lines.append(f"{kind:16}{sum(c.values()):7}{c['valid']:7}{c['rejected']:10}"
                         f"{c['bug']:6}")
        total = sum((self.counts[k] for k in self.counts), collections.Counter())
        lines.append(f"{'total':16}{self.files:7}{total['valid']:7}{total['rejected']:10}"
                     f"{total['bug']:6}")
        lines.append("rejected by: " + ", ".join(f"{r} {n}" for r, n in
                                                 self.reasons.most_common()))
        lines.append(f"slowest load {self.max_seconds * 1e3:.1f} ms: {self.slowest}")
        lines.append(f"largest load peak {self.max_peak / 2**20:.2f} MiB traced: "
                     f"{self.largest}; largest file {self.max_size / 2**20:.2f} MiB; "
                     f"largest peak / file size {self.max_ratio:.1f} (files over 64 KiB)")
        if self.worker_max_rss:
            lines.append(f"peak RSS of a worker process {self.worker_max_rss / 2**20:.0f} MiB")
        for bug in self.bugs[:20]:
            lines.append(f"BUG #{bug['index']} {bug['kind']}: {bug['detail']}\n  reproduce: "
                         f"python -m graphc.testing.fuzz_files --seed {self.seed} --only "
                         f"{bug['index']} --write mutant.graphc")
        return "\n".join(lines)


_REASONS = [("checksum", "checksum"), ("truncated", "size"), ("gives a size", "size"),
            ("magic", "magic"), ("version", "version"), ("reserved", "version"),
            ("JSON", "json"), ("empty", "size")]


def _reason_class(reason: str) -> str:
    """A coarse class of a rejection: did the file get past the checksum?"""
    return next((cls for word, cls in _REASONS if word in reason), "header check")


def fuzz(seed: int, files: int, workdir: Path, start: int = 0,
         time_limit: float = TIME_LIMIT, load: Loader | None = None,
         save: Callable | None = None,
         on_outcome: Callable[[Outcome], None] | None = None) -> Report:
    """Checks mutants ``start .. start + files - 1`` of ``seed`` in this process."""
    report = Report(seed)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        for index in range(start, start + files):
            m = mutant(seed, index)
            outcome = check(m, workdir / f"mutant-{seed}-{index}.graphc", load, save,
                            time_limit)
            (workdir / f"mutant-{seed}-{index}.graphc").unlink()
            report.add(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        if started:
            tracemalloc.stop()
    return report


# ---------------------------------------------------------------- the soak, in child processes

def soak(seed: int, files: int, workdir: Path, time_limit: float = TIME_LIMIT,
         memory_mb: int = 1024, loader: str = "graphc:load",
         progress: Callable[[Report], None] | None = None) -> Report:
    """Checks mutants ``0 .. files - 1`` of ``seed`` in child processes, each limited to
    ``memory_mb`` MiB of address space beyond what it holds after importing graphc, with a
    raised recursion limit (as some users set: a parser that recurses on the C stack crashes
    there). A child that dies (a crash) or stops answering (a hang in native code, past the
    timer signal) is a bug at the file it was loading; a new child goes on after it.
    ``loader`` ("module:function") is what loads a file."""
    report, index = Report(seed), 0
    while index < files:
        cmd = [sys.executable, "-m", "graphc.testing.fuzz_files", "--worker", "--seed",
               str(seed), "--start", str(index), "--files", str(files - index),
               "--time-limit", str(time_limit), "--memory-mb", str(memory_mb),
               "--workdir", str(workdir), "--loader", loader]
        index, failure = _run_worker(cmd, index, time_limit, report, progress)
        if failure is None and index < files:
            failure = "crash: the worker exited early"
        if failure is not None:
            m = mutant(seed, index)
            report.add(Outcome(index, m.kind, "bug", 0.0, 0, len(m.data), failure))
            index += 1
    return report


def _run_worker(cmd: list[str], index: int, time_limit: float, report: Report,
                progress: Callable[[Report], None] | None) -> tuple[int, str | None]:
    """Runs one worker until it finishes, dies or stops answering: (the index of the file
    after its last answer, what went wrong or None)."""
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_child_env())
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
    failure, wait = None, time_limit * 4 + 60  # the first answer waits for imports too
    while (line := _next_line(lines, wait)) is not None:
        if line == "":
            child.kill()
            failure = "hang: the worker stopped answering"
            break
        outcome = Outcome(**json.loads(line))
        report.add(outcome)
        index, wait = outcome.index + 1, time_limit * 4 + 2  # two loads and two saves
        if progress is not None and report.files % 1000 == 0:
            progress(report)
    child.wait()
    if failure is None and child.returncode != 0:
        failure = f"crash: the worker exited with status {child.returncode}"
    return index, failure


def _pump(stream: Any, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines: queue.Queue, wait: float) -> str | None:
    """The worker's next line, None at its end, '' where it said nothing for ``wait`` s."""
    try:
        return lines.get(timeout=wait)
    except queue.Empty:
        return ""


def _child_env() -> dict:
    root = str(Path(__file__).resolve().parents[2])  # the directory holding graphc/
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _limit_address_space(memory_mb: int) -> None:
    """RLIMIT_AS at what the process maps now plus ``memory_mb``: an allocation sized by an
    unchecked field fails (MemoryError, a bug) instead of swapping the machine."""
    import resource
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: no limit, the tracemalloc bound still holds
        return
    mapped = int(next(x for x in status.splitlines() if x.startswith("VmSize:")).split()[1])
    limit = mapped * 1024 + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _peak_rss() -> int:
    """This process's peak resident memory since it started: VmHWM (getrusage's ru_maxrss
    keeps the high-water mark of the process it was forked from, through exec)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    return int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1]) * 1024


def _worker(args: argparse.Namespace) -> None:
    module, _, name = args.loader.partition(":")
    load = getattr(importlib.import_module(module), name)  # before the limit: imports map much
    _limit_address_space(args.memory_mb)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RAISED_RECURSION_LIMIT))

    def emit(o: Outcome) -> None:
        o.rss = _peak_rss()
        print(json.dumps(asdict(o)), flush=True)

    fuzz(args.seed, args.files, Path(args.workdir), args.start, args.time_limit, load=load,
         on_outcome=emit)


def _print_progress(report: Report) -> None:
    print(f"... {report.files} files, {len(report.bugs)} bugs", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--in-process", action="store_true",
                        help="no child processes (no crash recovery, no RLIMIT_AS)")
    parser.add_argument("--only", type=int, default=None, help="check one mutant")
    parser.add_argument("--write", default=None, help="with --only: write the mutant here")
    parser.add_argument("--json", default=None, help="write the report here as JSON")
    parser.add_argument("--loader", default="graphc:load",
                        help="module:function that loads a file (default graphc:load)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    if args.only is not None:
        m = mutant(args.seed, args.only)
        print(f"#{m.index} {m.kind}: {m.note} ({len(m.data)} bytes)")
        if args.write:
            Path(args.write).write_bytes(m.data)
        args.start, args.files, args.in_process = args.only, 1, True
    with contextlib.ExitStack() as stack:
        import tempfile
        workdir = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
        began = time.perf_counter()
        if args.in_process:
            module, _, name = args.loader.partition(":")
            report = fuzz(args.seed, args.files, workdir, args.start, args.time_limit,
                          load=getattr(importlib.import_module(module), name))
        else:
            report = soak(args.seed, args.files, workdir, args.time_limit, args.memory_mb,
                          args.loader, progress=_print_progress)
    print(report.summary())
    print(f"{time.perf_counter() - began:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=1))
    return 1 if report.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
