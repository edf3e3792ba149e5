"""``graphc.nn.functional``: functional forms of activations, layers and losses.

All composite: written with graphc ops, so they run eagerly, trace, and
differentiate with no gradient code of their own. Convolution and pooling
live in ``_conv``, losses in ``_loss``; this module re-exports them.
"""
from __future__ import annotations

import math

from ..autograd import no_grad
from ..composite import (
    _label,
    clamp,
    erf,
    exp,
    expm1,
    index_select_as,
    log1p,
    log_softmax,
    logsumexp,
    one_hot,
    relu,
    rsqrt,
    sigmoid,
    softmax,
    tanh,
    where,
)
from ..creation import ones_like, zeros
from ..fused import fused
from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.errors import DTypeError, ShapeError, ValueArgumentError, reports_as
from ..ir.shapes import int_arg
from ..random import rand_like
from ..tensor import Tensor, _bind, _float_input, _t
from ._conv import *  # noqa: F403
from ._conv import __all__ as _conv_all
from ._errors import InvalidArgument
from ._loss import *  # noqa: F403
from ._loss import __all__ as _loss_all

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
           "softplus", "softsign", "hardtanh", "hardsigmoid", "hardswish", "logsigmoid",
           "sigmoid", "tanh", "softmax", "log_softmax", "softmin", "logsumexp", "one_hot",
           "normalize", "glu", "pad", "linear", "batch_norm", "layer_norm", "group_norm",
           "dropout", "embedding", *_conv_all, *_loss_all]


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(x, 0.0, 6.0)


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    x = _float_input(x, "leaky_relu", ints=True)
    return _label(where(x > 0, x, x * negative_slope), "LeakyReluBackward0")


def _elu(x: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0,
         op: str = "elu") -> Tensor:
    """PyTorch's ELU kernel: ``scale * x`` above 0, ``alpha * scale * expm1(x * input_scale)``
    below (expm1: exact for tiny x, where exp(x) - 1 gives 0)."""
    x = _float_input(x, op)
    neg = expm1(where(x > 0, 0.0, x) * input_scale if input_scale != 1 else
                where(x > 0, 0.0, x)) * (alpha * scale)
    return _label(where(x > 0, x * scale if scale != 1 else x, neg), "EluBackward0")


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _elu(x, alpha)


def selu(x: Tensor, inplace: bool = False) -> Tensor:
    return _elu(x, 1.6732632423543772, 1.0507009873554805, op="selu")


def celu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _elu(x, alpha, 1.0, 1.0 / alpha, op="celu")


