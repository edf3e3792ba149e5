"""``graphc.nn.init``: PyTorch's parameter initializers.

Each fills its tensor in place under ``no_grad`` (so it works on parameters that require
grad) with numbers drawn from graphc's generators (the default one, or ``generator=``),
and returns the tensor.
"""
from __future__ import annotations

import math
import warnings

from ..autograd import no_grad
from ..composite import clamp, log, sqrt, where
from ..creation import arange
from ..ir.errors import ValueArgumentError
from ..random import Generator, rand
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_",
           "ones_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_"]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table): 1 for linear and
    sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu
    (slope ``param``, default 0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueArgumentError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueArgumentError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): in and out times the kernel's size."""
    if tensor.dim() < 2:
        raise ValueArgumentError("Fan in and fan out can not be computed for tensor with fewer "
                                 f"than 2 dimensions (got shape {list(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueArgumentError(f"Mode {mode} not supported, please use one of "
                                 "['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def _erfinv(y: Tensor) -> Tensor:
    """Inverse error function on (-1, 1): Giles' single-precision polynomials (relative
    error below 4e-7), enough for initial weights."""
    w = -log((1.0 - y) * (1.0 + y))
    central = w - 2.5
    p = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        p = c + p * central
    tail = sqrt(where(w < 5.0, 5.0, w)) - 3.0
    q = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        q = c + q * tail
    return where(w < 5.0, p, q) * y


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Generator | None = None) -> Tensor:
    """Normal(mean, std) truncated to [a, b], by the inverse CDF of a uniform draw between
    the CDF's values at a and b (PyTorch's method)."""
    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    with no_grad():
        u = rand(tensor.shape, generator=generator, dtype=tensor.dtype) * (2 * hi - 2 * lo) \
            + (2 * lo - 1)
        u = clamp(u, -1 + 1e-7, 1 - 1e-7)  # erfinv(+-1) is infinite
        return tensor.copy_(clamp(_erfinv(u) * (std * math.sqrt(2.0)) + mean, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix in a 2-D tensor (ones where row == column)."""
    if tensor.dim() != 2:
        raise ValueArgumentError(f"Only tensors with 2 dimensions are supported (got shape "
                                 f"{list(tensor.shape)})")
    r, c = tensor.shape
    with no_grad():
        eye = arange(r).reshape(r, 1) == arange(c).reshape(1, c)
        return tensor.copy_(eye)


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """A {3, 4, 5}-D convolution weight that passes each input channel (of each group)
    through at the kernel's centre."""
    if tensor.dim() not in (3, 4, 5):
        raise ValueArgumentError(f"Only tensors with 3, 4, or 5 dimensions are supported (got "
                                 f"shape {list(tensor.shape)})")
    out_per_group = tensor.shape[0] // groups
    if tensor.shape[0] % groups:
        raise ValueArgumentError("dim 0 must be divisible by groups")
    n = min(out_per_group, tensor.shape[1])
    out = arange(tensor.shape[0]).reshape((-1,) + (1,) * (tensor.dim() - 1))
    chan = arange(tensor.shape[1]).reshape((1, -1) + (1,) * (tensor.dim() - 2))
    hit = ((out % out_per_group) == chan) & (chan < n)
    for axis in range(2, tensor.dim()):
        size = tensor.shape[axis]
        pos = arange(size).reshape([size if a == axis else 1 for a in range(tensor.dim())])
        hit = hit & (pos == size // 2)
    with no_grad():
        return tensor.copy_(hit)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: Generator | None = None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: Generator | None = None) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015); ``a`` is leaky_relu's
    negative slope, ``mode`` picks fan_in (forward) or fan_out (backward)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)

