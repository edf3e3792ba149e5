"""The CUDA driver library through ctypes: loading, errors, devices and primary contexts.

Nothing here runs at import: the library is opened, declared and ``cuInit``-ed on first
use, and the outcome (the library, or why it cannot be used) is cached. Every CUresult
other than success goes through `check`, which names the driver's error.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint, c_uint64, c_void_p
from typing import Any

from ..ir.errors import GraphcError

# ---------------------------------------------------------------- constants (cuda.h, CUDA 13)

CUDA_SUCCESS = 0
CUDA_ERROR_OUT_OF_MEMORY = 2
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76

DEFAULT_ARCH = "sm_80"
LIBRARY_ENV = "GRAPHC_CUDA_LIBRARY"
ARCH_ENV = "GRAPHC_CUDA_ARCH"
_LIBRARY_NAMES = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")

_P = POINTER
_U = c_uint
# Entry points and their C argument types (CUdevice is int, CUdeviceptr 64-bit, handles
# pointers). The _v2 names are those cuda.h's macros map the plain names to.
_PROTOTYPES: dict[str, tuple] = {
    "cuInit": (c_uint,),
    "cuGetErrorName": (c_int, _P(c_char_p)),
    "cuGetErrorString": (c_int, _P(c_char_p)),
    "cuDeviceGetCount": (_P(c_int),),
    "cuDeviceGet": (_P(c_int), c_int),
    "cuDeviceGetName": (c_char_p, c_int, c_int),
    "cuDeviceGetAttribute": (_P(c_int), c_int, c_int),
    "cuDeviceTotalMem_v2": (_P(c_size_t), c_int),
    "cuDevicePrimaryCtxRetain": (_P(c_void_p), c_int),
    "cuDevicePrimaryCtxRelease_v2": (c_int,),
    "cuCtxSetCurrent": (c_void_p,),
    "cuCtxSynchronize": (),
    "cuMemGetInfo_v2": (_P(c_size_t), _P(c_size_t)),
    "cuMemAlloc_v2": (_P(c_uint64), c_size_t),
    "cuMemFree_v2": (c_uint64,),
    "cuMemcpyHtoD_v2": (c_uint64, c_void_p, c_size_t),
    "cuMemcpyDtoH_v2": (c_void_p, c_uint64, c_size_t),
    "cuMemcpyDtoD_v2": (c_uint64, c_uint64, c_size_t),
    "cuModuleLoadDataEx": (_P(c_void_p), c_char_p, c_uint, _P(c_int), _P(c_void_p)),
    "cuModuleGetFunction": (_P(c_void_p), c_void_p, c_char_p),
    "cuModuleUnload": (c_void_p,),
    "cuLaunchKernel": (c_void_p, _U, _U, _U, _U, _U, _U, _U, c_void_p, _P(c_void_p),
                       _P(c_void_p)),
}

# ---------------------------------------------------------------- errors


class CudaError(GraphcError, RuntimeError):
    """No CUDA device can be used for what was asked, or a CUDA operation failed."""


class CudaDriverError(CudaError):
    """A driver call failed: ``.code`` is its CUresult, ``.name`` the enum's name."""

    def __init__(self, message: str, code: int, name: str) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


def check(result: int, what: str, during: str = "", detail: str = "") -> None:
    """Raise CudaDriverError unless a driver call (named `what`) succeeded."""
    if result != CUDA_SUCCESS:
        name, message = _failure(_driver, result, what, during)
        raise CudaDriverError(message + (f"\n{detail}" if detail else ""), result, name)


def _failure(driver: Any, code: int, what: str, during: str = "") -> tuple[str, str]:
    """The error's name and the message saying which call failed with it, and doing what."""
    name, text = _error_text(driver, code)
    return name, f"{what} failed: {name} ({text})" + (f" while {during}" if during else "")


def _error_text(driver: Any, code: int) -> tuple[str, str]:
    name, text = c_char_p(), c_char_p()
    # a code this driver does not know makes the lookups fail: then the number is all we have
    if driver is None or driver.cuGetErrorName(code, byref(name)) or not name.value:
        return f"CUDA error {code}", "not known to this driver"
    if driver.cuGetErrorString(code, byref(text)) or not text.value:
        return name.value.decode(), "no description"
    return name.value.decode(), text.value.decode()


