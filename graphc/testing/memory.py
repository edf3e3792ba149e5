"""Resident memory of this process, sampled while a step runs again and again, and the
growth per step fitted through the samples: what the memory soak (``benchmarks/soak.py``)
prints and ``tests/test_memory.py`` bounds. A straight line through many samples after a
warm-up tells a leak (bytes every step) from the steps in which the heap grows by a chunk
once and stays.

RSS sees every leak, native ones (LLVM) included, but a small one can hide for a while in
free memory the heap already holds; ``traced=True`` also samples what Python and numpy
have allocated and not freed (``tracemalloc``), which is exact but slower.
"""
from __future__ import annotations

import ctypes
import gc
import os
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def rss_bytes() -> int:
    """Resident memory now: /proc on Linux, else the peak so far (getrusage), which grows
    with a leak just the same. Freed heap memory glibc would keep is given back first."""
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).malloc_trim(0)  # heap kept for reuse (runtime/malloc.py) is no leak
        except (OSError, AttributeError):  # not glibc
            pass
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@dataclass
class Soak:
    """RSS samples (bytes) taken after ``warmup`` steps, every ``every`` steps, and as
    many of the bytes tracemalloc traces (or an empty list)."""

    steps: list[int]
    rss: list[int]
    traced: list[int]

    @property
    def first(self) -> int:
        return self.rss[0]

    @property
    def last(self) -> int:
        return self.rss[-1]

    @property
    def growth(self) -> float:
        """Growth from the first sample to the last, as a fraction of the first."""
        return (self.last - self.first) / self.first

    @property
    def bytes_per_step(self) -> float:
        """RSS: the slope of a least-squares line through the samples."""
        return _slope(self.steps, self.rss)

    @property
    def traced_bytes_per_step(self) -> float:
        """Python's and numpy's allocations: the slope of a line through the samples."""
        return _slope(self.steps, self.traced)


def _slope(x: list[int], y: list[int]) -> float:
    if len(y) < 2:
        return 0.0
    return float(np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)[0])


def soak(step: Callable[[], object], steps: int, warmup: int, samples: int = 20,
         traced: bool = False) -> Soak:
    """Run ``step`` ``warmup`` times, then ``steps`` times sampling RSS ``samples`` times
    (and with ``traced``, the bytes tracemalloc traces, from before the warm-up: what the
    steps keep alive is then traced from the first sample on)."""
    tracing = traced and not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    try:
        for _ in range(warmup):
            step()
        every = max(1, steps // samples)
        taken, rss, held = [], [], []
        for i in range(steps + 1):
            if i:
                step()
            if i % every == 0:
                taken.append(i)
                rss.append(rss_bytes())  # (collects garbage first)
                if traced:
                    held.append(tracemalloc.get_traced_memory()[0])
    finally:
        if tracing:
            tracemalloc.stop()
    return Soak(taken, rss, held)
