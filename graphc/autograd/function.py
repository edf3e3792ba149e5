"""``autograd.Function``: operations with a user-written forward and backward (PyTorch's).

``MyFunc.apply(*args)`` runs ``forward`` with grad disabled, so its ops are ordinary ops
(evaluated eagerly, or traced under ``@graphc.compile``) that record no history. Each
differentiable output is then wrapped in a node of an op made for the class and named
after it (``%3 = MyReLU %2, %x``: the forward's value ``%2``, the inputs that need a
gradient after it). The node's value is the forward's output itself (a view: no copy,
no kernel; the optimizer removes the node from compiled graphs), and its VJP calls the
user's ``backward(ctx, *grads)`` on tensors of the cotangents, once per call with every
output's gradient (the outputs of one call are one group for autodiff). ``backward``
is therefore ordinary graphc ops too: it runs eagerly, records under
``create_graph=True`` and is traced into the gradient graph under compile.

The ``ctx`` object is the outputs' ``grad_fn``, an instance of ``MyFuncBackward``.
"""
from __future__ import annotations

import functools
import inspect
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ..ir.core import LEAF, Node, Op, _state
from ..ir.errors import ArgumentError, AutogradError, format_loc
from ..ir.ops import DETACH
from ..runtime.eager import check_saved
from ..tensor import Tensor, _wrap, edges_of

# ---------------------------------------------------------------- the context (grad_fn)


class FunctionCtx:
    """What ``forward`` (or ``setup_context``) receives as ``ctx``: it saves what
    ``backward`` needs. Plain attributes (``ctx.scale = 2``) work too."""

    _fn_to_save: tuple = ()
    _fn_dirty: tuple = ()
    _fn_non_differentiable: tuple = ()
    materialize_grads = True

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise ArgumentError(f"save_for_backward can only save variables, but argument "
                                    f"{i} is of type {type(t).__name__}")
        self._fn_to_save = tensors

    def save_for_forward(self, *tensors: Tensor | None) -> None:
        """Kept for ``jvp``, which graphc's custom Functions do not run (reverse mode only)."""
        self.saved_for_forward = tensors

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Inputs that ``forward`` modified in place (and returns)."""
        self._fn_dirty = tensors

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Outputs that get no gradient (``backward`` still receives a zero for each)."""
        self._fn_non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """False: ``backward`` receives None, not zeros, for outputs that got no gradient."""
        self.materialize_grads = bool(value)


class BackwardFunction(FunctionCtx):
    """The ``grad_fn`` of a custom Function's outputs (``MyFuncBackward``, one class per
    Function made when it is defined); the same object was ``forward``'s ``ctx``."""

    _forward_cls: type
    _fn_saved: list | None = None  # per saved tensor: None, ("node", node) or ("output", i)
    _fn_released = False

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        return edges_of(self._fn_inputs)

    def nodes(self) -> list[Node | None]:
        """The output nodes of this call, in output order (None: not differentiable, or gone)."""
        return [None if r is None else r() for r in self._fn_outputs]

    def release(self) -> None:
        """backward() without retain_graph is done with this call: free its saved tensors."""
        self._fn_saved = None
        self._fn_released = True

    @property
    def saved_tensors(self) -> tuple:
        if self._fn_released:
            raise AutogradError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward.")
        if self._fn_saved is None:  # inside forward or setup_context: what was given
            return tuple(self._fn_to_save)
        out = []
        for entry in self._fn_saved:
            if entry is None:
                out.append(None)
                continue
            kind, node = entry
            if kind == "output":  # the output the caller holds (its history: double backward)
                member = self._fn_outputs[node]
                node = (member() if member is not None else None) or self._fn_values[node]
            check_saved(node)
            out.append(_wrap(node))
        return tuple(out)

    saved_variables = saved_tensors

    # ---- the VJP of the group of output nodes

    def _get_user_fn(self) -> Callable:
        cls = self._forward_cls
        backward, vjp = cls.backward, cls.vjp
        if backward is not Function.backward and vjp is not Function.vjp:
            raise AutogradError("Implementing both 'backward' and 'vjp' for a custom Function is "
                                "not allowed. You should only implement one of them.")
        return vjp if vjp is not Function.vjp else backward

    def _pull_back(self, node: Node, cotangents: Sequence[Node | None],
                   need: Sequence[bool]) -> list[Node | None]:
        from ..creation import zeros
        grads = []
        for g, spec in zip(cotangents, self._fn_specs):
            if g is None and spec is not None and self.materialize_grads:
                grads.append(zeros(spec[0], dtype=spec[1], device=spec[2]))
            else:
                grads.append(None if g is None else _wrap(g))
        result = self._get_user_fn()(self, *grads)
        result = self._check_count(result if isinstance(result, tuple) else (result,), node)
        out: list[Node | None] = [None]  # input 0 is the forward's value: no gradient
        tensor_index = 0
        for arg_node, g in zip(self._fn_arg_nodes, result):
            if arg_node is None:
                continue
            if arg_node is not False:
                out.append(self._check_gradient(g, arg_node, tensor_index, node)
                           if need[len(out)] else None)
            tensor_index += 1
        return out

    def _check_count(self, result: tuple, node: Node) -> tuple:
        n = len(self._fn_arg_nodes)
        if len(result) > n and all(g is None for g in result[n:]):
            result = result[:n]
        if len(result) != n:
            raise AutogradError(f"function {self.name()} returned an incorrect number of "
                                f"gradients (expected {n}, got {len(result)})"
                                f"{self._applied_at(node)}")
        for pos, (arg_node, g) in enumerate(zip(self._fn_arg_nodes, result)):
            if arg_node is None and g is not None:
                raise AutogradError(f"function {self.name()} returned a gradient different "
                                    f"than None at position {pos + 1}, but the corresponding "
                                    f"forward input was not a Variable{self._applied_at(node)}")
        return result

    def _check_gradient(self, g: Any, x: Node, index: int, node: Node) -> Node | None:
        """The node of gradient ``g`` of input ``x``; autodiff sums its broadcast axes away
        and casts it to ``x``'s dtype (PyTorch's validate_outputs)."""
        if g is None:
            return None
        if not isinstance(g, Tensor):
            raise AutogradError(f"expected Variable or None (got {type(g).__name__}) from "
                                f"{self.name()}{self._applied_at(node)}")
        if not _expandable(x.shape, g._node.shape):
            raise AutogradError(f"Function {self.name()} returned an invalid gradient at index "
                                f"{index} - got {list(g.shape)} but expected shape compatible "
                                f"with {list(x.shape)}{self._applied_at(node)}")
        return g._node

    def _applied_at(self, node: Node) -> str:
        return f" ({self._forward_cls.__name__}.apply at {format_loc(node.loc)})" \
            if node.loc is not None else ""


