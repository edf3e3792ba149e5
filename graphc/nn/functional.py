"""``graphc.nn.functional``: functional forms of activations and friends.

All composite: written with graphc ops, so they run eagerly, trace, and
differentiate with no gradient code of their own. The training issue adds
the layers' functional forms (linear, conv2d, pooling, losses).
"""
from __future__ import annotations

import math

from ..composite import (
    _label,
    clamp,
    exp,
    log1p,
    log_softmax,
    logsumexp,
    one_hot,
    relu,
    sigmoid,
    softmax,
    tanh,
    where,
)
from ..tensor import Tensor, _t

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
           "softplus", "softsign", "hardtanh", "hardsigmoid", "hardswish", "logsigmoid",
           "sigmoid", "tanh", "softmax", "log_softmax", "softmin", "logsumexp", "one_hot",
           "normalize", "glu"]


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(x, 0.0, 6.0)


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    x = _t(x)
    return _label(where(x > 0, x, x * negative_slope), "LeakyReluBackward0")


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    x = _t(x)
    neg = (exp(where(x > 0, 0.0, x)) - 1.0) * alpha
    return _label(where(x > 0, x, neg), "EluBackward0")


def selu(x: Tensor, inplace: bool = False) -> Tensor:
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return elu(x, alpha) * scale


def celu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    x = _t(x)
    return where(x > 0, x, (exp(where(x > 0, 0.0, x) / alpha) - 1.0) * alpha)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU; 'tanh' is the tanh approximation, 'none' the exact erf form."""
    x = _t(x)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return _label(x * 0.5 * (tanh(inner) + 1.0), "GeluBackward0")
    return _label(x * 0.5 * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0), "GeluBackward0")


def erf(x: Tensor) -> Tensor:
    """erf by Abramowitz-Stegun 7.1.26 refined (max abs error about 1.2e-7)."""
    x = _t(x)
    s = x.sign()
    a = x.abs()
    t = 1.0 / (1.0 + 0.5 * a)
    # Numerical Recipes' erfc approximation (fractional error < 1.2e-7 everywhere)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    erfc = t * exp(-a * a + poly)
    return s * (1.0 - erfc)


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    x = _t(x)
    return _label(x * sigmoid(x), "SiluBackward0")


def mish(x: Tensor, inplace: bool = False) -> Tensor:
    return _t(x) * tanh(softplus(x))


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    x = _t(x)
    bx = x * beta
    safe = where(bx > threshold, 0.0, bx)
    soft = log1p(exp(safe)) / beta
    return _label(where(bx > threshold, x, soft), "SoftplusBackward0")


def softsign(x: Tensor) -> Tensor:
    x = _t(x)
    return x / (x.abs() + 1.0)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    x = _t(x)
    # PyTorch's hardtanh passes gradient only strictly inside (min_val, max_val)
    inside = (x > min_val) & (x < max_val)
    return _label(where(inside, x, clamp(x, min_val, max_val).detach()), "HardtanhBackward0")


def hardsigmoid(x: Tensor, inplace: bool = False) -> Tensor:
    x = _t(x)
    inside = (x > -3.0) & (x < 3.0)
    return where(inside, x / 6.0 + 0.5, where(x >= 3.0, 1.0, 0.0))


def hardswish(x: Tensor, inplace: bool = False) -> Tensor:
    x = _t(x)
    return where(x <= -3.0, 0.0, where(x >= 3.0, x, x * (x + 3.0) / 6.0))


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|."""
    x = _t(x)
    neg_abs = where(x >= 0, -x, x)
    return where(x < 0, x, 0.0) - log1p(exp(neg_abs))


def softmin(x: Tensor, dim: int, dtype=None) -> Tensor:
    return softmax(-_t(x), dim, dtype)


def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    x = _t(x)
    norm = (x.abs() ** p).sum(dim, keepdim=True) ** (1.0 / p)
    return x / clamp(norm, min=eps)


def glu(x: Tensor, dim: int = -1) -> Tensor:
    a, b = _t(x).chunk(2, dim)
    return a * sigmoid(b)


def tanhshrink(x: Tensor) -> Tensor:
    return _t(x) - tanh(x)


def pad(x: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad`` lists (left, right) from the last dim back.

    Negative widths crop, as in PyTorch. Modes: constant, replicate, reflect, circular.
    """
    from ..creation import arange
    from ..ir import ops as P
    from ..ir.errors import ShapeError, ValueArgumentError
    from ..tensor import _bind
    x = _t(x)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad(): padding length {len(pad)} must be even and at most twice the "
                         f"number of dims of {list(x.shape)}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if any(lo < 0 or hi < 0 for lo, hi in widths):  # crop first
        idx = tuple(slice(max(-lo, 0), d - max(-hi, 0)) for (lo, hi), d in zip(widths, x.shape))
        x = x[idx]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return _label(_bind(P.PAD, x._node, widths=tuple(widths),
                            value=0 if value is None else value), "ConstantPadNdBackward0")
    if mode not in ("replicate", "reflect", "circular"):
        raise ValueArgumentError(f"pad(): unsupported padding mode {mode!r}")
    for axis, (lo, hi) in enumerate(widths):
        if not lo and not hi:
            continue
        n = x.shape[axis]
        i = arange(-lo, n + hi)
        if mode == "replicate":
            i = i.clamp(0, n - 1)
        elif mode == "circular":
            i = i % n
        else:
            if lo >= n or hi >= n:
                raise ShapeError(f"pad(): reflect padding ({lo}, {hi}) must be smaller than the "
                                 f"dim size {n}")
            i = (n - 1) - ((n - 1) - i.abs()).abs()
        x = x.index_select(axis, i)
    return x