@fused
def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU; 'tanh' is the tanh approximation, 'none' the exact erf form."""
    x = _float_input(x, "gelu")
    if approximate not in ("none", "tanh"):
        raise InvalidArgument(f"gelu(): approximate argument must be either none or tanh, got "
                              f"{approximate!r}")
    if approximate == "tanh":
        # c (x + 0.044715 x^3) as x (c + c 0.044715 x^2) and x/2 (1 + t) as x/2 + x/2 t: the
        # same value in fewer operations (compiled, two fused multiply-adds)
        c = math.sqrt(2.0 / math.pi)
        half = x * 0.5
        inner = x * (x * x * (c * 0.044715) + c)
        return _label(half + half * tanh(inner), "GeluBackward0")
    return _label(x * 0.5 * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0), "GeluBackward0")


@fused
def silu(x: Tensor, inplace: bool = False) -> Tensor:
    x = _float_input(x, "silu")
    return _label(x * sigmoid(x), "SiluBackward0")


def mish(x: Tensor, inplace: bool = False) -> Tensor:
    return _t(x) * tanh(softplus(x))


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    x = _float_input(x, "softplus")
    bx = x * beta
    safe = where(bx > threshold, 0.0, bx)
    soft = log1p(exp(safe)) / beta
    return _label(where(bx > threshold, x, soft), "SoftplusBackward0")


def softsign(x: Tensor) -> Tensor:
    x = _t(x)
    return x / (x.abs() + 1.0)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    x = _float_input(x, "hardtanh", ints=True)
    # PyTorch's hardtanh passes gradient only strictly inside (min_val, max_val)
    inside = (x > min_val) & (x < max_val)
    return _label(where(inside, x, clamp(x, min_val, max_val).detach()), "HardtanhBackward0")


def hardsigmoid(x: Tensor, inplace: bool = False) -> Tensor:
    """PyTorch's ``min(max(x + 3, 0), 6) / 6`` (NaN stays NaN), with its gradient 1/6 only
    strictly inside (-3, 3)."""
    x = _t(x)
    inside = (x > -3.0) & (x < 3.0)
    return where(inside, (x + 3.0) / 6.0, clamp(x + 3.0, 0.0, 6.0).detach() / 6.0)


def hardswish(x: Tensor, inplace: bool = False) -> Tensor:
    """PyTorch's ``x * min(max(x + 3, 0), 6) / 6``, in its order (-inf gives NaN, as there)."""
    x = _t(x)
    return _label(x * clamp(x + 3.0, 0.0, 6.0) / 6.0, "HardswishBackward0")


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|."""
    x = _float_input(x, "logsigmoid")
    neg_abs = where(x >= 0, -x, x)
    return where(x < 0, x, 0.0) - log1p(exp(neg_abs))


@reports_as("softmin")
def softmin(x: Tensor, dim: int, dtype=None) -> Tensor:
    return softmax(-_float_input(x, "softmin"), dim, dtype)


@reports_as("normalize")
def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    x = _float_input(x, "normalize")
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
    x = _t(x)
    if len(pad) % 2:
        raise ShapeError(f"pad(): Padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad(): Padding length should be less than or equal to two times the "
                         f"input dimension but got padding length {len(pad)} and input of "
                         f"dimension {x.ndim}")
    if mode not in ("constant", "replicate", "reflect", "circular"):
        raise InvalidArgument(f"pad(): Unrecognised padding mode {mode}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int_arg(pad[2 * i], "pad", "pad", "tuple of ints"),
                                  int_arg(pad[2 * i + 1], "pad", "pad", "tuple of ints"))
    for axis, (lo, hi) in enumerate(widths):
        if x.shape[axis] + lo + hi < 0:
            raise ShapeError(f"pad(): The input size {x.shape[axis]}, plus negative padding {lo} "
                             f"and {hi} resulted in a negative output size, which is invalid. "
                             f"Check dimension {axis} of your input.")
    if any(lo < 0 or hi < 0 for lo, hi in widths):  # crop first
        idx = tuple(slice(max(-lo, 0), d - max(-hi, 0)) for (lo, hi), d in zip(widths, x.shape))
        x = x[idx]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return _label(_bind(P.PAD, x._node, widths=tuple(widths),
                            value=0 if value is None else value), "ConstantPadNdBackward0")
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


# ---------------------------------------------------------------- layers

@reports_as("linear")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` with weight (out_features, in_features)."""
    x, w = _t(input), _t(weight)
    xs, ws = x._node.shape, w._node.shape
    if len(ws) not in (1, 2) or not xs or xs[-1] != ws[-1]:
        raise ShapeError(f"linear(): input of size {list(xs)} does not fit weight of size "
                         f"{list(ws)}: in_features {ws[-1] if ws else '?'} "
                         f"expected, got {xs[-1] if xs else 'a 0-d input'}")
    if len(ws) == 2 and len(xs) >= 2:
        # bound directly: the transposed weight never reaches the user, so it needs none of
        # t()'s and matmul()'s checks and view bookkeeping (eager pays for each)
        out = _bind(P.MATMUL, x._node, P.PERMUTE(w._node, perm=(1, 0)))
    else:
        out = x @ w.t()
    return out if bias is None else out + bias


def _channel_param(p, name: str, c: int, op: str, shape: tuple) -> Tensor | None:
    if p is None:
        return None
    p = _t(p)
    if p.numel() != c:
        raise ShapeError(f"{op}(): {name} should contain {c} elements not {p.numel()} (input "
                         f"of size {list(shape)})")
    return p.reshape([c if a == 1 else 1 for a in range(len(shape))])


