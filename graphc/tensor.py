"""Tensor, Size and device.

A Tensor is a handle on an IR node; in eager mode the node holds the numpy
value. Every operation goes through the op registry (``ir.ops``), so the
same methods run eagerly, under tracing and inside gradient graphs.
Creation functions live in ``creation.py``; composite operations (softmax,
var, ...) in ``composite/`` and indexing in ``indexing.py``, which attach
their methods to Tensor.
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .ir import dtypes as dt
from .ir import ops as P
from .ir.core import EMPTY, LEAF, Node, _state, carry_grad_target, make_leaf
from .ir.errors import (
    ArgumentError,
    AutogradError,
    DTypeError,
    InvalidArgument,
    ShapeError,
    TraceError,
    ValueArgumentError,
    called_op,
)
from .ir.shapes import normalize_axis, numel
from .runtime import eager as _eager  # noqa: F401  (installs the eager handler)
from .runtime.gpu_eager import copy_into, writable

DType = dt.DType


# ---------------------------------------------------------------- Size and device

class Size(tuple):
    """A tensor's shape: a tuple of ints, printed like PyTorch's ``torch.Size``."""

    def numel(self) -> int:
        return numel(self)

    def __repr__(self) -> str:
        return f"graphc.Size({list(self)})"

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other):  # x.shape[:-1] + (n,) stays a Size, as in PyTorch
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))


class device:
    """``graphc.device("cpu")``; compares equal to its string form."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | device = "cpu", index: int | None = None) -> None:
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        kind, _, idx = str(spec).partition(":")
        if kind not in ("cpu", "cuda"):
            raise InvalidArgument(f"{called_op()}(): Expected one of cpu, cuda device type at "
                                  f"start of device string: {spec}")
        if idx and not idx.isdigit():
            raise InvalidArgument(f"{called_op()}(): Invalid device string: '{spec}'")
        self.type = kind
        self.index = int(idx) if idx else index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None
                                               else ")")

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def _check_device(dev) -> device:
    d = CPU if dev is None else device(dev)
    if d.type == "cuda":
        from . import cuda
        cuda.require("create a CUDA tensor")
        return device("cuda", d.index or 0)
    return d


def cuda_device(index=None):
    """What ``.cuda(index)`` moves to: cuda, cuda:<index>, or a given device or string."""
    return "cuda" if index is None else f"cuda:{index}" if isinstance(index, int) else index


# ---------------------------------------------------------------- wrapping

def _wrap(node: Node) -> Tensor:
    t = _new(Tensor)
    t._node = node
    return t


def _view(self: Tensor, node: Node, fn) -> Tensor:
    """Wrap a movement result; it shares memory with ``self`` and records how it was made."""
    t = _wrap(node)
    if node.vbox is self._node.vbox:
        base = t._base = self._base if self._base is not None else self
        prev = self._view_fn
        t._view_fn = fn if prev is None else (lambda b: fn(prev(b)))
        # the base remembers its live views, so a write through any of them refreshes the rest
        views = base._views
        if views is None:
            views = base._views = weakref.WeakSet()
        views.add(t)
    return t


def _n(x: Any) -> Any:
    """An op input from ``x``: a Tensor's node, a Python scalar, or a constant for arrays."""
    if type(x) is Tensor or isinstance(x, Tensor):
        return x._node
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, (np.number, np.bool_)):
        return x.item()
    if isinstance(x, (list, tuple, np.ndarray)):
        from .creation import tensor
        return tensor(x)._node
    raise ArgumentError(f"{called_op()}(): expected a Tensor or a number, got "
                        f"{type(x).__name__}")


def _input(x: Any, op: str, name: str = "input", position: int = 1) -> Tensor:
    """The tensor argument ``name`` of function ``op``: like PyTorch's functions, it takes no
    lists or numbers there."""
    if isinstance(x, Tensor):
        return x
    raise ArgumentError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
                        f"{type(x).__name__}")


def _float_input(x: Any, op: str, ints: bool = False) -> Tensor:
    """The input of ``op``, a floating-point kernel: a bool tensor (and an integer one, unless
    ``ints``) raises as PyTorch's kernels do ('"elu_cpu" not implemented for 'Long'')."""
    x = _input(x, op)
    d = x._node.dtype
    if d.kind != dt.FLOAT and (d.kind == dt.BOOL or not ints):
        raise DTypeError(f'"{op}" not implemented for \'{_LEGACY_NAMES[d.name]}\' '
                         f"(a {d.name} tensor of shape {list(x.shape)})")
    return x


