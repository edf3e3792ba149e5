"""``graphc.nn.attention``: PyTorch's names for choosing an SDPA backend, so that programs
which pick one (``with sdpa_kernel(SDPBackend.FLASH_ATTENTION): ...``) port unchanged.

graphc has one implementation of ``scaled_dot_product_attention`` (a composite, see
``nn/_attention.py``, compiled like any other): every backend choice runs it.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from enum import IntEnum

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(IntEnum):
    """PyTorch's SDPA backends, with its values."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


@contextlib.contextmanager
def sdpa_kernel(backends: SDPBackend | Iterable[SDPBackend],
                set_priority: bool = False) -> Iterator[None]:
    """Run the block with the given SDPA backends: checked, then accepted (graphc's one
    implementation serves them all)."""
    chosen = [backends] if isinstance(backends, SDPBackend) else list(backends)
    for b in chosen:
        if not isinstance(b, SDPBackend):
            raise TypeError(f"sdpa_kernel(): expected SDPBackend values, got {b!r}")
    yield