@reports_as("batch_norm")
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) of (N, C, ...) input. In training, by the batch's mean
    and biased variance, and the running stats (when given) move towards the batch's mean
    and unbiased variance, in place, as PyTorch's; otherwise by the running stats."""
    x = _float_input(input, "batch_norm")
    if x.ndim < 2:
        raise ShapeError(f"batch_norm(): expected 2D or more input (N, C, ...), got input of "
                         f"size {list(x.shape)}")
    c = x.shape[1]
    rm = _channel_param(running_mean, "running_mean", c, "batch_norm", x.shape)
    rv = _channel_param(running_var, "running_var", c, "batch_norm", x.shape)
    w = _channel_param(weight, "weight", c, "batch_norm", x.shape)
    b = _channel_param(bias, "bias", c, "batch_norm", x.shape)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        n = x.numel() // c
        if n == 1:
            raise ValueArgumentError(f"Expected more than 1 value per channel when training, "
                                     f"got input size {list(x.shape)}")
        mean = x.mean(axes, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(axes, keepdim=True)
        with no_grad():
            if running_mean is not None:
                new_mean = mean.reshape(running_mean.shape)
                running_mean.copy_(running_mean * (1 - momentum) + new_mean * momentum)
            if running_var is not None:
                unbiased = var.reshape(running_var.shape) * (n / (n - 1))
                running_var.copy_(running_var * (1 - momentum) + unbiased * momentum)
    else:
        if rm is None or rv is None:
            raise InvalidArgument("batch_norm(): running_mean and running_var must be "
                                     "defined in evaluation mode")
        centered, var = x - rm, rv
    out = centered * rsqrt(var + eps)
    if w is not None:
        out = out * w
    return _label(out if b is None else out + b, "NativeBatchNormBackward0")


@reports_as("layer_norm")
@fused(grad_name="NativeLayerNorm")
def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` dims by their mean and biased
    variance."""
    x = _float_input(input, "layer_norm")
    shape = tuple(int_arg(s, "layer_norm", "normalized_shape", "tuple of ints") for s in (
        normalized_shape if isinstance(normalized_shape, (tuple, list)) else [normalized_shape]))
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ShapeError(f"layer_norm(): Given normalized_shape={list(shape)}, expected input "
                         f"with shape [*, {', '.join(map(str, shape))}], but got input of size "
                         f"{list(x.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(_t(p).shape) != shape:
            raise ShapeError(f"layer_norm(): {name} of size {list(_t(p).shape)} does not match "
                             f"normalized_shape={list(shape)}")
    axes = tuple(range(x.ndim - k, x.ndim))
    # written for a short backward (eager runs each gradient op): x + (-mean) negates the
    # small mean, not the whole gradient; ** 2 differentiates to one product, x * x to two
    centered = x + -x.mean(axes, keepdim=True)
    out = centered * rsqrt((centered ** 2).mean(axes, keepdim=True) + eps)
    if weight is not None:
        out = out * weight
    return _label(out if bias is None else out + bias, "NativeLayerNormBackward0")


@reports_as("group_norm")
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize (N, C, ...) input over each group of C / num_groups channels."""
    x = _float_input(input, "group_norm")
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ShapeError(f"group_norm(): Expected number of channels in input to be divisible "
                         f"by num_groups, but got input of shape {list(x.shape)} and "
                         f"num_groups={num_groups}")
    n, c = x.shape[:2]
    g = x.reshape(n, num_groups, -1)
    centered = g - g.mean(-1, keepdim=True)
    out = (centered * rsqrt((centered * centered).mean(-1, keepdim=True) + eps)).reshape(x.shape)
    w = _channel_param(weight, "weight", c, "group_norm", x.shape)
    b = _channel_param(bias, "bias", c, "group_norm", x.shape)
    if w is not None:
        out = out * w
    return _label(out if b is None else out + b, "NativeGroupNormBackward0")


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` (a draw from the default generator) and
    scale the rest by 1 / (1 - p); the identity when not training."""
    if p < 0.0 or p > 1.0:
        raise ValueArgumentError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _t(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        out = x * 0.0
    else:
        out = where(rand_like(x) >= p, x * (1.0 / (1.0 - p)), 0.0)
    return x.copy_(out) if inplace else _label(out, "NativeDropoutBackward0")


@reports_as("embedding")
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` at the indices ``input``. ``padding_idx``'s row gets no gradient;
    ``max_norm`` renormalizes the looked-up rows of ``weight`` in place, as PyTorch."""
    idx, w = _t(input), _t(weight)
    if idx.dtype.kind != dt.INT:
        raise DTypeError(f"embedding(): Expected tensor for argument #1 'indices' to have one "
                         f"of the following scalar types: Long, Int; but got {idx.dtype.name} "
                         f"(weight {list(w.shape)})")
    if w.ndim != 2:
        raise ShapeError(f"embedding(): 'weight' must be 2-D, got {list(w.shape)}")
    if sparse:
        raise NotImplementedError("embedding(sparse=True): graphc has no sparse gradients")
    rows = w.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= rows
    flat = idx.reshape(-1).long()
    if max_norm is not None:
        with no_grad():
            used = zeros(rows, dtype=w.dtype).scatter_add(0, flat, ones_like(flat, dtype=w.dtype))
            norms = (w.abs() ** norm_type).sum(1, keepdim=True) ** (1.0 / norm_type)
            scale = where((used.unsqueeze(1) > 0) & (norms > max_norm),
                          max_norm / (norms + 1e-7), 1.0)
            w.copy_(w * scale)
    out = index_select_as("embedding", w, 0, flat)
    keep_grad = None
    if scale_grad_by_freq:  # the gradient of each row divided by its count in the batch
        count = zeros(rows, dtype=w.dtype).scatter_add(0, flat, ones_like(flat, dtype=w.dtype))
        keep_grad = (1.0 / count.index_select(0, flat)).unsqueeze(1)
    if padding_idx is not None:
        pad = (flat != padding_idx).unsqueeze(1).type(w.dtype)
        keep_grad = pad if keep_grad is None else keep_grad * pad
    if keep_grad is not None:  # the same values, with the gradient scaled by keep_grad
        out = out * keep_grad + (out * (1.0 - keep_grad)).detach()
    return _label(out.reshape(idx.shape + (w.shape[1],)), "EmbeddingBackward0")


from ._attention import *  # noqa: E402, F403  (it uses this module's layers)
from ._attention import __all__ as _attention_all  # noqa: E402

__all__ += _attention_all
