"""A fake CUDA driver for tests: the cu* functions graphc's binding calls, on host memory.

Device pointers are addresses of ctypes buffers, so copies are memmoves and a test (or a
kernel written with numpy, in `kernels`) can read "device" memory directly. Every call is
counted; `failures` makes an entry point return a chosen CUresult. Install it with
``graphc.runtime.cuda._set_driver_for_tests(FakeDriver())``.
"""
from __future__ import annotations

import ctypes
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# CUresult: (name, the driver's description), for the codes the fake returns
ERRORS = {
    0: ("CUDA_SUCCESS", "no error"),
    1: ("CUDA_ERROR_INVALID_VALUE", "invalid argument"),
    2: ("CUDA_ERROR_OUT_OF_MEMORY", "out of memory"),
    100: ("CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"),
    101: ("CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"),
    201: ("CUDA_ERROR_INVALID_CONTEXT", "invalid device context"),
    218: ("CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"),
    400: ("CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"),
    500: ("CUDA_ERROR_NOT_FOUND", "named symbol not found"),
    700: ("CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"),
}
_ERROR_BYTES = {code: (n.encode(), s.encode()) for code, (n, s) in ERRORS.items()}
INVALID_VALUE, OUT_OF_MEMORY, INVALID_DEVICE, INVALID_CONTEXT = 1, 2, 101, 201
INVALID_PTX, INVALID_HANDLE, NOT_FOUND = 218, 400, 500

# how a kernel parameter declared in PTX is read back from kernelParams
PARAM_TYPES = {"u64": ctypes.c_uint64, "b64": ctypes.c_uint64, "s64": ctypes.c_int64,
               "u32": ctypes.c_uint32, "b32": ctypes.c_uint32, "s32": ctypes.c_int32,
               "f32": ctypes.c_float, "f64": ctypes.c_double}


def ptx_entries(ptx: str) -> dict[str, list[type]]:
    """Each ``.entry`` of a PTX text with the ctypes types of its parameters."""
    return {name: [PARAM_TYPES[t] for t in re.findall(r"\.param\s+\.(\w+)", params)]
            for name, params in re.findall(r"\.entry\s+(\w+)\s*\(([^)]*)\)", ptx)}


def out(ref) -> ctypes._SimpleCData:
    """The ctypes object behind ``byref(obj)``, as the binding passes output arguments."""
    return ref._obj


@dataclass
class Launch:
    name: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int
    stream: int | None
    args: list   # read back as the PTX declares the parameters


def _entry(needs_context: bool = True):
    """Count the call, apply an injected failure, insist on a current context, run it."""
    def wrap(body):
        def call(self, *args):
            self.calls[body.__name__] += 1
            if body.__name__ in self.failures:
                return self.failures[body.__name__]
            if needs_context and getattr(self._local, "context", None) is None:
                return INVALID_CONTEXT
            return body(self, *args) or 0
        call.__name__ = body.__name__
        return call
    return wrap


