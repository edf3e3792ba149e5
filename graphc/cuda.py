"""``graphc.cuda``: the CUDA device API.

The PTX code generator and the driver binding come with the CUDA issue;
until then no CUDA device is usable and asking for one is a clear error.
"""
from __future__ import annotations

from .ir.errors import GraphcError


class CudaError(GraphcError, RuntimeError):
    """A CUDA device was asked for where none can be used."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def synchronize() -> None:
    require("synchronize")


def require(what: str) -> None:
    raise CudaError(f"cannot {what}: graphc has no usable CUDA device in this process "
                    "(graphc.cuda.is_available() is False)")
