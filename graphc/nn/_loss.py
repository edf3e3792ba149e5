"""Loss functions as composites, with PyTorch's signatures, reductions and edge cases.

Class-index targets are gathered from the log-probabilities after ``ignore_index`` entries
are replaced by class 0 (and masked out afterwards), so only real out-of-range classes
reach ``gather``'s bound check, which raises IndexError eagerly and in compiled code.
"""
from __future__ import annotations

import numpy as np

from ..composite import _label, clamp, exp, gather, gather_as, log, log1p, log_softmax, where
from ..fused import fused
from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.core import _state
from ..ir.errors import DTypeError, ShapeError, ValueArgumentError, reports_as
from ..tensor import Tensor, _bind, _float_input, _t
from ._errors import InvalidArgument

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]


def _reduction(size_average, reduce, reduction: str) -> str:
    """The reduction, from the legacy ``size_average``/``reduce`` pair when either is given."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        return "mean" if size_average and reduce else "sum" if reduce else "none"
    if reduction not in ("none", "mean", "sum"):
        raise ValueArgumentError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _pointwise(name: str, input, target, weight, reduction: str, elementwise,
               weighted_mean_by_weight: bool) -> Tensor:
    """Shared body of mse/l1/huber: broadcast, optional elementwise weight, reduce."""
    x, y = _float_input(input, name, ints=name == "l1_loss"), _t(target)
    loss = elementwise(x - y)
    if weight is None:
        return _reduce(loss, reduction)
    w = _t(weight)
    if w.shape != x.shape:
        raise ValueArgumentError(f"{name}(): Weights and input must have the same size, got "
                                 f"weight {list(w.shape)} and input {list(x.shape)}")
    loss = loss * w
    if reduction == "mean" and weighted_mean_by_weight:
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


@reports_as("mse_loss")
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    return _label(_pointwise("mse_loss", input, target, weight, reduction, lambda d: d * d,
                             True), "MseLossBackward0")


@reports_as("l1_loss")
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    return _pointwise("l1_loss", input, target, weight, reduction, lambda d: d.abs(), True)


@reports_as("smooth_l1_loss")
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 is the L1 loss)."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise InvalidArgument(f"smooth_l1_loss(): beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)

    def elementwise(d):
        a = d.abs()
        return where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _label(_pointwise("smooth_l1_loss", input, target, None, reduction, elementwise,
                             False), "SmoothL1LossBackward0")


@reports_as("huber_loss")
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise InvalidArgument(f"huber_loss(): delta must be positive, got {delta}")

    def elementwise(d):
        a = d.abs()
        return where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _label(_pointwise("huber_loss", input, target, weight, reduction, elementwise,
                             False), "HuberLossBackward0")


# ---------------------------------------------------------------- class-index losses

def _class_targets(x: Tensor, target: Tensor, op: str) -> None:
    """PyTorch's shape checks of (N, C, d1, ...) or (C,) input against class indices."""
    if target.dtype not in (dt.int64, dt.uint8):  # PyTorch: "Long or Byte"
        raise DTypeError(f"{op}(): expected a target of class indices of dtype int64 or uint8 "
                         f"(or class probabilities of input's shape {list(x.shape)}), got "
                         f"{target.dtype.name} {list(target.shape)}")
    if x.ndim < 1:
        raise ShapeError(f"{op}(): input must have at least 1 dimension, got {list(x.shape)}")
    want = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if x.ndim > 1 and target.ndim and target.shape[0] != x.shape[0]:
        raise ValueArgumentError(f"{op}(): Expected input batch_size ({x.shape[0]}) to match "
                                 f"target batch_size ({target.shape[0]}) (input "
                                 f"{list(x.shape)}, target {list(target.shape)})")
    if tuple(target.shape) != tuple(want):
        raise ShapeError(f"{op}(): expected target of size {list(want)} for input of size "
                         f"{list(x.shape)}, got {list(target.shape)}")


def _class_weight(weight, classes: int, op: str) -> Tensor | None:
    if weight is None:
        return None
    w = _t(weight)
    if tuple(w.shape) != (classes,):
        raise ShapeError(f"{op}(): weight tensor should be defined either for all {classes} "
                         f"classes or no classes but got weight tensor of shape: "
                         f"{list(w.shape)}")
    return w


def _nll(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
         reduction: str, op: str) -> Tensor:
    """-logp[target] * weight[target] with ignored targets masked before the gather."""
    dim = 1 if logp.ndim > 1 else 0
    v = target._node.value  # (a device array on a GPU: the general path)
    if weight is None and not _state.handler.traces and reduction != "none" and \
            isinstance(v, np.ndarray) and \
            not np.logical_or.reduce(v == ignore_index, None):  # (.any() costs a Python call)
        # eager, nothing ignored (the usual case): 4 ops instead of 12 (eager pays per op);
        # the index is bound directly, as no one else sees it (no view bookkeeping)
        shape = target._node.shape
        index = _bind(P.RESHAPE, target._node, shape=shape[:dim] + (1,) + shape[dim:])
        total = gather_as(op, logp, dim, index).sum()
        # -(total / n) is total / -n exactly (division rounds symmetrically): one op fewer
        loss = total / -index.numel() if reduction == "mean" else -total
        return _label(loss, "NllLossBackward0")
    keep = target != ignore_index
    safe = where(keep, target, 0)
    picked = gather_as(op, logp, dim, safe.unsqueeze(dim)).squeeze(dim)
    w = keep.type(logp.dtype)
    if weight is not None:
        w = w * gather(weight, 0, safe.reshape(-1)).reshape(safe.shape)
    loss = -picked * w
    if reduction == "mean":
        loss = loss.sum() / w.sum()  # 0 / 0 = nan when every target is ignored, as PyTorch
    elif reduction == "sum":
        loss = loss.sum()
    return _label(loss, "NllLossBackward0")