def _expandable(shape: tuple, target: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``target`` (a gradient may be larger, not smaller)."""
    if len(shape) > len(target):
        return False
    return all(s == t or s == 1 for s, t in zip(shape[::-1], target[::-1]))


# ---------------------------------------------------------------- the op of a Function

class _Call:
    """The attribute through which a node reaches its call's context. Unhashable on purpose:
    eager mode remembers shape rules by attributes, and a context remembered there would
    keep its saved tensors alive."""

    __slots__ = ("ctx",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, ctx: BackwardFunction) -> None:
        self.ctx = ctx


def _infer(inputs, attrs):
    return inputs[0].shape, inputs[0].dtype


def _impl(attrs, value, *inputs):
    return value.view()  # a view: the output shares memory and version with forward's value


def _vjp(node: Node, cotangents, need):
    return node.attrs["_call"].ctx._pull_back(node, cotangents, need)


def _group(node: Node) -> BackwardFunction:
    return node.attrs["_call"].ctx


def _make_op(name: str) -> Op:
    """The op of one Function class: never registered in ``ir.core.REGISTRY`` (the
    primitives), named after the class for dumps."""
    return Op(name, _infer, _impl, _vjp, view=True, passthrough=0, group=_group)


# ---------------------------------------------------------------- Function

class Function:
    """Base class of custom autograd operations: subclass it with static ``forward`` and
    ``backward`` methods and call ``MyFunc.apply(*args)``, as in PyTorch."""

    _backward_cls: type
    _op: Op

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(f"{cls.__name__}Backward", (BackwardFunction,),
                                 {"_forward_cls": cls, "__module__": cls.__module__})
        cls._op = _make_op(cls.__name__)

    def __init__(self, *args, **kwargs) -> None:
        warnings.warn(f"{type(self)} should not be instantiated. Methods on autograd functions "
                      "are all static, so you should invoke them on the class itself.",
                      DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise AutogradError("Legacy autograd function with non-static forward method is "
                            "deprecated. Please use new-style autograd function with static "
                            "forward method. (Example: MyFunc.apply(x))")

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward  # an alias: a Function defines one of the two

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD (graphc "
                                  "differentiates in reverse mode only).")

    @classmethod
    def apply(cls, *args, **kwargs):
        if cls is Function:
            raise AutogradError("Function.apply: subclass autograd.Function and call apply "
                                "on the subclass")
        separate = cls.setup_context is not Function.setup_context
        if separate:  # forward(*args) and setup_context(ctx, inputs, output)
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        ctx = cls._backward_cls()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        before = [a._node if isinstance(a, Tensor) else None for a in args]
        prev, _state.grad_enabled = _state.grad_enabled, False
        try:
            if separate:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        finally:
            _state.grad_enabled = prev
        return _wrap_outputs(cls, ctx, args, before, output)


def _wrap_outputs(cls: type, ctx: BackwardFunction, args: tuple, before: list, output: Any):
    """The outputs the caller gets: each differentiable one as a node of ``cls``'s op."""
    outputs = output if isinstance(output, tuple) else (output,)
    # per argument: None (not a tensor), False (a tensor that needs no gradient), or its node
    ctx._fn_arg_nodes = tuple(None if n is None else n if need else False
                              for n, need in zip(before, ctx.needs_input_grad))
    ctx._fn_inputs = tuple(n for n in ctx._fn_arg_nodes if n is not None)
    xs = tuple(n for n in ctx._fn_arg_nodes if n is not None and n is not False)
    executable = bool(xs) and _state.grad_enabled
    dirty = {id(t) for t in ctx._fn_dirty}
    skip = {id(t) for t in ctx._fn_non_differentiable}
    ctx._fn_specs = [(o._node.shape, o._node.dtype, o.device) if isinstance(o, Tensor)
                     else None for o in outputs]
    ctx._fn_values = [o._node if isinstance(o, Tensor) else None for o in outputs]
    ctx._fn_outputs = [None] * len(outputs)
    results = list(outputs)
    call = _Call(ctx)
    for i, o in enumerate(outputs):
        if not (executable and isinstance(o, Tensor) and id(o) not in skip and
                o.is_floating_point()):
            continue
        if id(o) in dirty:
            _check_dirty(cls, o, args, before)
        value = o._node
        if value.requires_grad:  # an input returned as it is: its value, without history
            value = _state.handler.bind(DETACH, (value,), {})
        attrs = {"_call": call} if len(outputs) == 1 else {"_call": call, "output": i}
        node = _state.handler.bind(cls._op, (value, *xs), attrs)
        ctx._fn_outputs[i] = weakref.ref(node)
        if id(o) in dirty:  # modified in place: the input tensor itself becomes the output
            o._node = node
        else:
            results[i] = _wrap(node)
    ctx._fn_saved = [_saved_entry(t, args, outputs, dirty) for t in ctx._fn_to_save]
    return tuple(results) if isinstance(output, tuple) else results[0]


def _check_dirty(cls: type, t: Tensor, args: tuple, before: list) -> None:
    """A tensor marked dirty must be an input, and not a leaf that requires grad."""
    node = next((n for a, n in zip(args, before) if a is t), None)
    if node is None:
        raise AutogradError(f"{cls.__name__}: mark_dirty() was given a tensor that is not an "
                            "input of forward")
    if node.op is LEAF and node.requires_grad:
        raise AutogradError("a leaf Variable that requires grad is being used in an in-place "
                            f"operation ({cls.__name__}.forward marked it dirty).")


def _saved_entry(t: Tensor | None, args: tuple, outputs: tuple, dirty: set) -> tuple | None:
    """How ``saved_tensors`` finds ``t`` again: an output (not an input returned as it is,
    unless modified in place) is unpacked as the output the caller holds."""
    if t is None:
        return None
    for i, o in enumerate(outputs):
        if o is t and (id(t) in dirty or not any(a is t for a in args)):
            return ("output", i)
    return ("node", t._node)


# ---------------------------------------------------------------- helpers

class InplaceFunction(Function):
    """Kept for code written against PyTorch's legacy class: a Function with ``inplace``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace


class _DelayedError(Function):
    """Identity whose backward raises: the outputs of a @once_differentiable backward."""

    @staticmethod
    def forward(ctx, message, *tensors):
        ctx.message = message
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        raise AutogradError(ctx.message)


def once_differentiable(fn: Callable) -> Callable:
    """Decorates ``backward``: it runs without recording history, and differentiating its
    result (a double backward) raises, as in PyTorch."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev, _state.grad_enabled = _state.grad_enabled, False
        try:
            outputs = fn(ctx, *args)
        finally:
            _state.grad_enabled = prev
        if not prev or not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        parts = (outputs,) if single else outputs
        fake = [p.detach().requires_grad_(True) if isinstance(p, Tensor) and
                p.is_floating_point() else p for p in parts]
        wrapped = _DelayedError.apply("trying to differentiate twice a function that was "
                                      "marked with @once_differentiable", *fake)
        return wrapped[0] if single else wrapped
    return wrapper
