"""glibc's malloc told to keep freed memory, so that eager steps stop paying page faults.

Eager mode allocates and frees arrays of the same sizes at every training step. With
glibc's defaults an array over 128 KiB is a fresh ``mmap`` (or heap grown, then trimmed
back at the free), so every step faults its pages in again: about 600 faults, 2 ms of a
3.5 ms MLP step at batch 512 on a VM, where a fault is dear. Fixed thresholds keep such
arrays on the heap and the heap's freed top in the process (PyTorch's caching allocators
keep freed blocks likewise). The cost: up to ``trim_bytes()`` of freed memory stays mapped
(1 GiB, or an eighth of the machine's memory if that is less: a transformer step's peak
is hundreds of MiB, and with 64 MiB kept one minGPT-sized step paid ~72,000 faults).
``GRAPHC_MALLOC_TUNING=0``, or any ``MALLOC_*`` variable of glibc's own, leaves malloc alone.
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MMAP_BYTES = 32 << 20  # arrays below this come from the heap (glibc's own dynamic maximum)


def trim_bytes() -> int:
    """How much freed heap is kept before it goes back to the system."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 << 30
    return min(1 << 30, ram // 8)


def keep_freed_memory() -> bool:
    """Set the thresholds (glibc only); True if they were set."""
    if os.environ.get("GRAPHC_MALLOC_TUNING", "1") in ("", "0") or not sys.platform.startswith(
            "linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES) and mallopt(M_TRIM_THRESHOLD, trim_bytes()))