def _t(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    from .creation import tensor
    return tensor(x)


def _bind(op, *inputs, **attrs) -> Tensor:
    return _wrap(_state.handler.bind(op, inputs, attrs or EMPTY))


class GradFn:
    """What ``grad_fn`` returns: names the backward of the op that made a tensor."""

    __slots__ = ("_node",)

    def __init__(self, node: Node) -> None:
        self._node = node

    def name(self) -> str:
        n = self._node
        return n.label or f"{n.op.grad_name}Backward0"

    @property
    def next_functions(self) -> tuple:
        return edges_of(self._node.inputs)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self._node):#x}>"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._node is self._node

    def __hash__(self) -> int:
        return id(self._node)


class AccumulateGrad(GradFn):
    __slots__ = ()

    def name(self) -> str:
        return "AccumulateGrad"


def grad_fn_of(node: Node):
    """``grad_fn`` of a tensor whose node is ``node``: None for a leaf; a custom Function's
    outputs share their call's context object, as PyTorch's."""
    if node.op is LEAF:
        return None
    group = node.op.group
    return GradFn(node) if group is None else group(node)


def edges_of(inputs) -> tuple:
    """``next_functions``: per input, (the grad_fn or AccumulateGrad it leads to, 0), or
    (None, 0) where no gradient flows."""
    out = []
    for x in inputs:
        if type(x) is Node and x.requires_grad:
            out.append((grad_fn_of(x) if x.op is not LEAF else AccumulateGrad(x), 0))
        else:
            out.append((None, 0))
    return tuple(out)


# ---------------------------------------------------------------- Tensor

