"""Compiled mode: ``@graphc.compile`` against numpy, PyTorch eager and torch.compile.

    python benchmarks/compiled.py [--quick] [--only W1,W3]

Times four workloads in float32 (a fused elementwise chain, a row softmax, matmul, the
per-call overhead), each candidate measured in the same run, at 1 and at 2 threads:
the script runs itself once per thread count in a subprocess whose thread variables
(OMP/OPENBLAS/MKL/GRAPHC_NUM_THREADS) are set before numpy, torch or graphc load. Each
result is checked against numpy once before it is timed. Nothing is asserted: the
ratios are what to watch; a markdown summary of them closes the output.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from _timing import best_times, thread_env, with_threads
from _timing import versions as _timing_versions  # benchmarks/ is on the path when run as a script

import graphc

try:
    import torch
except ImportError:
    torch = None

THREAD_COUNTS = (1, 2)
WORKLOADS = ("W1", "W2", "W3", "W8")
REPEATS, TARGET_S = 5, 0.1        # --quick: 3 repeats of 0.02 s, no torch.compile
CANDIDATES = ("graphc", "numpy", "torch", "torch.compile")


# ---------------------------------------------------------------- timing

def fmt_time(t: float | None) -> str:
    if t is None:
        return "n/a"
    return f"{t * 1e3:.2f} ms" if t >= 1e-3 else f"{t * 1e6:.2f} us"


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or den is None else num / den


def _reason(e: BaseException) -> str:
    line = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {line[:90]}"


# ---------------------------------------------------------------- one workload

@dataclass
class Result:
    """What one workload measured at one thread count; travels as JSON to the parent."""
    times: dict[str, float | None] = field(default_factory=dict)  # seconds per call
    first_call: dict[str, float] = field(default_factory=dict)    # seconds, compile included
    notes: dict[str, str] = field(default_factory=dict)           # why a candidate is n/a
    mismatches: list[str] = field(default_factory=list)


def check(res: Result, who: str, got, ref: np.ndarray, rtol: float, atol: float) -> None:
    """Compare once before timing: a benchmark of wrong numbers is worthless."""
    try:
        np.testing.assert_allclose(np.asarray(got, dtype=np.float32), ref, rtol=rtol, atol=atol)
    except AssertionError as e:
        detail = " ".join(line.strip() for line in str(e).splitlines()[3:6])
        res.mismatches.append(f"{who}: {detail}")
        print(f"  MISMATCH {who} vs numpy (rtol={rtol}, atol={atol}): {detail}")


def measure(res: Result, name: str, fns: dict[str, Callable], args: dict[str, tuple],
            refs: dict[str, np.ndarray], tol: tuple[float, float],
            opts: argparse.Namespace) -> None:
    """Compile, check and time one workload's candidates into ``res`` (keys ``name/...``).

    ``fns`` holds the plain functions: ``graphc`` is compiled with ``@graphc.compile``,
    ``torch`` also with ``torch.compile``; the rest run as they are. Each result is
    checked against ``refs[candidate]``, else ``refs["numpy"]``. A candidate that fails
    says why and stays n/a; nothing here raises.
    """
    calls: dict[str, Callable | None] = {}
    for who in (*CANDIDATES, *[k for k in fns if k not in CANDIDATES]):
        key, base = f"{name}/{who}", "torch" if who == "torch.compile" else who
        if base.startswith("torch") and torch is None:
            res.notes[key], calls[key] = "torch not installed", None
            continue
        if who == "torch.compile" and opts.quick:
            res.notes[key], calls[key] = "skipped (--quick)", None
            continue
        fn, a = fns[base], args["torch" if base.startswith("torch") else base]
        try:
            if who == "graphc":
                fn = graphc.compile(fn)
            elif who == "torch.compile":
                fn = torch.compile(fn, dynamic=False)
            start = timeit.default_timer()
            out = fn(*a)
            first = timeit.default_timer() - start
            if who in ("graphc", "torch.compile"):
                res.first_call[key] = first
            if out is not None:  # np.copyto returns None
                out = out if isinstance(out, np.ndarray) else out.numpy()
                check(res, key, out, refs.get(who, refs["numpy"]), *tol)
            fn(*a)  # warm-up beyond the first call
        except Exception as e:  # a crash of any candidate is a finding, not the end of the run
            res.notes[key] = _reason(e)
            print(f"  {key}: failed, {res.notes[key]}")
            calls[key] = None
            continue
        calls[key] = lambda fn=fn, a=a: fn(*a)
    res.times.update(best_times(calls, opts.repeats, opts.target_s))


def print_table(title: str, res: Result, name: str, throughput: Callable[[float], str]) -> None:
    keys = [k for k in res.times if k.startswith(name + "/")]
    g = res.times.get(f"{name}/graphc")
    print(f"\n{title}")
    head = f"{'candidate':<18}{'time':>12}{'throughput':>16}{'graphc speedup':>16}"
    print(head)
    print("-" * len(head))
    for k in keys:
        t, who = res.times[k], k.split("/", 1)[1]
        thr = "n/a" if t is None else throughput(t)
        sp = "—" if who == "graphc" else fmt_ratio(ratio(t, g))
        note = f"  ({res.notes[k]})" if res.times[k] is None and res.notes.get(k) else ""
        print(f"{who:<18}{fmt_time(t):>12}{thr:>16}{sp:>16}{note}")
    for k, s in res.first_call.items():
        if k.startswith(name + "/"):
            print(f"first call of {k.split('/', 1)[1]} (trace + compile + one run): "
                  f"{s * 1e3:.0f} ms")


# ---------------------------------------------------------------- the workloads

def gelu_chain(x, tanh):
    """gelu_tanh(x*1.3 + 0.2), the same ops in every framework (z*z*z, not z**3)."""
    z = x * 1.3 + 0.2
    return 0.5 * z * (1 + tanh(0.7978845608 * (z + 0.044715 * z * z * z)))


def w1(res: Result, opts: argparse.Namespace) -> None:
    n = 1 << 22
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    dst = np.empty_like(x)
    fns = {"graphc": lambda x: gelu_chain(x, graphc.tanh),
           "numpy": lambda x: gelu_chain(x, np.tanh),
           "torch": lambda x: gelu_chain(x, torch.tanh),
           "copy": lambda x: np.copyto(dst, x)}
    args = {"graphc": (graphc.from_numpy(x),), "numpy": (x,), "copy": (x,),
            "torch": (torch.from_numpy(x),) if torch else ()}
    measure(res, "W1", fns, args, {"numpy": gelu_chain(x, np.tanh)}, (1e-4, 1e-5), opts)
    gbs = lambda t: f"{8 * n / t / 1e9:.2f} GB/s"  # noqa: E731  read 4N + write 4N bytes
    print_table(f"W1 gelu_tanh(x*1.3+0.2), {n} float32 (copy: np.copyto, the bandwidth "
                "floor)", res, "W1", gbs)


def w2(res: Result, opts: argparse.Namespace) -> None:
    m, n = 4096, 1024
    x = np.random.default_rng(1).standard_normal((m, n)).astype(np.float32)

    def softmax_np(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    fns = {"graphc": lambda x: graphc.softmax(x, dim=-1), "numpy": softmax_np,
           "torch": lambda x: torch.softmax(x, -1)}
    args = {"graphc": (graphc.from_numpy(x),), "numpy": (x,),
            "torch": (torch.from_numpy(x),) if torch else ()}
    measure(res, "W2", fns, args, {"numpy": softmax_np(x)}, (1e-4, 1e-7), opts)
    gbs = lambda t: f"{8 * m * n / t / 1e9:.2f} GB/s"  # noqa: E731
    print_table(f"W2 softmax(x, dim=-1), x[{m}, {n}] float32", res, "W2", gbs)


def w3(res: Result, opts: argparse.Namespace) -> None:
    for n in (256, 1024):
        rng = np.random.default_rng(n)
        x = rng.standard_normal((n, n)).astype(np.float32)
        w = rng.standard_normal((n, n)).astype(np.float32)
        mm = lambda x, w: x @ w  # noqa: E731
        fns = {"graphc": mm, "numpy": mm, "torch": lambda x, w: x @ w}
        args = {"graphc": (graphc.from_numpy(x), graphc.from_numpy(w)), "numpy": (x, w),
                "torch": (torch.from_numpy(x), torch.from_numpy(w)) if torch else ()}
        ref = (x.astype(np.float64) @ w).astype(np.float32)
        name = f"W3-{n}"
        measure(res, name, fns, args, {"numpy": ref}, (1e-3, 1e-3 * np.sqrt(n)), opts)
        gflops = lambda t, n=n: f"{2 * n ** 3 / t / 1e9:.1f} GFLOP/s"  # noqa: E731
        print_table(f"W3 x @ w, {n}x{n} @ {n}x{n} float32", res, name, gflops)
        pct = ratio(res.times[f"{name}/numpy"], res.times[f"{name}/graphc"])
        target = " (target >= 50%)" if n == 1024 else ""
        print(f"graphc at {'n/a' if pct is None else f'{pct:.0%}'} of numpy's GFLOP/s{target}")


def w8(res: Result, opts: argparse.Namespace) -> None:
    x = np.random.default_rng(2).standard_normal(16).astype(np.float32)
    fns = {"graphc": lambda x: x * 2 + 1, "numpy": lambda x: x * 2 + 1,
           "torch": lambda x: x * 2 + 1, "torch x*2": lambda x: x * 2}
    tx = (torch.from_numpy(x),) if torch else ()
    args = {"graphc": (graphc.from_numpy(x),), "numpy": (x,), "torch": tx, "torch x*2": tx}
    measure(res, "W8", fns, args, {"numpy": x * 2 + 1, "torch x*2": x * 2}, (1e-6, 1e-6), opts)
    print_table("W8 call overhead: x * 2 + 1 on 16 float32 ('torch x*2': one eager op)",
                res, "W8", lambda t: f"{1 / t / 1e6:.2f} Mcall/s")
    print("graphc target: <= 5 us per call")


RUNNERS = {"W1": w1, "W2": w2, "W3": w3, "W8": w8}


# ---------------------------------------------------------------- summary

def _speedup(name: str, other: str) -> Callable[[Result], str]:
    return lambda r: fmt_ratio(ratio(r.times.get(f"{name}/{other}"),
                                     r.times.get(f"{name}/graphc")))


def _pct(name: str, other: str) -> Callable[[Result], str]:
    def f(r: Result) -> str:
        p = ratio(r.times.get(f"{name}/{other}"), r.times.get(f"{name}/graphc"))
        return "n/a" if p is None else f"{p:.0%}"
    return f


def _time(key: str) -> Callable[[Result], str]:
    return lambda r: fmt_time(r.times.get(key))


# (workload, row label, target, value from a thread count's Result); speedup = t_other/t_graphc
SUMMARY = [
    ("W1", "W1 gelu chain 2^22: graphc time", "", _time("W1/graphc")),
    ("W1", "W1 speedup vs numpy", ">= 3x", _speedup("W1", "numpy")),
    ("W1", "W1 speedup vs torch eager", "", _speedup("W1", "torch")),
    ("W1", "W1 speedup vs torch.compile", ">= 1.0x", _speedup("W1", "torch.compile")),
    ("W1", "W1 fraction of copy bandwidth", ">= 80%", _pct("W1", "copy")),
    ("W2", "W2 softmax 4096x1024: graphc time", "", _time("W2/graphc")),
    ("W2", "W2 speedup vs numpy", "", _speedup("W2", "numpy")),
    ("W2", "W2 speedup vs torch eager", "", _speedup("W2", "torch")),
    ("W2", "W2 speedup vs torch.compile", ">= 1.0x", _speedup("W2", "torch.compile")),
    ("W3", "W3 matmul 256^3: % of numpy GFLOP/s", "", _pct("W3-256", "numpy")),
    ("W3", "W3 matmul 256^3: speedup vs torch.compile", "", _speedup("W3-256", "torch.compile")),
    ("W3", "W3 matmul 1024^3: % of numpy GFLOP/s", ">= 50%", _pct("W3-1024", "numpy")),
    ("W3", "W3 matmul 1024^3: speedup vs torch.compile", "",
     _speedup("W3-1024", "torch.compile")),
    ("W8", "W8 call overhead: graphc per call", "<= 5 us", _time("W8/graphc")),
    ("W8", "W8 speedup vs numpy x*2+1", "", _speedup("W8", "numpy")),
    ("W8", "W8 speedup vs torch eager x*2+1", "", _speedup("W8", "torch")),
    ("W8", "W8 speedup vs torch.compile", "", _speedup("W8", "torch.compile")),
]


def print_summary(results: dict[int, Result | None], only: list[str]) -> None:
    counts = list(results)
    print("\nSummary (speedup = other's time / graphc's time; > 1x means graphc is faster)\n")
    print("| measurement | target | " + " | ".join(f"{n} thread{'s' * (n > 1)}"
                                                     for n in counts) + " |")
    print("|---|---|" + "---|" * len(counts))
    for w, label, target, value in SUMMARY:
        if w in only:
            cells = ["failed" if results[n] is None else value(results[n]) for n in counts]
            print(f"| {label} | {target or '—'} | " + " | ".join(cells) + " |")
    for n, r in results.items():
        for m in [] if r is None else r.mismatches:
            print(f"MISMATCH at {n} thread(s): {m}")


# ---------------------------------------------------------------- driver

def run_threads(opts: argparse.Namespace) -> Result:
    """This process's part: every workload at opts.threads threads."""
    n = opts.threads
    with_threads(n)
    how = f"OMP/OPENBLAS/MKL/GRAPHC_NUM_THREADS={n}"
    if torch is not None:
        torch.set_num_threads(n)
        how += ", torch.set_num_threads"
    if hasattr(graphc, "set_num_threads"):
        graphc.set_num_threads(n)
        how += ", graphc.set_num_threads"
    print(f"\n================ {n} thread{'s' * (n > 1)} ({how})")
    best_times({"warm-up": lambda: np.add(np.ones(16), 1.0)}, 1, opts.target_s)  # clocks up
    res = Result()
    for w in opts.only:
        try:
            RUNNERS[w](res, opts)
        except Exception as e:  # report and go on with the next workload
            print(f"\n{w} failed: {_reason(e)}")
    return res


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, no torch.compile")
    p.add_argument("--only", default=",".join(WORKLOADS),
                   help="comma-separated workloads: " + ",".join(WORKLOADS))
    p.add_argument("--threads", type=int, help="run one thread count in this process")
    p.add_argument("--json", help=argparse.SUPPRESS)  # where a child leaves its Result
    opts = p.parse_args()
    opts.only = [w.strip().upper() for w in opts.only.split(",") if w.strip()]
    bad = [w for w in opts.only if w not in RUNNERS]
    if bad:
        p.error(f"unknown workload(s) {', '.join(bad)}; choose from {', '.join(WORKLOADS)}")
    opts.repeats, opts.target_s = (3, 0.02) if opts.quick else (REPEATS, TARGET_S)
    return opts


