"""Convolution and pooling as composites: windows of the input (im2col) and one matmul or
one reduction over the kernel positions.

The windows are taken in two ways with equal values, whichever is faster where it runs
(measured on a 3x3 conv of 32x16x28x28, forward and backward): eagerly as kh*kw strided
slices stacked (numpy views and one copy; the backward pads each slice back), about 2.4x
faster than a gather, whose eager backward is a scatter_add; traced as one ``gather`` of
precomputed flat positions (one native kernel each way), where the kh*kw slice kernels
and their pads compile about 4x slower and run about 2x longer.
"""
from __future__ import annotations

import numpy as np

from ..composite import _label, cat, gather
from ..creation import tensor
from ..ir import dtypes as dt
from ..ir import ops as P
from ..ir.core import _state
from ..ir.errors import ShapeError, reports_as
from ..ir.shapes import int_arg
from ..tensor import Tensor, _bind, _float_input, _t
from ._errors import InvalidArgument

__all__ = ["conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d"]


def _pair(v, name: str, op: str) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return _int(v[0], name, op), _int(v[0], name, op)
        if len(v) != 2:
            raise InvalidArgument(f"{op}(): {name} must be an int or a pair of ints, got {v}")
        return _int(v[0], name, op), _int(v[1], name, op)
    return _int(v, name, op), _int(v, name, op)


def _int(v, name: str, op: str) -> int:
    return int_arg(v, op, name, "int or tuple of ints")


def _batched(x: Tensor, op: str) -> tuple[Tensor, bool]:
    """``x`` as (N, C, H, W), and whether it came without the batch dim."""
    if x.ndim == 3:
        return x.unsqueeze(0), True
    if x.ndim != 4:
        raise ShapeError(f"{op}(): Expected 3D (unbatched) or 4D (batched) input to {op}, but "
                         f"got input of size: {list(x.shape)}")
    return x, False


