"""Eager ops on CUDA tensors: each op one small GPU program (``runtime.gpu``) compiled once
per signature (op, attributes, operand shapes and dtypes, literal operands) and cached.

Movement ops (reshape, permute, expand, slice) make views of the same device memory, as
numpy does on the host, so in-place writes reach every view. Mixing devices in one op is
an error, as in PyTorch, except 0-d CPU tensors, which are copied over like numbers.
"""
from __future__ import annotations

import threading

import numpy as np

from ..codegen.kernel import View, view_of
from ..ir.core import Node, Op, _state, make_leaf
from ..ir.errors import GraphcError
from ..ir.graph import Graph
from ..ir.passes import optimize
from ..ir.shapes import numel
from .gpu import GpuProgram

_programs: dict[tuple, GpuProgram] = {}


class _Backward(threading.local):
    """``active`` while backward() runs over CUDA tensors in this thread: host operands are
    copied over instead of refused (the constants VJP rules make: zeros to scatter into,
    masks, ...)."""

    active = False


in_backward = _Backward()


class DeviceMismatchError(GraphcError, RuntimeError):
    """An op received tensors on different devices."""


def is_device_array(v) -> bool:
    from .cuda import DeviceArray
    return isinstance(v, DeviceArray)


def device_name(v) -> str:
    return f"cuda:{v.device}" if is_device_array(v) else "cpu"


def _operands(op, inputs) -> list:
    """The device arrays (or literals) an op on the GPU reads; raises on mixed devices."""
    from .cuda import DeviceArray
    device, out = None, []
    for x in inputs:
        if type(x) is not Node:
            out.append(x)
            continue
        v = x.value
        if isinstance(v, DeviceArray):
            if device is not None and v.device != device:
                raise _mismatch(op, f"cuda:{device}", f"cuda:{v.device}")
            device = v.device
        elif v.ndim and not in_backward.active:
            raise _mismatch(op, "cuda:0", "cpu")
        out.append(v)
    return [DeviceArray.from_numpy(np.asarray(v), device)
            if isinstance(v, np.ndarray) else v for v in out]


def _mismatch(op, a: str, b: str) -> DeviceMismatchError:
    return DeviceMismatchError(f"{op.name}(): Expected all tensors to be on the same device, "
                               f"but found at least two devices, {a} and {b}!")


def _freeze(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, np.ndarray):
        return (v.shape, v.dtype.str, v.tobytes())
    return v


def run(op, inputs, attrs: dict, shape: tuple, dtype):
    """``op`` on ``inputs`` (nodes holding device arrays, or literals): its device array."""
    values = _operands(op, inputs)
    specs = [(tuple(v.shape), str(v.dtype)) if type(x) is Node else ("literal", x)
             for x, v in zip(inputs, values)]
    leaves = [make_leaf(tuple(v.shape), x.dtype) if type(x) is Node else x
              for x, v in zip(inputs, values)]
    node = Node(op, tuple(leaves), attrs, shape, dtype)
    if op.view:  # a view of the operand's memory when its strides allow one
        v = values[0]
        made = view_of(View(0, tuple(v.shape), tuple(v.strides), v.offset), node)
        if made is not None:
            return v.view(made.shape, made.strides, made.offset)
    key = (op.name, _freeze(attrs), tuple(specs), str(dtype))
    program = _programs.get(key)
    if program is None:
        graph = Graph.from_outputs([node], inputs=[x for x in leaves if type(x) is Node],
                                   name=op.name)
        program = _programs[key] = GpuProgram(optimize(graph))
    return program.run([v for x, v in zip(inputs, values) if type(x) is Node])[0]


def writable(buf) -> bool:
    """Whether an in-place op may write ``buf`` (no broadcast dims, not read-only)."""
    if isinstance(buf, np.ndarray):
        return buf.flags.writeable
    return all(st or d == 1 for d, st in zip(buf.shape, buf.strides))


def copy_into(buf, value, op: str = "copy_") -> None:
    """Write ``value`` (same shape, a numpy or device array) into ``buf``, for ``op``."""
    if isinstance(buf, np.ndarray):  # (a compiled CUDA program updates 0-d host state too)
        np.copyto(buf, value if isinstance(value, np.ndarray) else value.to_numpy(),
                  casting="unsafe")
        return
    if isinstance(value, np.ndarray):
        value = type(buf).from_numpy(np.asarray(value, buf.dtype), buf.device)
    if not buf.is_contiguous:
        from .cuda import CudaError
        raise CudaError(f"{op}(): in-place write into a non-contiguous CUDA view (shape "
                        f"{list(buf.shape)}, strides {list(buf.strides)}) is not supported "
                        "yet; write into a contiguous tensor or use .clone()")
    if numel(buf.shape):
        if not value.is_contiguous:
            value = type(value).from_numpy(value.to_numpy(), value.device)
        buf.copy_from(value)


def copy_of(v):
    """A contiguous copy of a numpy or device array, in the same memory."""
    if isinstance(v, np.ndarray):
        return v.copy()
    out = type(v).empty(v.shape, v.dtype, v.device)
    copy_into(out, v)
    return out


# ---------------------------------------------------------------- copies between devices

def move(value, device: str):
    """``value`` (a numpy or device array) on ``device`` ("cpu", "cuda:i"): itself or a copy."""
    from .cuda import DeviceArray
    here = is_device_array(value)
    if device == "cpu":
        return value.to_numpy() if here else value
    index = int(device.partition(":")[2] or 0)
    if here and value.device == index:
        return value
    return DeviceArray.from_numpy(value.to_numpy() if here else np.asarray(value), index)


def move_node(x: Node, device: str) -> Node:
    """``x`` copied to ``device``: with history when it needs a gradient (the gradient is
    copied back: PyTorch's ToCopyBackward0), else a new leaf."""
    value = move(x.value, device)
    if x.requires_grad and _state.grad_enabled:
        attrs = {"device": device, "source": device_name(x.value)}
        return Node(TO_DEVICE, (x,), attrs, x.shape, x.dtype, value, True, None, [0], 0)
    return make_leaf(x.shape, x.dtype, value)


def _to_device_infer(inputs, attrs):
    return inputs[0].shape, inputs[0].dtype


# made only by move_node (eagerly: a compiled program runs on one device)
TO_DEVICE = Op("to_device", _to_device_infer, None,
               lambda n, g, need: (move_node(g, n.attrs["source"]),), grad_name="ToCopy")
