"""``autograd.Variable``: PyTorch's legacy wrapper, which now makes a plain Tensor."""
from __future__ import annotations

import warnings

from ..ir.errors import ArgumentError
from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, obj) -> bool:  # every Tensor is a Variable, as in PyTorch
        return isinstance(obj, Tensor)

    def __subclasscheck__(cls, sub) -> bool:
        return issubclass(sub, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(t, requires_grad=False)``: ``t`` detached (same memory, no history) with
    ``requires_grad`` set; ``Variable()`` is an empty tensor."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = False,
                volatile: bool = False) -> Tensor:
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "graphc.no_grad():` instead.", UserWarning, stacklevel=2)
        if data is None:
            from ..creation import empty
            return empty(0, requires_grad=requires_grad)
        if not isinstance(data, Tensor):
            raise ArgumentError(f"Variable data has to be a tensor, but got "
                                f"{type(data).__name__}")
        out = data.detach()
        return out.requires_grad_(True) if requires_grad else out
