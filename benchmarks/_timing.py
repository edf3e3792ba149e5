"""Timing shared by the benchmarks: best of several repeats, candidates in turns."""
from __future__ import annotations

import os
import sys
import timeit
from collections.abc import Callable

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "GRAPHC_NUM_THREADS")


def thread_env(n: int) -> dict[str, str]:
    """This process's environment with every library's thread count set to ``n``.
    Candidates are timed in turns: idle OpenMP/OpenBLAS workers must sleep, not spin on
    the cores the next candidate's threads need (a spinning torch worker halved graphc's
    two-thread W1 and numpy's BLAS); PASSIVE costs the big kernels timed here nothing."""
    return {**os.environ, **{v: str(n) for v in THREAD_VARS}, "OMP_WAIT_POLICY": "PASSIVE"}


def with_threads(n: int) -> None:
    """Restart this script with thread_env(n) unless it has it already: numpy's BLAS and
    torch read their thread counts when they load."""
    env = thread_env(n)
    if any(os.environ.get(k) != env[k] for k in (*THREAD_VARS, "OMP_WAIT_POLICY")):
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def set_threads(n: int) -> None:
    """with_threads(n), then graphc's and torch's (where installed) thread counts."""
    with_threads(n)
    import graphc
    graphc.set_num_threads(n)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(n)


def _calibrate(timer: timeit.Timer, target_s: float) -> int:
    """A loop count that makes one repeat last about target_s (at least one call)."""
    number = 1
    while True:
        t = timer.timeit(number)
        if t >= target_s / 4 or number >= 1 << 22:
            break
        number *= 4
    return max(1, int(number * target_s / max(t, 1e-9)))


def best_times(fns: dict[str, Callable | None], repeats: int,
               target_s: float) -> dict[str, float | None]:
    """Seconds per call of each function (None stays None): best of `repeats` repeats,
    the candidates timed in turns so a slow spell of the machine hits all alike."""
    timers = {k: timeit.Timer(f) for k, f in fns.items() if f is not None}
    numbers = {k: _calibrate(t, target_s) for k, t in timers.items()}
    best = {k: float("inf") for k in timers}
    for _ in range(repeats):
        for k, t in timers.items():
            best[k] = min(best[k], t.timeit(numbers[k]) / numbers[k])
    return {k: best.get(k) for k in fns}


def versions() -> str:
    """graphc's, numpy's and torch's versions, for a benchmark's header."""
    import numpy as np

    import graphc
    try:
        import torch
    except ImportError:
        torch = None
    line = f"graphc {graphc.__version__}, numpy {np.__version__}"
    return line + (f", torch {torch.__version__}" if torch is not None else
                   ", torch not installed (its columns say n/a)")