@reports_as("nll_loss")
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices; input (N, C, ...) or (C,) log-probabilities."""
    x, target = _t(input), _t(target)
    reduction = _reduction(size_average, reduce, reduction)
    _class_targets(x, target, "nll_loss")
    w = _class_weight(weight, x.shape[1] if x.ndim > 1 else x.shape[0], "nll_loss")
    return _nll(x, target, w, ignore_index, reduction, "nll_loss")


@reports_as("cross_entropy")
@fused(grad_name="NllLoss")
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over dim 1 (dim 0 for 1-D input) and the NLL of class indices, or the
    cross entropy against class probabilities when ``target`` is float of input's shape."""
    x, target = _t(input), _t(target)
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise InvalidArgument(f"cross_entropy(): label_smoothing must be between 0.0 and "
                                 f"1.0. Got: {label_smoothing}")
    dim = 1 if x.ndim > 1 else 0
    classes = x.shape[dim] if x.ndim else 0
    w = _class_weight(weight, classes, "cross_entropy")
    w_b = None if w is None else w.reshape([classes if a == dim else 1 for a in range(x.ndim)])
    logp = log_softmax(x, dim)
    if target.dtype.kind == dt.FLOAT:
        if target.shape != x.shape:
            raise ShapeError(f"cross_entropy(): class-probability target {list(target.shape)} "
                             f"must have input's shape {list(x.shape)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        terms = logp * target if w_b is None else logp * target * w_b
        if reduction == "none":
            return -terms.sum(dim)
        total = -terms.sum()
        return total / (x.numel() // classes) if reduction == "mean" else total
    _class_targets(x, target, "cross_entropy")
    loss = _nll(logp, target, w, ignore_index, reduction, "cross_entropy")
    if label_smoothing <= 0:
        return loss
    keep = target != ignore_index
    smooth = -(logp if w_b is None else logp * w_b).sum(dim)
    smooth = where(keep, smooth, 0.0)
    if reduction == "mean":
        if w is None:
            denom = keep.sum()
        else:
            denom = where(keep, gather(w, 0, where(keep, target, 0).reshape(-1))
                          .reshape(target.shape), 0.0).sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / classes)


# ---------------------------------------------------------------- binary losses

def _same_size(x: Tensor, y: Tensor, op: str) -> None:
    if x.shape != y.shape:
        raise ValueArgumentError(f"{op}(): Using a target size ({list(y.shape)}) that is "
                                 f"different to the input size ({list(x.shape)}) is deprecated. "
                                 "Please ensure they have the same size.")


@reports_as("binary_cross_entropy")
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch does."""
    x, y = _t(input), _t(target)
    reduction = _reduction(size_average, reduce, reduction)
    _same_size(x, y, "binary_cross_entropy")
    # checked eagerly and in compiled code (NaN is outside too, as in PyTorch)
    x = _bind(P.CHECK_RANGE, _float_input(x, "binary_cross_entropy")._node, low=0.0, high=1.0,
              what=f"binary_cross_entropy(): all elements of input should be between 0 and 1: "
                   f"input {list(x.shape)}")
    loss = -(y * clamp(log(x), min=-100.0) + (1 - y) * clamp(log(1 - x), min=-100.0))
    if weight is not None:
        loss = loss * weight
    return _label(_reduce(loss, reduction), "BinaryCrossEntropyBackward0")


@reports_as("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(input), stable for any logit: (1 - t) x + lw softplus(-x), with
    lw = 1 + (pos_weight - 1) t and softplus(-x) = max(-x, 0) + log1p(exp(-|x|))."""
    x, y = _t(input), _t(target)
    reduction = _reduction(size_average, reduce, reduction)
    _same_size(x, y, "binary_cross_entropy_with_logits")
    # -|x| and max(-x, 0) by where, not abs/relu: at x = 0 their derivatives (-1 and 0) add
    # up to softplus's -1/2, where abs's and relu's (0 and 0) would give 0
    neg_abs = where(x >= 0, -x, x)
    softplus_neg = where(x < 0, -x, 0.0) + log1p(exp(neg_abs))
    if pos_weight is None:
        loss = (1 - y) * x + softplus_neg
    else:
        loss = (1 - y) * x + ((_t(pos_weight) - 1) * y + 1) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _label(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")