def _out_len(size: int, k: int, s: int, d: int, lo: int, hi: int, ceil: bool = False) -> int:
    span = size + lo + hi - d * (k - 1) - 1
    n = (span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (n - 1) * s >= size + lo:  # the last window must start inside the input
        n -= 1
    return n


def _pad2d(x: Tensor, widths: tuple, value=0) -> Tensor:
    """Pad the last two dims by ((top, bottom), (left, right))."""
    if not any(lo or hi for lo, hi in widths):
        return x
    return _bind(P.PAD, x._node, widths=((0, 0),) * (x.ndim - 2) + tuple(widths), value=value)


def _positions(hw: tuple, kernel: tuple, stride: tuple, dilation: tuple,
               out: tuple) -> np.ndarray:
    """(KH*KW, Ho*Wo) flat positions in an (H, W) plane of each window's elements."""
    W, (KH, KW), (sh, sw), (dh, dw), (Ho, Wo) = hw[1], kernel, stride, dilation, out
    rows = np.arange(KH)[:, None, None, None] * dh + np.arange(Ho)[None, None, :, None] * sh
    cols = np.arange(KW)[None, :, None, None] * dw + np.arange(Wo)[None, None, None, :] * sw
    return (rows * W + cols).reshape(KH * KW, Ho * Wo)


def _windows(x: Tensor, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> Tensor:
    """(N, C, Hp, Wp) (already padded) -> (N, C, KH*KW, Ho, Wo): the input under each kernel
    position, positions in PyTorch's weight order (kh major)."""
    N, C, H, W = x.shape
    (KH, KW), (sh, sw), (dh, dw), (Ho, Wo) = kernel, stride, dilation, out
    K = KH * KW
    if _state.handler.traces and K > 1:
        pos = _positions((H, W), kernel, stride, dilation, out).reshape(1, 1, K * Ho * Wo)
        index = tensor(pos).expand(N, C, K * Ho * Wo)
        return gather(x.reshape(N, C, H * W), 2, index).reshape(N, C, K, Ho, Wo)
    parts = [x[:, :, i * dh: i * dh + sh * (Ho - 1) + 1: sh,
               j * dw: j * dw + sw * (Wo - 1) + 1: sw].unsqueeze(2)
             for i in range(KH) for j in range(KW)]
    return parts[0] if K == 1 else cat(parts, 2)  # K == 1: a view, in both modes


# ---------------------------------------------------------------- convolution

def _conv_padding(padding, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """((top, bottom), (left, right)) from an int, a pair, 'same' or 'valid'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise InvalidArgument(f"conv2d(): Invalid padding string {padding!r}, should be "
                                     "one of {'valid', 'same'}")
        if stride != (1, 1):
            raise InvalidArgument("conv2d(): padding='same' is not supported for strided "
                                     "convolutions")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    ph, pw = _pair(padding, "padding", "conv2d")
    if ph < 0 or pw < 0:
        raise InvalidArgument(f"conv2d(): negative padding is not supported, got {padding}")
    return (ph, ph), (pw, pw)


@reports_as("conv2d")
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of (N, C, H, W) or (C, H, W) input
    with (out_channels, C / groups, kH, kW) weight: im2col and one matmul."""
    x, w = _float_input(input, "conv2d", ints=True), _t(weight)
    x, unbatched = _batched(x, "conv2d")
    if w.ndim != 4:
        raise ShapeError(f"conv2d(): weight should be 4-D (out_channels, in_channels/groups, kH, "
                         f"kW), got weight of size {list(w.shape)} for input {list(x.shape)}")
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    if groups < 1 or O % groups:
        raise ShapeError(f"conv2d(): Given groups={groups}, expected weight to be divisible by "
                         f"{groups} at dimension 0, but got weight of size {list(w.shape)} "
                         f"instead (input {list(x.shape)})")
    if C != Cg * groups:
        raise ShapeError(f"conv2d(): Given groups={groups}, weight of size {list(w.shape)}, "
                         f"expected input{list(x.shape)} to have {Cg * groups} channels, but got "
                         f"{C} channels instead")
    if bias is not None and tuple(_t(bias).shape) != (O,):
        raise ShapeError(f"conv2d(): bias of size {list(_t(bias).shape)} does not match "
                         f"weight {list(w.shape)}: expected [{O}]")
    stride, dilation = _pair(stride, "stride", "conv2d"), _pair(dilation, "dilation", "conv2d")
    if min(stride) < 1 or min(dilation) < 1:
        raise InvalidArgument(f"conv2d(): stride {stride} and dilation {dilation} must be "
                                 "positive")
    (pt, pb), (pl, pr) = _conv_padding(padding, (KH, KW), stride, dilation)
    Ho = _out_len(H, KH, stride[0], dilation[0], pt, pb)
    Wo = _out_len(W, KW, stride[1], dilation[1], pl, pr)
    if Ho < 1 or Wo < 1:
        raise ShapeError(f"conv2d(): Calculated padded input size per channel: "
                         f"({H + pt + pb} x {W + pl + pr}). Kernel size: "
                         f"({dilation[0] * (KH - 1) + 1} x {dilation[1] * (KW - 1) + 1}). Kernel "
                         f"size can't be greater than actual input size (input "
                         f"{list(x.shape)}, weight {list(w.shape)})")
    x = _pad2d(x, ((pt, pb), (pl, pr)))
    cols = _windows(x, (KH, KW), stride, dilation, (Ho, Wo))
    cols = cols.reshape(N, groups, Cg * KH * KW, Ho * Wo)
    out = w.reshape(groups, O // groups, Cg * KH * KW) @ cols  # (N, groups, O / groups, L)
    out = out.reshape(N, O, Ho, Wo)
    if bias is not None:
        out = out + _t(bias).reshape(1, O, 1, 1)
    return _label(out.squeeze(0) if unbatched else out, "ConvolutionBackward0")


@reports_as("conv1d")
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) or (C, L) input: conv2d over a height of 1."""
    x, w = _float_input(input, "conv1d", ints=True), _t(weight)
    if x.ndim not in (2, 3) or w.ndim != 3:
        raise ShapeError(f"conv1d(): Expected 2D (unbatched) or 3D (batched) input to conv1d, "
                         f"but got input of size: {list(x.shape)} (and a weight of size "
                         f"{list(w.shape)}; a 3-D one expected)")
    one = _first(stride), _first(dilation)
    pad = padding if isinstance(padding, str) else (0, _first(padding))
    out = conv2d(x.unsqueeze(-2), w.unsqueeze(-2), bias, (1, one[0]), pad, (1, one[1]), groups)
    return out.squeeze(-2)


def _first(v) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


# ---------------------------------------------------------------- pooling

def _pool_geometry(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool,
                   op: str) -> tuple:
    """Kernel, stride, padding, dilation pairs and the output size; PyTorch's checks."""
    k = _pair(kernel_size, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        _pair(stride, "stride", op)
    p, d = _pair(padding, "padding", op), _pair(dilation, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise InvalidArgument(f"{op}(): kernel_size {k}, stride {s} and dilation {d} must be "
                                 "positive")
    for pi, ki, di in zip(p, k, d):
        if pi < 0 or pi > ((ki - 1) * di + 1) // 2:
            raise InvalidArgument(f"{op}(): pad should be at most half of effective kernel "
                                     f"size, but got pad={pi}, kernel_size={ki} and "
                                     f"dilation={di}")
    H, W = x.shape[-2:]
    out = (_out_len(H, k[0], s[0], d[0], p[0], p[0], ceil_mode),
           _out_len(W, k[1], s[1], d[1], p[1], p[1], ceil_mode))
    if min(out) < 1:
        raise ShapeError(f"{op}(): Given input size: ({x.shape[-3]}x{H}x{W}). Calculated output "
                         f"size: ({x.shape[-3]}x{out[0]}x{out[1]}). Output size is too small")
    return k, s, p, d, out


def _pool_widths(hw: tuple, k, s, p, d, out) -> tuple:
    """Padding of a pool's input: ``padding``, and on the bottom and right as far as
    ceil_mode's last windows reach."""
    return tuple((pi, max(pi, (o - 1) * si + di * (ki - 1) + 1 - n - pi))
                 for n, o, si, di, ki, pi in zip(hw, out, s, d, k, p))


@reports_as("max_pool2d")
def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over each window; the gradient goes to the first maximum, as PyTorch's.
    ``return_indices`` gives flat positions in each (H, W) plane (for max_unpool2d)."""
    x = _float_input(input, "max_pool2d", ints=True)
    x, unbatched = _batched(x, "max_pool2d")
    k, s, p, d, out = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode,
                                     "max_pool2d")
    low = float("-inf") if x.dtype.kind == dt.FLOAT else int(np.iinfo(x.dtype.np).min)
    widths = _pool_widths(x.shape[-2:], k, s, p, d, out)
    values, kpos = _windows(_pad2d(x, widths, low), k, s, d, out).max(2, keepdim=True)
    res = values.squeeze(2)
    if return_indices:  # the window position of each maximum as a position in its plane
        plane = np.pad(np.arange(x.shape[-2] * x.shape[-1]).reshape(x.shape[-2:]), widths)
        table = plane.reshape(-1)[_positions(plane.shape, k, s, d, out)].reshape((-1,) + out)
        table = tensor(table).expand(kpos.shape[:2] + table.shape)
        res = (res, gather(table, 2, kpos).squeeze(2))
    if unbatched:
        res = tuple(r.squeeze(0) for r in res) if return_indices else res.squeeze(0)
    _label(res[0] if return_indices else res, "MaxPool2DWithIndicesBackward0")
    return res


@reports_as("avg_pool2d")
def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over each window; the divisor follows PyTorch's (padding counts unless
    ``count_include_pad=False``; windows that ceil_mode adds past the padding do not)."""
    x = _float_input(input, "avg_pool2d", ints=True)
    x, unbatched = _batched(x, "avg_pool2d")
    k, s, p, d, out = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode,
                                     "avg_pool2d")
    widths = _pool_widths(x.shape[-2:], k, s, p, d, out)
    total = _windows(_pad2d(x, widths), k, s, d, out).sum(2)
    if divisor_override is not None:
        if divisor_override == 0:
            raise InvalidArgument("avg_pool2d(): divisor must be not zero")
        div = divisor_override
    else:
        div = np.outer(*(_avg_divisors(n, o, ki, si, pi, count_include_pad)
                         for n, o, ki, si, pi in zip(x.shape[-2:], out, k, s, p)))
        div = float(div.flat[0]) if (div == div.flat[0]).all() else tensor(div, dtype=x.dtype)
    res = total / div
    return _label(res.squeeze(0) if unbatched else res, "AvgPool2DBackward0")


def _avg_divisors(n: int, out: int, k: int, s: int, p: int, count_pad: bool) -> np.ndarray:
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if count_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


@reports_as("max_pool1d")
def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """max_pool2d over a height of 1 of (N, C, L) or (C, L) input."""
    st = None if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        (1, _first(stride))
    res = max_pool2d(_rows(input, "max_pool1d").unsqueeze(-2), (1, _first(kernel_size)), st,
                     (0, _first(padding)), (1, _first(dilation)), ceil_mode, return_indices)
    if return_indices:
        return res[0].squeeze(-2), res[1].squeeze(-2)
    return res.squeeze(-2)


@reports_as("avg_pool1d")
def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    st = None if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        (1, _first(stride))
    x = _rows(input, "avg_pool1d", ints=True)
    return avg_pool2d(x.unsqueeze(-2), (1, _first(kernel_size)), st, (0, _first(padding)),
                      ceil_mode, count_include_pad).squeeze(-2)


def _rows(x, op: str, ints: bool = False) -> Tensor:
    """The (N, C, L) or (C, L) input of a 1-D pooling."""
    x = _float_input(x, op, ints)
    if x.ndim not in (2, 3):
        raise ShapeError(f"{op}(): Expected 2D or 3D (batch mode) tensor for input, but got: "
                         f"{list(x.shape)}")
    return x


# ---------------------------------------------------------------- adaptive pooling

def _adaptive_matrix(n: int, out: int, dtype) -> Tensor:
    """(out, n) averaging matrix: row i averages PyTorch's window
    [floor(i * n / out), ceil((i + 1) * n / out))."""
    m = np.zeros((out, n))
    for i in range(out):
        a, b = (i * n) // out, -(-((i + 1) * n) // out)
        m[i, a:b] = 1.0 / (b - a)
    return tensor(m, dtype=dtype)


@reports_as("adaptive_avg_pool2d")
def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size: two small matmuls with averaging matrices."""
    x = _float_input(input, "adaptive_avg_pool2d")
    if x.ndim not in (3, 4):
        raise ShapeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                         f"{list(x.shape)}")
    if isinstance(output_size, (tuple, list)):
        oh, ow = (x.shape[-2] if output_size[0] is None else int(output_size[0]),
                  x.shape[-1] if output_size[1] is None else int(output_size[1]))
    else:
        oh = ow = int(output_size)
    if oh < 0 or ow < 0:
        raise InvalidArgument(f"adaptive_avg_pool2d(): elements of output_size must be greater "
                              f"than or equal to 0 but received {{{oh}, {ow}}}")
    H, W = x.shape[-2:]
    return _adaptive_matrix(H, oh, x.dtype) @ x @ _adaptive_matrix(W, ow, x.dtype).T


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    x = _t(input)
    n = _first(output_size)
    return x @ _adaptive_matrix(x.shape[-1], n, x.dtype).T
