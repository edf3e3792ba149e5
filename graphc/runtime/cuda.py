"""CUDA through the driver API (ctypes): what the PTX backend and device tensors call.

Nothing is loaded at import: the first call that needs a device opens libcuda, runs
cuInit and makes the device's primary context current on the calling thread. The
library, errors, devices and contexts live in cuda_driver; memory and arrays in
cuda_memory; this module adds PTX modules and launches, and re-exports the rest.
"""
from __future__ import annotations

import ctypes
from ctypes import byref, c_int, c_uint64, c_void_p
from typing import Any

from ..ir.errors import ArgumentError, ValueArgumentError
from . import cuda_driver as _driver_state
from .cuda_driver import (  # noqa: F401  (re-exported: the interface of graphc's CUDA runtime)
    ARCH_ENV,
    DEFAULT_ARCH,
    LIBRARY_ENV,
    CudaDriverError,
    CudaError,
    check,
    device_arch,
    device_capability,
    device_count,
    device_handle,
    device_name,
    ensure_context,
    is_available,
    load_driver,
    mem_get_info,
    release_contexts,
    target_arch,
    total_memory,
    unavailable_reason,
)
from .cuda_memory import (  # noqa: F401
    CachingAllocator,
    DeviceAllocation,
    DeviceArray,
    allocate,
    contiguous_strides,
    empty_cache,
    format_bytes,
    memory_allocated,
    memory_reserved,
    reset_allocator,
    round_size,
)

# ---------------------------------------------------------------- modules

# CUjit_option values (cuda.h)
CU_JIT_INFO_LOG_BUFFER = 3
CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4
CU_JIT_ERROR_LOG_BUFFER = 5
CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6
JIT_LOG_BYTES = 16384


class Function:
    """A kernel of a loaded module (which it keeps loaded)."""

    __slots__ = ("handle", "name", "module")

    def __init__(self, handle: int, name: str, module: Module) -> None:
        self.handle = handle
        self.name = name
        self.module = module

    @property
    def device(self) -> int:
        return self.module.device

    def __repr__(self) -> str:
        return f"Function({self.name!r}, device=cuda:{self.device})"


class Module:
    """A PTX module loaded on one device; ``info_log`` is what the JIT said about it.

    It stays loaded until `unload` (not on garbage collection: a launched kernel may still
    be running when its last Python reference goes).
    """

    def __init__(self, handle: int, device: int, info_log: str) -> None:
        self.handle = handle
        self.device = device
        self.info_log = info_log
        self._functions: dict[str, Function] = {}

    def function(self, name: str) -> Function:
        fn = self._functions.get(name)
        if fn is None:
            handle = c_void_p()
            ensure_context(self.device)
            check(load_driver().cuModuleGetFunction(byref(handle), self.handle, name.encode()),
                  "cuModuleGetFunction", f"looking up kernel {name!r} on cuda:{self.device}")
            fn = self._functions[name] = Function(handle.value, name, self)
        return fn

    def unload(self) -> None:
        """Wait for the device, then unload; the module's functions become unusable."""
        if self.handle:
            synchronize(self.device)
            check(load_driver().cuModuleUnload(self.handle), "cuModuleUnload",
                  f"unloading a module from cuda:{self.device}")
            self.handle = 0
            self._functions.clear()


def load_module(ptx: str, device: int = 0) -> Module:
    """JIT-compile PTX text for `device`; a failure raises CudaDriverError with the JIT log."""
    info = ctypes.create_string_buffer(JIT_LOG_BYTES)
    error = ctypes.create_string_buffer(JIT_LOG_BYTES)
    options = (c_int * 4)(CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                          CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
    # the size options are values, not pointers: the driver reads the number in the slot
    values = (c_void_p * 4)(ctypes.addressof(info), JIT_LOG_BYTES,
                            ctypes.addressof(error), JIT_LOG_BYTES)
    handle = c_void_p()
    ensure_context(device)
    result = load_driver().cuModuleLoadDataEx(byref(handle), ptx.encode() + b"\0", len(options),
                                       options, values)
    log = error.value.decode(errors="replace").strip()
    check(result, "cuModuleLoadDataEx", f"loading PTX on cuda:{device}",
          f"JIT error log:\n{log}" if log else "the JIT left no error log")
    return Module(handle.value, device, info.value.decode(errors="replace").strip())


# ---------------------------------------------------------------- launches


def _kernel_argument(arg: Any) -> ctypes._SimpleCData:
    if isinstance(arg, (DeviceArray, DeviceAllocation)):
        return c_uint64(arg.ptr)
    if isinstance(arg, (ctypes._SimpleCData, ctypes.Structure)):
        return arg
    # a Python number has no width; the kernel's parameter type decides it, so say it
    raise ArgumentError(f"launch: a kernel argument must be a DeviceArray, a DeviceAllocation "
                        f"or a ctypes value (c_int64, c_float, ...), not {type(arg).__name__}")


def _dims(dims: tuple[int, int, int], what: str) -> tuple[int, int, int]:
    if len(dims) != 3 or any(int(d) < 1 for d in dims):
        raise ValueArgumentError(f"launch: {what} must be three positive sizes, got {dims}")
    return tuple(int(d) for d in dims)


def launch(function: Function, grid: tuple[int, int, int], block: tuple[int, int, int],
           args: list, shared_bytes: int = 0, stream: int | None = None) -> None:
    """Launch `function` asynchronously; errors in the kernel surface at `synchronize`.

    Each argument is a DeviceArray or DeviceAllocation (passed as its pointer) or a ctypes
    value passed as it is. The caching allocator assumes the default stream: with another
    `stream`, keep the arrays alive until that stream is done.
    """
    holders = [_kernel_argument(a) for a in args]  # alive until cuLaunchKernel copied them
    params = (c_void_p * len(holders))(*(ctypes.addressof(h) for h in holders))
    ensure_context(function.device)
    check(load_driver().cuLaunchKernel(function.handle, *_dims(grid, "grid"),
                                       *_dims(block, "block"), shared_bytes, stream, params,
                                       None),
          "cuLaunchKernel", f"launching {function.name} (grid {tuple(grid)}, block "
          f"{tuple(block)}) on cuda:{function.device}")


def synchronize(device: int = 0) -> None:
    """Wait for all work on `device`; a failed kernel or copy raises here."""
    ensure_context(device)
    check(load_driver().cuCtxSynchronize(), "cuCtxSynchronize", f"waiting for cuda:{device}")


# ---------------------------------------------------------------- tests


def _set_driver_for_tests(driver: Any) -> None:
    """Swap in `driver` (an object with the cu* functions this package calls, e.g. a fake
    backed by host memory); None goes back to loading the real library on next use."""
    reset_allocator()
    _driver_state.set_driver(driver)
