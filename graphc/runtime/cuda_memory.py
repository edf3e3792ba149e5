"""Device memory: a caching allocator over cuMemAlloc, and typed strided arrays on it.

Driver allocations are slow (and synchronize the device), so freed blocks stay cached
by rounded size and are handed out again, as PyTorch's allocator does. All work runs on
the default stream, which orders a block's next use after its last kernel.
"""
from __future__ import annotations

import math
import threading
from collections import defaultdict
from ctypes import byref, c_uint64

import numpy as np

from ..ir.errors import ArgumentError, ValueArgumentError
from .cuda_driver import CUDA_ERROR_OUT_OF_MEMORY, check, ensure_context, load_driver

SMALL_LIMIT = 1 << 20   # requests up to 1 MiB round up to SMALL_STEP, larger to LARGE_STEP
SMALL_STEP = 512
LARGE_STEP = 2 << 20


def round_size(nbytes: int) -> int:
    """The block size that serves a request: coarse steps make freed blocks reusable."""
    step = SMALL_STEP if nbytes <= SMALL_LIMIT else LARGE_STEP
    return -(-nbytes // step) * step


def format_bytes(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{nbytes} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


# ---------------------------------------------------------------- allocations


class DeviceAllocation:
    """A block of device memory: ``ptr`` (an int), ``nbytes`` asked for, ``device`` index.

    When the object goes away its block returns to the allocator that made it (none for a
    borrowed pointer, or a size-0 allocation, whose ptr is 0).
    """

    __slots__ = ("ptr", "nbytes", "device", "block_bytes", "_owner", "__weakref__")

    def __init__(self, ptr: int, nbytes: int, device: int = 0, block_bytes: int = 0,
                 owner: CachingAllocator | None = None) -> None:
        self.ptr = ptr
        self.nbytes = nbytes
        self.device = device
        self.block_bytes = block_bytes
        self._owner = owner

    def __del__(self) -> None:
        if self._owner is not None:
            self._owner.release(self.device, self.block_bytes, self.ptr)

    def __repr__(self) -> str:
        return (f"DeviceAllocation(ptr={self.ptr:#x}, nbytes={self.nbytes}, "
                f"device=cuda:{self.device})")


class CachingAllocator:
    """Driver blocks cached by (device, rounded size); counters as torch.cuda reports them."""

    def __init__(self) -> None:
        # reentrant: a DeviceAllocation's __del__ may run (by GC) while this thread holds it
        self._lock = threading.RLock()
        self._free: dict[tuple[int, int], list[int]] = defaultdict(list)
        self._allocated: dict[int, int] = defaultdict(int)   # device -> bytes in live blocks
        self._cached: dict[int, int] = defaultdict(int)      # device -> bytes in free blocks

    def allocate(self, nbytes: int, device: int = 0) -> DeviceAllocation:
        if nbytes < 0:
            raise ValueArgumentError(f"cannot allocate a negative size ({nbytes} bytes)")
        if nbytes == 0:
            return DeviceAllocation(0, 0, device)
        block = round_size(nbytes)
        ptr = self._take(device, block)
        if ptr is None:
            ptr = self._driver_alloc(device, block)
        with self._lock:
            self._allocated[device] += block
        return DeviceAllocation(ptr, nbytes, device, block, self)

    def _take(self, device: int, block: int) -> int | None:
        with self._lock:
            free = self._free.get((device, block))
            if not free:
                return None
            self._cached[device] -= block
            return free.pop()

    def _driver_alloc(self, device: int, block: int) -> int:
        ensure_context(device)   # first: it says best why a device cannot be used
        driver = load_driver()
        ptr = c_uint64()
        result = driver.cuMemAlloc_v2(byref(ptr), block)
        if result == CUDA_ERROR_OUT_OF_MEMORY:
            # what the driver lacks may sit in our cache as blocks of other sizes
            self.empty_cache(device)
            result = driver.cuMemAlloc_v2(byref(ptr), block)
        check(result, "cuMemAlloc", f"allocating {format_bytes(block)} on cuda:{device}")
        return ptr.value

    def release(self, device: int, block: int, ptr: int) -> None:
        with self._lock:
            self._free[(device, block)].append(ptr)
            self._allocated[device] -= block
            self._cached[device] += block

    def empty_cache(self, device: int | None = None) -> None:
        """Give the cached blocks (of one device, or all) back to the driver."""
        with self._lock:
            keys = [key for key in self._free if device is None or key[0] == device]
            taken = [(key, self._free.pop(key)) for key in keys]
        for (dev, block), ptrs in taken:
            ensure_context(dev)
            for ptr in ptrs:
                check(load_driver().cuMemFree_v2(ptr), "cuMemFree", f"freeing cuda:{dev} memory")
                with self._lock:
                    self._cached[dev] -= block

    def memory_allocated(self, device: int = 0) -> int:
        return self._allocated[device]

    def memory_reserved(self, device: int = 0) -> int:
        return self._allocated[device] + self._cached[device]


_allocator = CachingAllocator()


def allocate(nbytes: int, device: int = 0) -> DeviceAllocation:
    """Device memory of at least `nbytes`, from the cache when a block of its size is free."""
    return _allocator.allocate(nbytes, device)


def empty_cache(device: int | None = None) -> None:
    _allocator.empty_cache(device)


def memory_allocated(device: int = 0) -> int:
    return _allocator.memory_allocated(device)


def memory_reserved(device: int = 0) -> int:
    return _allocator.memory_reserved(device)


def reset_allocator() -> None:
    """Start a fresh cache (when the driver is replaced): the old blocks belong to the old
    driver, so they are freed through it where possible, and never handed out again."""
    global _allocator
    old, _allocator = _allocator, CachingAllocator()
    try:
        old.empty_cache()
    except Exception:  # the old driver may be gone; its blocks went with it
        pass


# ---------------------------------------------------------------- host <-> device copies


def _upload(ptr: int, host: np.ndarray, device: int) -> None:
    ensure_context(device)
    check(load_driver().cuMemcpyHtoD_v2(ptr, host.ctypes.data, host.nbytes), "cuMemcpyHtoD",
          f"copying {format_bytes(host.nbytes)} to cuda:{device}")


def _download(host: np.ndarray, ptr: int, device: int) -> None:
    ensure_context(device)
    check(load_driver().cuMemcpyDtoH_v2(host.ctypes.data, ptr, host.nbytes), "cuMemcpyDtoH",
          f"copying {format_bytes(host.nbytes)} from cuda:{device}")


# ---------------------------------------------------------------- arrays


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _host_array(arr: np.ndarray) -> np.ndarray:
    """`arr` as C-contiguous native-endian memory that can be copied as it is."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biufc":
        raise ArgumentError(f"cannot copy an array of dtype {arr.dtype} to a CUDA device")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


class DeviceArray:
    """A typed, strided view of a DeviceAllocation; strides and offset count elements."""

    __slots__ = ("alloc", "shape", "dtype", "strides", "offset")

    def __init__(self, alloc: DeviceAllocation, shape: tuple[int, ...], dtype,
                 strides: tuple[int, ...] | None = None, offset: int = 0) -> None:
        self.alloc = alloc
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.strides = (contiguous_strides(self.shape) if strides is None
                        else tuple(int(s) for s in strides))
        self.offset = int(offset)
        self._check_bounds()

    @classmethod
    def empty(cls, shape: tuple[int, ...], dtype, device: int = 0) -> DeviceArray:
        shape = tuple(int(s) for s in shape)
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        return cls(allocate(nbytes, device), shape, dtype)

    @classmethod
    def from_numpy(cls, arr: np.ndarray, device: int = 0) -> DeviceArray:
        host = _host_array(arr)
        out = cls.empty(host.shape, host.dtype, device)
        if host.nbytes:
            _upload(out.ptr, host, device)
        return out

    # ------------------------------------------------------------ geometry

    @property
    def device(self) -> int:
        return self.alloc.device

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def ptr(self) -> int:
        """The byte address of element 0 (which need not be the lowest one addressed)."""
        return self.alloc.ptr + self.offset * self.itemsize

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def is_contiguous(self) -> bool:
        expected = 1
        for size, stride in zip(reversed(self.shape), reversed(self.strides)):
            if size != 1 and stride != expected:
                return self.size == 0
            expected *= size
        return True

    def _span(self) -> tuple[int, int]:
        """The lowest and highest element index that the view addresses (size > 0)."""
        low = high = self.offset
        for size, stride in zip(self.shape, self.strides):
            reach = (size - 1) * stride
            low, high = low + min(reach, 0), high + max(reach, 0)
        return low, high

    def _check_bounds(self) -> None:
        # a view past its allocation would read or write other arrays' memory on the device
        if len(self.strides) != len(self.shape) or any(s < 0 for s in self.shape):
            raise ValueArgumentError(f"bad device view: shape {self.shape}, strides "
                                     f"{self.strides}")
        if self.size == 0:
            return
        low, high = self._span()
        if low < 0 or (high + 1) * self.itemsize > self.alloc.nbytes:
            raise ValueArgumentError(
                f"device view shape {self.shape}, strides {self.strides}, offset {self.offset} "
                f"reaches elements {low}..{high} of an allocation of "
                f"{self.alloc.nbytes // self.itemsize} {self.dtype} elements")

    def view(self, shape: tuple[int, ...], strides: tuple[int, ...] | None = None,
             offset: int | None = None) -> DeviceArray:
        """Another view of the same allocation (which it keeps alive)."""
        return DeviceArray(self.alloc, shape, self.dtype, strides,
                           self.offset if offset is None else offset)

    # ------------------------------------------------------------ copies

    def to_numpy(self) -> np.ndarray:
        """A host copy with this view's shape; a strided view is copied as the span it
        covers and picked apart on the host."""
        if self.size == 0:
            return np.empty(self.shape, self.dtype)
        low, high = self._span()
        span = np.empty(high - low + 1, self.dtype)
        _download(span, self.alloc.ptr + low * self.itemsize, self.device)
        if self.is_contiguous:
            return span.reshape(self.shape)
        strides = tuple(s * self.itemsize for s in self.strides)
        return np.lib.stride_tricks.as_strided(span[self.offset - low:], self.shape,
                                               strides).copy()

    def copy_from(self, other: DeviceArray) -> None:
        """Copy `other`'s elements here, device to device (both contiguous, same size)."""
        if not (self.is_contiguous and other.is_contiguous):
            raise ValueArgumentError("copy_from needs contiguous device arrays")
        if self.size != other.size or self.dtype != other.dtype:
            raise ValueArgumentError(f"copy_from: cannot copy {other.size} {other.dtype} "
                                     f"elements into {self.size} {self.dtype} elements")
        if self.size == 0:
            return
        ensure_context(self.device)
        check(load_driver().cuMemcpyDtoD_v2(self.ptr, other.ptr, self.nbytes), "cuMemcpyDtoD",
              f"copying {format_bytes(self.nbytes)} from cuda:{other.device} to "
              f"cuda:{self.device}")

    def __repr__(self) -> str:
        return (f"DeviceArray(shape={self.shape}, dtype={self.dtype}, strides={self.strides}, "
                f"offset={self.offset}, device=cuda:{self.device})")
