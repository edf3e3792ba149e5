"""``parameters_to_vector`` and ``vector_to_parameters``, PyTorch's: all parameters as one
flat vector and back (as second-order methods and parameter averaging use them)."""
from __future__ import annotations

from collections.abc import Iterable

from ...composite import cat
from ...ir.errors import ArgumentError
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _same_device(param: Tensor, first: Tensor | None) -> Tensor:
    """The first parameter seen; a parameter on another device raises TypeError, as
    PyTorch's ``_check_param_device``."""
    if first is not None and param.device != first.device:
        raise ArgumentError(f"Found two parameters on different devices ({first.device} and "
                            f"{param.device}), this is currently not supported.")
    return param if first is None else first


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated into one vector (a new tensor that keeps
    autograd history, as ``torch.cat`` of views)."""
    first = None
    flat = []
    for param in parameters:
        first = _same_device(param, first)
        flat.append(param.view(-1))
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into ``parameters``: each parameter's ``.data``
    becomes a view of ``vec``, so they share memory afterwards, as in PyTorch."""
    if not isinstance(vec, Tensor):
        raise ArgumentError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    first = None
    pointer = 0
    for param in parameters:
        first = _same_device(param, first)
        n = param.numel()
        param.data = vec[pointer:pointer + n].view_as(param).data
        pointer += n
