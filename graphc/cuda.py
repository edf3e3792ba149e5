"""``graphc.cuda``: the CUDA device API, named as ``torch.cuda``.

It delegates to graphc/runtime/cuda (the driver API through ctypes). Without a usable
device, what needs one raises CudaError saying why: the driver library is missing (and
which names were tried), cuInit failed (with the driver's error name), or no device.
"""
from __future__ import annotations

from .ir.errors import ValueArgumentError
from .runtime import cuda as _rt
from .runtime.cuda import CudaDriverError, CudaError  # noqa: F401  (graphc.cuda.CudaError)


def is_available() -> bool:
    """True when the CUDA driver loads and sees at least one device; never raises."""
    return _rt.is_available()


def device_count() -> int:
    return _rt.device_count()


def require(what: str) -> None:
    """Raise CudaError unless a CUDA device is usable; the message says what could not be
    done (e.g. "create a CUDA tensor") and why."""
    reason = _rt.unavailable_reason()
    if reason is not None:
        raise CudaError(f"cannot {what}: no usable CUDA device: {reason}")


def _index(device) -> int:
    """The device index of None (cuda:0), an int, "cuda[:i]" or a graphc.device."""
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    kind, _, index = str(device).partition(":")
    if kind != "cuda":
        raise ValueArgumentError(f"expected a CUDA device, got {device!r}")
    return int(index) if index else 0


def _usable(device, what: str) -> int:
    require(what)
    return _index(device)


def synchronize(device=None) -> None:
    """Wait for all kernels and copies on the device; errors of earlier launches raise here."""
    _rt.synchronize(_usable(device, "synchronize"))


def get_device_name(device=None) -> str:
    return _rt.device_name(_usable(device, "get the device name"))


def get_device_capability(device=None) -> tuple[int, int]:
    return _rt.device_capability(_usable(device, "get the device capability"))


def empty_cache() -> None:
    """Give the allocator's cached blocks back to the driver (nothing to do without CUDA)."""
    _rt.empty_cache()


def memory_allocated(device=None) -> int:
    """Bytes in live device arrays on the device (in allocator blocks, as torch counts)."""
    return _rt.memory_allocated(_index(device))


def memory_reserved(device=None) -> int:
    """Bytes the allocator holds from the driver: live blocks plus cached ones."""
    return _rt.memory_reserved(_index(device))
