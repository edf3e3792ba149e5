"""Soaks: long runs that print what memory does; nothing is asserted.

    python benchmarks/soak.py memory [--steps 10000] [--cnn-steps 1000] [--functions 500]
                                     [--quick]

``memory`` trains the W4 MLP of ``training.py`` (64->128->128->10, batch 64) eagerly and
with the whole step compiled, the demo's CNN (``graphc.demo.make_model``) on 8x8 images
both ways, and creates and drops compiled functions one after another. For each it prints
the resident memory after a warm-up and at the end, the growth in %, and the slope of a
line fitted through the samples in between (bytes per step): flat memory reads about 0%
and a slope near 0 (tests/test_memory.py bounds the same figures over shorter runs).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import weakref
from collections.abc import Callable

import llvmlite
import numpy as np
from _timing import with_threads  # benchmarks/ is on sys.path when run as a script
from training import mlp, training_step

import graphc
from graphc.demo import make_model
from graphc.testing.memory import Soak, soak

WARMUP = 50


def mlp_step(compiled: bool) -> Callable[[], object]:
    """W4: a training step of the MLP 64->128->128->10 at batch 64."""
    graphc.manual_seed(0)
    step = training_step(graphc, mlp(graphc, (64, 128, 128, 10)), 64, np.random.default_rng(0))
    return graphc.compile(step) if compiled else step


def cnn_step(compiled: bool) -> Callable[[], object]:
    """The demo's CNN (two conv + batch-norm + pool blocks) on 8x8 images, batch 32."""
    graphc.manual_seed(0)
    step = training_step(graphc, make_model("cnn"), 32, np.random.default_rng(0),
                         features=(1, 8, 8))
    return graphc.compile(step) if compiled else step


class FunctionChurn:
    """Each step compiles a new function, calls it and drops it; ``alive`` counts the
    LLVM execution engines (the native code) not yet freed. ``distinct``: every function
    is a program never seen before (else 16 programs in turn, whose object code the cache
    then has), so LLVM's optimizer runs every time."""

    def __init__(self, distinct: bool = False) -> None:
        self.x = graphc.tensor(np.linspace(-1, 1, 256, dtype=np.float32))
        self.engines: list[weakref.ref] = []
        self.n = 0
        self.distinct = distinct

    def __call__(self) -> float:
        self.n += 1
        k = self.n + time.time_ns() % 10**9 if self.distinct else self.n % 16
        f = graphc.compile(lambda x, k=float(k): ((x * k).tanh() + 1.0).sum())
        out = float(f(self.x))
        self.engines.append(weakref.ref(f.last.native.compiled.engine))
        return out

    @property
    def alive(self) -> int:
        return sum(r() is not None for r in self.engines)


def report(name: str, s: Soak, seconds: float) -> None:
    print(f"| {name} | {s.steps[-1]} | {s.first / 2**20:.1f} MiB | {s.last / 2**20:.1f} MiB | "
          f"{s.growth:+.2%} | {s.bytes_per_step:+.0f} | {seconds:.0f} s |", flush=True)


def memory(opts: argparse.Namespace) -> None:
    # (no torch here: importing it would add hundreds of MiB that hide the growth in %)
    print(f"memory soak — Python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs; graphc {graphc.__version__}, numpy {np.__version__}, "
          f"llvmlite {llvmlite.__version__}; GRAPHC_CACHE_DIR="
          f"{os.environ.get('GRAPHC_CACHE_DIR', '(default)')}")
    print(f"RSS after {WARMUP} warm-up steps and at the end (glibc's kept free heap trimmed "
          "first); the slope is a least-squares line through 20 samples\n")
    print("| workload | steps | RSS after warm-up | RSS at end | growth | bytes/step | time |")
    print("|---|---|---|---|---|---|---|")
    runs = [("W4 MLP eager", lambda: mlp_step(False), opts.steps),
            ("W4 MLP compiled step", lambda: mlp_step(True), opts.steps),
            ("demo CNN eager", lambda: cnn_step(False), opts.cnn_steps),
            ("demo CNN compiled step", lambda: cnn_step(True), opts.cnn_steps)]
    for name, make, steps in runs:
        t = time.perf_counter()
        report(name, soak(make(), steps, WARMUP), time.perf_counter() - t)
    churns = [("compiled functions created and dropped", FunctionChurn(), opts.functions),
              ("... each a new program (LLVM's optimizer runs)", FunctionChurn(distinct=True),
               opts.functions // 5)]
    for name, churn, steps in churns:
        t = time.perf_counter()
        report(name, soak(churn, steps, WARMUP), time.perf_counter() - t)
    for name, churn, _ in churns:
        print(f"\n{name}: LLVM execution engines still alive after {churn.n} were dropped: "
              f"{churn.alive}")
    print("(llvmlite's optimizer keeps about 80 KiB per run: see graphc/runtime/cache.py)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="soak", required=True)
    m = sub.add_parser("memory", help="resident memory over long training runs")
    m.add_argument("--steps", type=int, default=10_000, help="W4 MLP steps per mode")
    m.add_argument("--cnn-steps", type=int, default=1_000, help="demo CNN steps per mode")
    m.add_argument("--functions", type=int, default=500, help="compiled functions made")
    m.add_argument("--quick", action="store_true", help="a tenth of every count")
    opts = p.parse_args(argv)
    if opts.quick:
        opts.steps, opts.cnn_steps, opts.functions = (max(1, n // 10) for n in
                                                      (opts.steps, opts.cnn_steps,
                                                       opts.functions))
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    with_threads(1)  # one thread everywhere: a BLAS spinning against other load slows 20x
    graphc.set_num_threads(1)
    memory(opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