class FakeDriver:
    def __init__(self, devices: int = 1, capability: tuple[int, int] = (8, 0),
                 memory_bytes: int = 1 << 30, name: str = "graphc fake GPU") -> None:
        self.devices, self.capability, self.memory_bytes, self.name = (
            devices, capability, memory_bytes, name)
        self.calls: Counter[str] = Counter()
        self.failures: dict[str, int] = {}
        self.buffers: dict[int, ctypes.Array] = {}      # live allocations by address
        self.retained: Counter[int] = Counter()          # device -> primary context refs
        self.set_current_threads: list[int] = []
        self.modules: dict[int, dict[str, list[type]]] = {}
        self.functions: dict[int, tuple[str, list[type]]] = {}
        self.kernels: dict[str, Callable[[FakeDriver, Launch], None]] = {}
        self.launches: list[Launch] = []
        self.jit_error_log: str | None = None   # set: the next module load fails with it
        self.jit_options: dict[int, int] = {}
        self.sticky_error = 0                   # what cuCtxSynchronize reports
        self._local = threading.local()
        self._handles = iter(range(0x1000, 1 << 40, 0x10))

    # ------------------------------------------------------------ helpers for tests

    @property
    def used_bytes(self) -> int:
        return sum(len(b) for b in self.buffers.values())

    def host_view(self, ptr: int, count: int, dtype) -> np.ndarray:
        """`count` elements of "device" memory at `ptr`, writable."""
        nbytes = count * np.dtype(dtype).itemsize
        assert self._inside(ptr, nbytes), f"{ptr:#x}+{nbytes} is outside every allocation"
        return np.frombuffer((ctypes.c_char * nbytes).from_address(ptr), dtype, count)

    def _inside(self, ptr: int, nbytes: int) -> bool:
        return any(base <= ptr and ptr + nbytes <= base + len(buf)
                   for base, buf in self.buffers.items())

    def _valid(self, device: int) -> bool:
        return 0 <= device < self.devices

    # ------------------------------------------------------------ init, errors, devices

    @_entry(needs_context=False)
    def cuInit(self, flags):
        return INVALID_VALUE if flags else 0

    def cuGetErrorName(self, code, pstr):
        return self._error_text(code, pstr, 0)

    def cuGetErrorString(self, code, pstr):
        return self._error_text(code, pstr, 1)

    def _error_text(self, code, pstr, which: int) -> int:
        if code not in _ERROR_BYTES:
            return INVALID_VALUE   # as the real driver answers an unknown code
        out(pstr).value = _ERROR_BYTES[code][which]
        return 0

    @_entry(needs_context=False)
    def cuDeviceGetCount(self, count):
        out(count).value = self.devices

    @_entry(needs_context=False)
    def cuDeviceGet(self, device, ordinal):
        if not self._valid(ordinal):
            return INVALID_DEVICE
        out(device).value = ordinal

    @_entry(needs_context=False)
    def cuDeviceGetName(self, buffer, length, device):
        buffer.value = self.name.encode()[:length - 1]

    @_entry(needs_context=False)
    def cuDeviceGetAttribute(self, value, attribute, device):
        known = {75: self.capability[0], 76: self.capability[1]}
        if attribute not in known or not self._valid(device):
            return INVALID_VALUE
        out(value).value = known[attribute]

    @_entry(needs_context=False)
    def cuDeviceTotalMem_v2(self, nbytes, device):
        out(nbytes).value = self.memory_bytes

    # ------------------------------------------------------------ contexts

    @_entry(needs_context=False)
    def cuDevicePrimaryCtxRetain(self, context, device):
        if not self._valid(device):
            return INVALID_DEVICE
        self.retained[device] += 1
        out(context).value = 0xC0DE0 + device

    @_entry(needs_context=False)
    def cuDevicePrimaryCtxRelease_v2(self, device):
        self.retained[device] -= 1

    @_entry(needs_context=False)
    def cuCtxSetCurrent(self, context):
        self._local.context = context
        self.set_current_threads.append(threading.get_ident())

    @_entry()
    def cuCtxSynchronize(self):
        return self.sticky_error

    # ------------------------------------------------------------ memory

    @_entry()
    def cuMemGetInfo_v2(self, free, total):
        out(free).value = self.memory_bytes - self.used_bytes
        out(total).value = self.memory_bytes

    @_entry()
    def cuMemAlloc_v2(self, ptr, nbytes):
        if self.used_bytes + nbytes > self.memory_bytes:
            return OUT_OF_MEMORY
        buffer = (ctypes.c_char * nbytes)()
        self.buffers[ctypes.addressof(buffer)] = buffer
        out(ptr).value = ctypes.addressof(buffer)

    @_entry()
    def cuMemFree_v2(self, ptr):
        return INVALID_VALUE if self.buffers.pop(ptr, None) is None else 0

    @_entry()
    def cuMemcpyHtoD_v2(self, dst, src, nbytes):
        return self._copy(dst, src, nbytes, dst)

    @_entry()
    def cuMemcpyDtoH_v2(self, dst, src, nbytes):
        return self._copy(dst, src, nbytes, src)

    @_entry()
    def cuMemcpyDtoD_v2(self, dst, src, nbytes):
        return self._copy(dst, src, nbytes, dst, src)

    def _copy(self, dst: int, src: int, nbytes: int, *device_ptrs: int) -> int:
        if not all(self._inside(p, nbytes) for p in device_ptrs):
            return INVALID_VALUE
        ctypes.memmove(dst, src, nbytes)
        return 0

    # ------------------------------------------------------------ modules and launches

    @_entry()
    def cuModuleLoadDataEx(self, module, image, count, options, values):
        self.jit_options = {options[i]: values[i] for i in range(count)}
        if self.jit_error_log is not None:
            self._write_log(5, 6, self.jit_error_log)   # CU_JIT_ERROR_LOG_BUFFER(_SIZE_BYTES)
            return INVALID_PTX
        self._write_log(3, 4, "fake JIT: compiled")      # CU_JIT_INFO_LOG_BUFFER(_SIZE_BYTES)
        handle = next(self._handles)
        self.modules[handle] = ptx_entries(image.rstrip(b"\0").decode())
        out(module).value = handle

    def _write_log(self, buffer_option: int, size_option: int, text: str) -> None:
        data = text.encode()[:self.jit_options[size_option] - 1] + b"\0"
        ctypes.memmove(self.jit_options[buffer_option], data, len(data))

    @_entry()
    def cuModuleGetFunction(self, function, module, name):
        entries = self.modules.get(module)
        if entries is None:
            return INVALID_HANDLE
        if name.decode() not in entries:
            return NOT_FOUND
        handle = next(self._handles)
        self.functions[handle] = (name.decode(), entries[name.decode()])
        out(function).value = handle

    @_entry()
    def cuModuleUnload(self, module):
        return INVALID_HANDLE if self.modules.pop(module, None) is None else 0

    @_entry()
    def cuLaunchKernel(self, function, gx, gy, gz, bx, by, bz, shared_bytes, stream, params,
                       extra):
        if function not in self.functions:
            return INVALID_HANDLE
        name, types = self.functions[function]
        args = [ctypes.cast(params[i], ctypes.POINTER(t)).contents.value
                for i, t in enumerate(types)]
        launch = Launch(name, (gx, gy, gz), (bx, by, bz), shared_bytes, stream, args)
        self.launches.append(launch)
        if name in self.kernels:
            self.kernels[name](self, launch)
