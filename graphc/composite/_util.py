"""Helpers shared by the composite modules."""
from __future__ import annotations

import builtins

from ..ir import dtypes as dt
from ..tensor import Tensor

_pymax, _pymin, _pysum = builtins.max, builtins.min, builtins.sum


def _label(t: Tensor, name: str) -> Tensor:
    """Name ``t``'s grad_fn after the composite that produced it (PyTorch's names)."""
    if t._node.requires_grad:
        t._node.label = name
    return t


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == dt.FLOAT else x.type(dt.get_default_dtype())