class Tensor:
    """An n-dimensional array with autograd, PyTorch's names and semantics."""

    __slots__ = ("_node", "__weakref__", "__dict__")
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray + Tensor -> Tensor
    # set on few tensors, so class-level defaults (the hot path sets only _node):
    _grad = None      # .grad
    _base = None      # the tensor a view shares memory with
    _view_fn = None   # base -> this view, to rebuild the view after writes to the base
    _views = None     # WeakSet of live views of this base
    _post_accumulate_grad_hooks = None  # see autograd/tensor_hooks.py

    def __init__(self, *args) -> None:
        # graphc.Tensor(data) / Tensor(*sizes), PyTorch's legacy constructor (float32)
        from .creation import empty, tensor
        if len(args) == 1 and not isinstance(args[0], int):
            src = tensor(args[0], dtype=dt.float32)
        else:
            src = empty(*args)
        self._node = src._node

    # ---- attributes
    @property
    def shape(self) -> Size:
        return Size(self._node.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._node.shape)
        return self._node.shape[normalize_axis(dim, self.ndim, "size")]

    @property
    def dtype(self) -> DType:
        return self._node.dtype

    @property
    def device(self) -> device:
        v = self._node.value
        if v is None or isinstance(v, np.ndarray):
            return CPU
        return device("cuda", v.device)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def ndim(self) -> int:
        return len(self._node.shape)

    def dim(self) -> int:
        return len(self._node.shape)

    ndimension = dim

    def numel(self) -> int:
        return numel(self._node.shape)

    nelement = numel

    def element_size(self) -> int:
        return self._node.dtype.itemsize

    def is_floating_point(self) -> bool:
        return self._node.dtype.kind == dt.FLOAT

    @property
    def requires_grad(self) -> bool:
        return self._node.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        node = self._node
        if node.op is not LEAF:
            if not requires_grad:
                raise AutogradError("you can only change requires_grad flags of leaf variables. "
                                    "If you want to use a computed variable in a subgraph that "
                                    "doesn't require differentiation use var_no_grad = "
                                    "var.detach().")
            return self
        if requires_grad and node.dtype.kind != dt.FLOAT:
            raise AutogradError(f"only Tensors of floating point dtype can require gradients "
                                f"(got {node.dtype})")
        node.requires_grad = bool(requires_grad)
        node.sink = weakref.ref(self) if requires_grad else None
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node.op is LEAF

    @property
    def grad_fn(self):
        return grad_fn_of(self._node)

    @property
    def grad(self) -> Tensor | None:
        if _state.handler.traces:  # the compiled program depends on what .grad holds
            _state.handler.read_grad(self)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise ArgumentError(f"assigned grad expected to be a Tensor or None but got "
                                    f"{type(value).__name__}")
            if value._node.shape != self._node.shape:  # (not .shape: two Sizes per backward)
                raise ShapeError(f"assigned grad has data of a different size: "
                                 f"{list(value.shape)} vs {list(self.shape)}")
        if _state.handler.traces:  # recorded, written back after each compiled call
            _state.handler.set_grad(self, value)
        else:
            self._grad = value

    def retain_grad(self) -> None:
        node = self._node
        if not node.requires_grad:
            raise AutogradError("can't retain_grad on Tensor that has requires_grad=False")
        if node.op is not LEAF:
            node.sink = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        node = self._node
        return node.op is not LEAF and node.sink is not None

    @property
    def _version(self) -> int:
        return self._node.vbox[0] if self._node.vbox else 0

    # ---- values
    def _value(self, what: str = "read the value of") -> np.ndarray:
        v = self._node.value
        if v is None:
            raise TraceError(
                f"cannot {what} a traced tensor ({self.dtype.short}{list(self.shape)}): its value "
                "is only known when the compiled function runs. Python control flow on tensor "
                "values is not traceable; use graphc.where(cond, a, b) instead")
        return v

    def numpy(self, force: bool = False) -> np.ndarray:
        if self.requires_grad and not force:
            raise AutogradError("Can't call numpy() on Tensor that requires grad. Use "
                                "tensor.detach().numpy() instead.")
        return self._host("call numpy() on", force)

    def _host(self, what: str, copy: bool = True) -> np.ndarray:
        """The value as a numpy array: a CUDA tensor's is copied to the host only for
        ``copy`` (item, tolist, printing), as PyTorch; numpy() of one raises."""
        v = self._value(what)
        if isinstance(v, np.ndarray):
            return v
        if not copy:
            raise ArgumentError(f"can't convert {self.device} device type tensor to numpy. "
                                "Use Tensor.cpu() to copy the tensor to host memory first.")
        return v.to_numpy()

    def __array__(self, dtype=None, copy=None):
        v = self._host("convert to a numpy array", False)
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    def item(self):
        if self.numel() != 1:
            raise ShapeError(f"a Tensor with {self.numel()} elements cannot be converted to "
                             "Scalar")  # RuntimeError, as PyTorch
        return self._host("call item() on").reshape(()).item()

    def tolist(self):
        return self._host("call tolist() on").tolist()

    def _scalar(self):
        if self.numel() != 1:  # ValueError here, as PyTorch
            raise ValueArgumentError("only one element tensors can be converted to Python "
                                     f"scalars (got shape {list(self.shape)})")
        return self.item()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __index__(self) -> int:
        if self.dtype.kind != dt.INT or self.numel() != 1:
            raise ArgumentError("only integer tensors of a single element can be converted to an "
                                "index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise ShapeError(f"Boolean value of Tensor with more than one value is ambiguous "
                             f"(shape {list(self.shape)})")  # RuntimeError, as PyTorch
        return bool(self._host("use as a Python bool (if/while)").reshape(()).item())

    def __len__(self) -> int:
        if not self._node.shape:
            raise ArgumentError("len() of a 0-d tensor")
        return self._node.shape[0]

    def __iter__(self):
        if not self._node.shape:
            raise ArgumentError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._node.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        from ._format import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        # as PyTorch, a 0-d tensor formats as its Python number: f"{loss}" -> 0.6931471824645996
        if self.ndim == 0 and (spec or self._node.value is not None):
            return format(self.item(), spec)
        if spec:
            raise ArgumentError(f"unsupported format string passed to Tensor.__format__ "
                                f"(a tensor of shape {list(self.shape)})")
        return repr(self)

    def __reduce_ex__(self, proto):
        from .creation import tensor
        return (tensor, (self.detach().numpy(), self.dtype, None, self.requires_grad))

    # ---- detaching, copying, conversion
    def detach(self) -> Tensor:
        """The same values (shared memory and version counter) with no history."""
        return _wrap(_state.handler.bind(P.DETACH, (self._node,), EMPTY))

    def detach_(self) -> Tensor:
        self._node = self.detach()._node
        return self

    @property
    def data(self) -> Tensor:
        """The values without history, as ``detach()``, but with a version counter of its own
        (PyTorch's difference): writes through ``.data`` are hidden from autograd's checks."""
        node = self._node
        if node.value is None:
            return self.detach()
        return _wrap(make_leaf(node.shape, node.dtype, node.value))

    @data.setter
    def data(self, other: Tensor) -> None:
        node = self._node
        leaf = make_leaf(other._node.shape, other._node.dtype, other._node.value)
        leaf.vbox, leaf.ver = other._node.vbox, other._node.ver
        leaf.requires_grad, leaf.sink, leaf.hooks = node.requires_grad, node.sink, node.hooks
        self._node = leaf

    def clone(self, *, memory_format=None) -> Tensor:
        out = _bind(P.CAST, self._node, dtype=self._node.dtype)
        out._node.label = "CloneBackward0" if out._node.op is not LEAF else None
        return out

    def contiguous(self, memory_format=None) -> Tensor:
        v = self._node.value
        if v is None or v.flags.c_contiguous:
            return self
        out = self.clone()  # clone keeps the layout (as PyTorch's preserve_format): make it C
        out._node.value = np.ascontiguousarray(out._node.value)
        return out

    def is_contiguous(self, memory_format=None) -> bool:
        v = self._node.value
        if v is None:
            return True
        return bool(v.flags.c_contiguous) if isinstance(v, np.ndarray) else v.is_contiguous

    def to(self, *args, **kwargs) -> Tensor:
        dtype, dev = kwargs.get("dtype"), kwargs.get("device")
        copy = kwargs.get("copy", False)
        for a in args:
            if isinstance(a, DType):
                dtype = a
            elif isinstance(a, Tensor):
                dtype, dev = a.dtype, a.device
            elif isinstance(a, (str, device)):
                dev = a
            elif a is not None:
                raise ArgumentError(f"to() received an invalid combination of arguments: {a!r}")
        if dtype is not None and not isinstance(dtype, DType):
            raise ArgumentError(f"to() received an invalid combination of arguments: dtype "
                                f"must be a graphc dtype, not {type(dtype).__name__}")
        out = self
        if dtype is not None and dtype is not self.dtype:
            out = out.type(dtype)
            copy = False
        if dev is not None:
            d = _check_device(dev)
            if d != out.device:
                return out._moved(d)
        return out.clone() if copy else out

    def _moved(self, d: device) -> Tensor:
        """A copy on device ``d``; gradients flow back to this tensor's device."""
        from .runtime.gpu_eager import move_node
        self._value(f"move to {d}")
        return _wrap(move_node(self._node, str(d)))

    def type(self, dtype: DType | None = None):
        if dtype is None:  # PyTorch's legacy names: graphc.FloatTensor, graphc.LongTensor, ...
            return f"graphc.{_LEGACY_NAMES[self.dtype.name]}Tensor"
        if dtype is self.dtype:
            return self
        return _bind(P.CAST, self._node, dtype=dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to(cuda_device(device))

    def float(self) -> Tensor:
        return self.type(dt.float32)

    def double(self) -> Tensor:
        return self.type(dt.float64)

    def half(self) -> Tensor:
        return self.type(dt.float16)

    def long(self) -> Tensor:
        return self.type(dt.int64)

    def int(self) -> Tensor:
        return self.type(dt.int32)

    def short(self) -> Tensor:
        return self.type(dt.int16)

    def bool(self) -> Tensor:
        return self.type(dt.bool_)

    def byte(self) -> Tensor:
        return self.type(dt.uint8)

    def type_as(self, other: Tensor) -> Tensor:
        return self.type(other.dtype)

    # ---- arithmetic operators (the hot path: one bind each)
    def __add__(self, other):
        return _wrap(_state.handler.bind(P.ADD, (self._node, other._node if type(other) is Tensor
                                                else _n(other)), EMPTY))

    def __radd__(self, other):
        return _wrap(_state.handler.bind(P.ADD, (_n(other), self._node), EMPTY))

    def __sub__(self, other):
        return _wrap(_state.handler.bind(P.SUB, (self._node, other._node if type(other) is Tensor
                                                else _n(other)), EMPTY))

    def __rsub__(self, other):
        return _wrap(_state.handler.bind(P.SUB, (_n(other), self._node), EMPTY))

    def __mul__(self, other):
        return _wrap(_state.handler.bind(P.MUL, (self._node, other._node if type(other) is Tensor
                                                else _n(other)), EMPTY))

    def __rmul__(self, other):
        return _wrap(_state.handler.bind(P.MUL, (_n(other), self._node), EMPTY))

    def __truediv__(self, other):
        return _wrap(_state.handler.bind(P.DIV, (self._node, other._node if type(other) is Tensor
                                                else _n(other)), EMPTY))

    def __rtruediv__(self, other):
        return _wrap(_state.handler.bind(P.DIV, (_n(other), self._node), EMPTY))

    def __pow__(self, other):
        node = _state.handler.bind(P.POW, (self._node, _n(other)), EMPTY)
        if node.requires_grad and isinstance(other, Tensor):
            node.label = "PowBackward1"  # PyTorch's Tensor ** Tensor overload
        return _wrap(node)

    def __rpow__(self, other):
        node = _state.handler.bind(P.POW, (_n(other), self._node), EMPTY)
        if node.requires_grad:
            node.label = "PowBackward2"  # PyTorch's Scalar ** Tensor overload
        return _wrap(node)

    def __neg__(self):
        if self._node.dtype is dt.bool_:
            raise DTypeError("negation, the `-` operator, on a bool tensor is not supported. If "
                             "you are trying to invert a mask, use the `~` or `logical_not()` "
                             "operator instead.")
        return _wrap(_state.handler.bind(P.NEG, (self._node,), EMPTY))

    def __pos__(self):
        return self

    def __abs__(self):
        return _bind(P.ABS, self._node)

    def __eq__(self, other):  # type: ignore[override]
        return _bind(P.EQ, self._node, _n(other))

    def __ne__(self, other):  # type: ignore[override]
        return _bind(P.NE, self._node, _n(other))

    def __lt__(self, other):
        return _bind(P.LT, self._node, _n(other))

    def __le__(self, other):
        return _bind(P.LE, self._node, _n(other))

    def __gt__(self, other):
        return _bind(P.GT, self._node, _n(other))

    def __ge__(self, other):
        return _bind(P.GE, self._node, _n(other))

    def _logical(self, op, other, name: str) -> Tensor:
        o = _n(other)
        if self.dtype is not dt.bool_ or (type(o) is Node and o.dtype is not dt.bool_):
            raise DTypeError(f"{name}: bitwise operations are only supported on bool tensors in "
                             f"graphc (got {self.dtype.name}); use logical_{name.strip('_')}")
        return _bind(op, self._node, o)

    def __and__(self, other):
        return self._logical(P.LOGICAL_AND, other, "__and__")

    __rand__ = __and__

    def __or__(self, other):
        return self._logical(P.LOGICAL_OR, other, "__or__")

    __ror__ = __or__

    def __xor__(self, other):
        self._logical(P.LOGICAL_AND, other, "__xor__")
        return _bind(P.NE, self._node, _n(other))

    __rxor__ = __xor__

    def __invert__(self):
        if self.dtype is not dt.bool_:
            raise DTypeError(f"~ (bitwise not) is only supported on bool tensors in graphc, got "
                             f"{self.dtype.name}")
        return _bind(P.LOGICAL_NOT, self._node)

    def __matmul__(self, other):
        from .composite import matmul
        return matmul(self, _t(other))

    def __rmatmul__(self, other):
        from .composite import matmul
        return matmul(_t(other), self)

    # ---- in-place
    def _assign(self, new: Node, op: str) -> Tensor:
        """Write ``new``'s value into this tensor's memory and make it this tensor's node."""
        node = self._node
        check_inplace(self, op)
        if new.shape != node.shape:
            raise ShapeError(f"{op}(): output with shape {list(node.shape)} doesn't match the "
                             f"broadcast shape {list(new.shape)}")
        if new.dtype is not node.dtype:
            if new.dtype.kind > node.dtype.kind:
                raise DTypeError(f"{op}(): result type {new.dtype.name} can't be cast to the "
                                 f"desired output type {node.dtype.name}")
            new = _state.handler.bind(P.CAST, (new,), {"dtype": node.dtype})
        if _state.handler.traces:  # functionalized: the compiler writes back after each call
            return _state.handler.write(self, new, op)
        buf = node.value
        if not writable(buf):
            raise ShapeError(f"{op}(): unsupported operation: this tensor is an expanded view or "
                             "read-only memory; call .clone() before writing to it")
        if new.requires_grad and any(x is node for x in new.inputs):
            # the op's own backward reads the value before the write: give it a copy (as
            # PyTorch saves original self); other readers of ``node`` see the version bump
            orig = _state.handler.bind(P.CAST, (node,), {"dtype": node.dtype})
            new.inputs = tuple(orig if x is node else x for x in new.inputs)
        copy_into(buf, new.value, op)
        vbox = node.vbox
        vbox[0] += 1
        if new.requires_grad:
            new.value, new.vbox, new.ver = buf, vbox, vbox[0]
            self._node = new
        else:
            leaf = make_leaf(node.shape, node.dtype, buf)
            leaf.vbox, leaf.ver = vbox, vbox[0]
            carry_grad_target(leaf, node)
            self._node = leaf
        if self._base is not None or self._views:  # views to refresh
            from .indexing import after_write
            after_write(self)
        return self

    def add_(self, other, *, alpha=1) -> Tensor:
        o = _n(other) if alpha == 1 else (_t(other) * alpha)._node
        return self._assign(_state.handler.bind(P.ADD, (self._node, o), EMPTY), "add_")

    def sub_(self, other, *, alpha=1) -> Tensor:
        o = _n(other) if alpha == 1 else (_t(other) * alpha)._node
        return self._assign(_state.handler.bind(P.SUB, (self._node, o), EMPTY), "sub_")

    def mul_(self, other) -> Tensor:
        return self._assign(_state.handler.bind(P.MUL, (self._node, _n(other)), EMPTY), "mul_")

    def div_(self, other) -> Tensor:
        return self._assign(_state.handler.bind(P.DIV, (self._node, _n(other)), EMPTY), "div_")

    def pow_(self, other) -> Tensor:
        return self._assign(_state.handler.bind(P.POW, (self._node, _n(other)), EMPTY), "pow_")

    def neg_(self) -> Tensor:
        return self._assign((-self)._node, "neg_")

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value) -> Tensor:
        v = _n(value)
        if type(v) is Node:
            if v.shape:
                raise ShapeError(f"fill_() only supports 0-dimension value tensor but got "
                                 f"tensor with {len(v.shape)} dimensions")
            new = _bind(P.EXPAND, v, shape=self._node.shape)._node
        else:
            new = _bind(P.CONSTANT, value=v, shape=self._node.shape, dtype=self.dtype)._node
        return self._assign(_cast_to(new, self.dtype), "fill_")

    def copy_(self, src, non_blocking: bool = False) -> Tensor:
        s = _t(src)._node
        if s.shape != self._node.shape:
            from .ir.shapes import broadcast_shapes
            broadcast_shapes(s.shape, self._node.shape, op="copy_")
            s = _bind(P.EXPAND, s, shape=self._node.shape)._node
        return self._assign(_cast_to(s, self.dtype, copy=True), "copy_")

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    # ---- autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False,
                 inputs=None) -> None:
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)


_new = Tensor.__new__
_LEGACY_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "uint8": "Byte",
                 "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                 "bool": "Bool"}


def _cast_to(node: Node, dtype: DType, copy: bool = False) -> Node:
    if node.dtype is dtype and not copy:
        return node
    return _state.handler.bind(P.CAST, (node,), {"dtype": dtype})


def check_inplace(t: Tensor, op: str) -> None:
    """In-place on a leaf that requires grad (or a view of one) is an error while recording."""
    if not _state.grad_enabled:
        return
    node = t._node
    if node.op is LEAF and node.requires_grad:
        raise AutogradError(f"{op}(): a leaf Variable that requires grad is being used in an "
                            "in-place operation.")
    base = t._base
    if base is not None and base._node.op is LEAF and base._node.requires_grad:
        raise AutogradError(f"{op}(): a view of a leaf Variable that requires grad is being used "
                            "in an in-place operation.")
