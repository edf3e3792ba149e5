"""Gradient clipping, PyTorch's ``torch.nn.utils.clip_grad``: the total norm of several
gradients (``get_total_norm``), scaling them to a maximum norm (``clip_grads_with_norm_``,
``clip_grad_norm_``) and clamping them elementwise (``clip_grad_value_``).

Everything is graphc ops without a Python branch on values, so clipping also runs inside a
compiled training step (``@graphc.compile`` over forward, ``backward()``, clipping and
``optimizer.step()``): the in-place scaling of ``.grad`` is functionalized like the
optimizer's updates. ``error_if_nonfinite=True`` is a checked op (``check_range``): eagerly
it raises at once; compiled, the call raises the same RuntimeError.
"""
from __future__ import annotations

import types
import warnings
from collections.abc import Iterable

import numpy as np

from ...autograd import no_grad
from ...composite import clamp, norm, stack
from ...creation import tensor
from ...ir import ops as P
from ...tensor import Tensor, _bind

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]

TensorOrTensors = Tensor | Iterable[Tensor]


def _as_list(tensors: TensorOrTensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters: list[Tensor]) -> list[Tensor]:
    return [p.grad for p in parameters if p.grad is not None]


def _nonfinite_message(norm_type: float) -> str:
    return (f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`")


def _check_finite(total: Tensor, norm_type: float) -> Tensor:
    """``total`` itself; NaN or infinite raises PyTorch's RuntimeError (a checked op, so a
    compiled step raises it too: norms are never negative, so [0, max] is "finite")."""
    high = float(np.finfo(total.dtype.np).max)
    return _bind(P.CHECK_RANGE, total._node, low=0.0, high=high,
                 what=_nonfinite_message(norm_type), verbatim=True)


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` as if they were one vector (the norm of
    their norms, as PyTorch computes it); ``'inf'`` is the largest absolute value."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    with no_grad():
        device = tensors[0].device
        norms = [norm(t, norm_type).to(device) for t in tensors]
        total = norm(stack(norms), norm_type)
        return _check_finite(total, norm_type) if error_if_nonfinite else total


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale each ``.grad`` in place by ``min(max_norm / (total_norm + 1e-6), 1)``, always
    (no Python ``if``: the same ops whatever the values, so it compiles)."""
    grads = _grads(_as_list(parameters))
    if not grads:
        return
    with no_grad():
        coef = clamp(float(max_norm) / (total_norm + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device))


def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Clip the gradients of ``parameters`` (those that have one) to a total norm of at most
    ``max_norm``, in place; returns the total norm before clipping (a 0-d tensor)."""
    if isinstance(parameters, types.GeneratorType):
        parameters = list(parameters)
        if not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will "
                          "occur.", stacklevel=2)
    parameters = _as_list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_` (PyTorch warns the same way)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every ``.grad`` elementwise into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(_as_list(parameters)):
            g.clamp_(min=-clip_value, max=clip_value)