def main() -> int:
    opts = parse_args()
    if opts.threads is not None:
        res = run_threads(opts)
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(asdict(res), f)
        else:
            print_summary({opts.threads: res}, opts.only)
        return 0

    start = timeit.default_timer()
    versions = _timing_versions()
    print(f"compiled mode — Python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs; {versions}")
    print(f"float32; best of {opts.repeats} repeats of about {opts.target_s * 1e3:.0f} ms each, "
          "candidates timed in turns; compile time excluded (warm-up calls first)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 0.5:
        print(f"note: load average {load:.1f} before starting; other processes share the CPUs, "
              "so the numbers (the 2-thread ones most) are noisier than on an idle machine")
    results: dict[int, Result | None] = {}
    for n in THREAD_COUNTS:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "result.json")
            argv = [sys.executable, os.path.abspath(__file__), "--threads", str(n),
                    "--json", path, "--only", ",".join(opts.only)]
            argv += ["--quick"] if opts.quick else []
            sys.stdout.flush()
            rc = subprocess.run(argv, env=thread_env(n)).returncode
            try:
                with open(path) as f:
                    results[n] = Result(**json.load(f))
            except (OSError, ValueError):
                print(f"\nthe {n}-thread run failed (exit status {rc}); its column says so")
                results[n] = None
    print_summary(results, opts.only)
    print(f"\ntotal {timeit.default_timer() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