# ---------------------------------------------------------------- loading

_lock = threading.RLock()
_driver: Any = None            # the initialized library, or a test's fake driver
_unusable: str | None = None   # why loading failed; kept so that is_available() stays cheap
_generation = 0                # bumped when the driver is replaced or contexts released


def load_driver() -> Any:
    """The initialized driver library; raises CudaError saying why it cannot be had."""
    if _driver is None:
        with _lock:
            if _driver is None and _unusable is None:
                _install(*_open())
    if _driver is None:
        raise CudaError(_unusable)
    return _driver


def _open() -> tuple[Any, str | None]:
    """The library, declared and initialized, or None and why not."""
    override = os.environ.get(LIBRARY_ENV)
    errors = []
    for name in (override,) if override else _LIBRARY_NAMES:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        return None, (f"the CUDA driver library could not be loaded ({'; '.join(errors)}); "
                      f"set {LIBRARY_ENV} to its path if it is installed elsewhere")
    missing = _declare(lib)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return None, (f"{lib._name} lacks {', '.join(missing[:3])}{more}: not a CUDA driver, "
                      f"or one too old")
    return _initialized(lib)


def _declare(lib: ctypes.CDLL) -> list[str]:
    """Give each entry point its C signature; return the names the library lacks."""
    missing = []
    for name, argtypes in _PROTOTYPES.items():
        fn = getattr(lib, name, None)
        if fn is None:
            missing.append(name)
            continue
        fn.argtypes = argtypes
        fn.restype = c_int
    return missing


def _initialized(driver: Any) -> tuple[Any, str | None]:
    result = driver.cuInit(0)
    if result != CUDA_SUCCESS:
        return None, _failure(driver, result, "cuInit")[1]
    return driver, None


def _install(driver: Any, unusable: str | None) -> None:
    """Make `driver` the one every call uses, forgetting the devices and contexts of the last."""
    global _driver, _unusable, _generation, _probed
    with _lock:
        _driver, _unusable, _probed = driver, unusable, None
        _generation += 1
        _handles.clear()
        _contexts.clear()


def set_driver(driver: Any) -> None:
    """Use `driver` (an object with the cu* functions, e.g. a test's fake) from now on; None
    forgets the driver, so that the next use loads the library again.

    The contexts retained so far stay retained: modules and memory that other code cached
    under the old driver must still be valid if it comes back (a primary context is one
    per device, so retaining it again gives the same context).
    """
    _install(*(_initialized(driver) if driver is not None else (None, None)))


# ---------------------------------------------------------------- devices


_probed: tuple[int, str | None] | None = None   # _probe's answer for the installed driver


def _probe() -> tuple[int, str | None]:
    """(number of devices, why none can be used or None); asked of the driver once, since
    the devices a process sees do not change while it runs."""
    global _probed
    if _probed is None:
        _probed = _ask_devices()
    return _probed


def _ask_devices() -> tuple[int, str | None]:
    try:
        driver = load_driver()
    except CudaError:
        return 0, _unusable
    count = c_int()
    result = driver.cuDeviceGetCount(byref(count))
    if result != CUDA_SUCCESS:
        return 0, _failure(driver, result, "cuDeviceGetCount")[1]
    if count.value == 0:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        hint = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        return 0, f"the CUDA driver sees no device{hint}"
    return count.value, None


def device_count() -> int:
    """How many CUDA devices this process can use; 0 when none or no driver."""
    try:
        return _probe()[0]
    except Exception:  # a broken driver must read as "no device", never as a crash
        return 0


def is_available() -> bool:
    return device_count() > 0


def unavailable_reason() -> str | None:
    """Why no CUDA device can be used here, or None when one can."""
    return _probe()[1]


_handles: dict[int, int] = {}   # device index -> CUdevice


def device_handle(index: int) -> int:
    """The CUdevice of ``cuda:index``; raises CudaError when it does not exist."""
    handle = _handles.get(index)
    if handle is None:
        count, reason = _probe()
        if reason is not None:
            raise CudaError(f"cuda:{index} cannot be used: {reason}")
        if not 0 <= index < count:
            raise CudaError(f"cuda:{index} does not exist: this process sees {count} "
                            f"CUDA device(s)")
        out = c_int()
        check(_driver.cuDeviceGet(byref(out), index), "cuDeviceGet", f"looking up cuda:{index}")
        handle = _handles[index] = out.value
    return handle


def _attribute(index: int, attribute: int) -> int:
    out = c_int()
    check(_driver_for(index).cuDeviceGetAttribute(byref(out), attribute, device_handle(index)),
          "cuDeviceGetAttribute", f"querying cuda:{index}")
    return out.value


def _driver_for(index: int) -> Any:
    device_handle(index)  # raises first when the device cannot be used
    return _driver


def device_capability(index: int = 0) -> tuple[int, int]:
    return (_attribute(index, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
            _attribute(index, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR))


def device_arch(index: int = 0) -> str:
    """The device's PTX target, e.g. ``"sm_90"``."""
    major, minor = device_capability(index)
    return f"sm_{major}{minor}"


def target_arch() -> str:
    """The arch to generate code for: $GRAPHC_CUDA_ARCH, else cuda:0's, else sm_80."""
    arch = os.environ.get(ARCH_ENV, "").strip()
    if arch:
        return arch
    return device_arch(0) if is_available() else DEFAULT_ARCH


def device_name(index: int = 0) -> str:
    name = ctypes.create_string_buffer(256)
    check(_driver_for(index).cuDeviceGetName(name, len(name), device_handle(index)),
          "cuDeviceGetName", f"querying cuda:{index}")
    return name.value.decode(errors="replace")


def total_memory(index: int = 0) -> int:
    out = c_size_t()
    check(_driver_for(index).cuDeviceTotalMem_v2(byref(out), device_handle(index)),
          "cuDeviceTotalMem", f"querying cuda:{index}")
    return out.value


def mem_get_info(index: int = 0) -> tuple[int, int]:
    """(free, total) bytes of the device, as the driver sees them."""
    free, total = c_size_t(), c_size_t()
    ensure_context(index)
    check(_driver.cuMemGetInfo_v2(byref(free), byref(total)), "cuMemGetInfo",
          f"querying cuda:{index}")
    return free.value, total.value


# ---------------------------------------------------------------- primary contexts

_contexts: dict[int, int] = {}   # device index -> its retained primary context
_local = threading.local()        # .current: (generation, device) made current on this thread


def ensure_context(index: int) -> None:
    """Make ``cuda:index``'s primary context current on this thread.

    The driver's current context is per thread; remembering ours per thread saves a
    cuCtxSetCurrent on every call. Primary contexts are the ones the CUDA runtime (and so
    PyTorch) uses too, so memory and modules are shared with them.
    """
    key = (_generation, index)
    if getattr(_local, "current", None) == key:
        return
    context = _contexts.get(index) or _retain(index)
    check(_driver.cuCtxSetCurrent(context), "cuCtxSetCurrent", f"activating cuda:{index}")
    _local.current = key


def _retain(index: int) -> int:
    with _lock:
        if index not in _contexts:
            handle = device_handle(index)
            context = c_void_p()
            check(_driver.cuDevicePrimaryCtxRetain(byref(context), handle),
                  "cuDevicePrimaryCtxRetain", f"creating the context of cuda:{index}")
            _contexts[index] = context.value
        return _contexts[index]


def release_contexts() -> None:
    """Release the primary contexts this process retained. Their memory and modules go with
    them once no one else (PyTorch, say) holds them; the next use retains them afresh."""
    global _generation
    with _lock:
        _generation += 1   # what each thread made current is stale now
        for index in list(_contexts):
            _contexts.pop(index)
            check(_driver.cuDevicePrimaryCtxRelease_v2(device_handle(index)),
                  "cuDevicePrimaryCtxRelease", f"releasing the context of cuda:{index}")
