"""Autograd: backward(), grad(), grad modes, and the JAX-style grad transforms.

``backward()`` records the gradient graph of the recorded forward graph
(``ir.autodiff.grad_graph``), evaluates it with numpy (or re-binds it through
the eager handler when ``create_graph=True``, which records higher-order
history), accumulates into leaves' ``.grad`` and frees the forward graph.
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence

from ..creation import full
from ..ir import autodiff
from ..ir.core import LEAF, Node, _state, make_leaf, use_handler
from ..ir.errors import AutogradError, ShapeError, TraceError
from ..ir.graph import Graph
from ..ir.printer import print_graph
from ..runtime import eager, gpu_eager, replay
from ..runtime.gpu_eager import copy_of, writable
from ..tensor import Tensor, _t, _wrap
from . import function, tensor_hooks  # noqa: F401  (autograd.function as torch's)
from .function import Function, FunctionCtx, InplaceFunction, once_differentiable  # noqa: F401
from .variable import Variable  # noqa: F401

# ---------------------------------------------------------------- grad modes

class _GradMode:
    """Base of the grad-mode context managers; each also works as a decorator. Grad mode is
    per thread, as PyTorch's: switching it leaves other threads' ops alone."""

    def __new__(cls, *args):
        if cls._bare_decorator and len(args) == 1 and callable(args[0]):
            return cls()(args[0])  # a bare ``@graphc.no_grad``, as PyTorch allows
        return super().__new__(cls)

    _bare_decorator = True

    def __init__(self, *args) -> None:
        self.args = args

    def target(self) -> bool:
        raise NotImplementedError

    def __enter__(self) -> None:
        self.prev = _state.grad_enabled
        _state.grad_enabled = self.target()

    def __exit__(self, *exc) -> None:
        _state.grad_enabled = self.prev

    def __call__(self, fn: Callable) -> Callable:
        cls, args = type(self), self.args

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with cls(*args):  # a fresh manager per call: reentrant and thread-agnostic
                return fn(*a, **kw)
        return wrapper


class no_grad(_GradMode):
    """``with graphc.no_grad():`` — ops inside record no history."""

    def target(self) -> bool:
        return False


class enable_grad(_GradMode):
    """``with graphc.enable_grad():`` — record history even inside no_grad."""

    def target(self) -> bool:
        return True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(mode)`` switches at once; as a context manager it restores after."""

    _bare_decorator = False

    def __init__(self, mode: bool = True) -> None:
        super().__init__(mode)
        self.prev = _state.grad_enabled
        _state.grad_enabled = bool(mode)

    def target(self) -> bool:
        return bool(self.args[0])

    def __enter__(self) -> None:  # the switch happened in __init__; keep its saved state
        _state.grad_enabled = self.target()

    def __call__(self, fn: Callable) -> Callable:
        _state.grad_enabled = self.prev  # used as a decorator: do not switch at definition
        return super().__call__(fn)


class inference_mode(_GradMode):
    """``inference_mode()`` is ``no_grad()``; ``inference_mode(False)`` changes nothing."""

    def __init__(self, mode: bool = True) -> None:
        super().__init__(mode)

    def target(self) -> bool:
        return _state.grad_enabled and not self.args[0]


def is_grad_enabled() -> bool:
    return _state.grad_enabled


# ---------------------------------------------------------------- the engine

def _seed(out: Tensor, grad) -> Node:
    if grad is None:
        if out.numel() != 1:
            raise AutogradError(f"grad can be implicitly created only for scalar outputs "
                                f"(backward() on a tensor of shape {list(out.shape)}); pass "
                                "`gradient` with the same shape")
        return full(out.shape, 1, dtype=out.dtype, device=out.device)._node
    g = _t(grad)
    if g.shape != out.shape:
        raise ShapeError(f"Mismatch in shape: grad_output has a shape of {list(g.shape)} and "
                         f"output has a shape of {list(out.shape)}")
    return g._node


def _run(outputs: Sequence[Tensor], grads, wrt: Sequence[Node], retain_graph, create_graph,
         order: list[Node] | None = None):
    """Gradient tensors (or None) of ``wrt``; frees the graph unless retained."""
    outs = [t._node for t in outputs]
    if _state.handler.traces:  # concrete tensors stand for the tracer's implicit inputs
        outs = [_state.handler.symbolic(n) for n in outs]
        wrt = [_state.handler.symbolic(n) for n in wrt]
    for t in outputs:
        if not t.requires_grad:
            raise AutogradError("element 0 of tensors does not require grad and does not have a "
                                "grad_fn")
    seeds = [_seed(t, g) for t, g in zip(outputs, grads)]
    if order is None or _state.handler.traces:
        order = autodiff.forward_order(outs)
    if os.environ.get("GRAPHC_DEBUG", "0") not in ("", "0"):
        _print_gradient_graph(outs, wrt, order)
    # The transform that grad_graph() records runs here under the eager handler: each
    # VJP node is evaluated as it is built (with history when create_graph=True), and
    # every forward value it reads is first checked for in-place modification.
    tracing = _state.handler.traces  # inside @graphc.compile: the gradient is traced too
    if tracing:
        _state.handler.note_backward(outs, wrt, order)
    # a forward graph of a structure seen before: its recorded gradient graph, evaluated
    # (numpy's: CUDA tensors take the per-op path, each op a GPU program)
    host = not any(gpu_eager.is_device_array(s.value) for s in seeds if type(s) is Node) and \
        not any(n.op is gpu_eager.TO_DEVICE for n in order)
    grads_out = None if tracing or create_graph or not host else \
        replay.gradients(outs, seeds, wrt, order)
    if grads_out is None:
        gpu_eager.in_backward.active = not host
        try:
            with use_handler(_state.handler if tracing else eager.CHECKED_EAGER), \
                    set_grad_enabled(create_graph):
                grads_out = autodiff.backward_nodes(outs, seeds, wrt, order)
        finally:
            gpu_eager.in_backward.active = False
    given = {id(s) for s in seeds}
    results = []
    for g in grads_out:
        # never alias a user's tensor (a forward node, as all that require grad, or a seed) or
        # another gradient (a + b gives both one node), nor hand out read-only memory (a sum's
        # gradient is an expanded view): ``.grad.zero_()`` and ``.grad += ...`` must work
        if g is not None and not tracing and not (create_graph and g.requires_grad) and (
                g.requires_grad or id(g) in given or not writable(g.value)):
            g = make_leaf(g.shape, g.dtype, copy_of(g.value))
        if g is not None:
            given.add(id(g))
        results.append(None if g is None else _wrap(g))
    if not (retain_graph if retain_graph is not None else create_graph) and not tracing:
        _free(order)
    return results


def _print_gradient_graph(outs: list[Node], wrt: Sequence[Node], order: list[Node]) -> None:
    """GRAPHC_DEBUG's print of the gradient graph; one whose Python (a custom Function's
    backward, a hook) branches on gradient values cannot be recorded, only run."""
    try:
        text = print_graph(autodiff.grad_graph(outs, wrt, order=order)[0])
    except TraceError as e:
        text = f"# the gradient graph cannot be recorded (it runs eagerly): {e}"
    print(text, file=sys.stderr)


def _free(order: Sequence[Node]) -> None:
    """Drop the recorded history of the nodes in ``order`` (what retain_graph=False promises)."""
    for n in order:
        if n.op is not LEAF:
            n.inputs = ()
            n.freed = True
            if n.op.group is not None:  # a custom Function's call: its saved tensors go too
                n.op.group(n).release()


def _sinks(outputs: Sequence[Tensor]) -> list[Node]:
    """Nodes whose gradient lands in a tensor's .grad: leaves and retain_grad() tensors."""
    return [n for n in autodiff.forward_order([t._node for t in outputs]) if n.sink is not None]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad``, as PyTorch does."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors)
    order = autodiff.forward_order([t._node for t in tensors])
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        wrt = [t._node for t in inputs]
    else:
        wrt = [n for n in order if n.sink is not None]
    grads = _run(tensors, grad_tensors, wrt, retain_graph, create_graph, order)
    for node, g in zip(wrt, grads):
        target = node.sink() if node.sink is not None else None
        if g is None or target is None:
            continue
        if not create_graph and g.requires_grad:  # else g is history-free already
            g = g.detach()
        prev = target.grad
        if prev is None:
            target.grad = g
        elif create_graph or prev.requires_grad or _state.handler.traces:
            target.grad = prev + g
        else:  # in place, as PyTorch accumulates: references to .grad stay current
            with no_grad():
                prev.add_(g)
        if target._post_accumulate_grad_hooks:
            tensor_hooks.run_post_accumulate_grad_hooks(target)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``."""
    single = isinstance(inputs, Tensor)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    for t in inputs:
        if not t.requires_grad:
            raise AutogradError("One of the differentiated Tensors does not require grad")
    grads = _run(outputs, grad_outputs, [t._node for t in inputs], retain_graph, create_graph)
    for i, g in enumerate(grads):
        if g is None:
            if materialize_grads:
                from ..creation import zeros_like
                grads[i] = zeros_like(inputs[i])
            elif not allow_unused:
                raise AutogradError("One of the differentiated Tensors appears to not have been "
                                    "used in the graph. Set allow_unused=True if this is the "
                                    "desired behavior.")
    return tuple(grads)


def gradient_graph(t: Tensor) -> Graph:
    """The graph ``t.backward()`` would run (inputs: the seed, then forward values read)."""
    wrt = _sinks([t])
    graph, _, _ = autodiff.grad_graph([t._node], wrt)
    return graph


# ---------------------------------------------------------------- function transforms

def _argnums(argnums, n: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    return tuple(a % n for a in nums)


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """``value_and_grad(f)(x) -> (f(x), df/dx)``: JAX's transform over graphc's autodiff."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        args = list(args)
        nested = False  # an argument already on a tape: an outer grad differentiates us
        for i in nums:
            a = _t(args[i])
            if a.requires_grad and _state.grad_enabled:
                nested = True
            else:
                a = a.detach().requires_grad_(True)
            args[i] = a
        with enable_grad():
            result = fn(*args, **kwargs)
        value, aux = result if has_aux else (result, None)
        if not isinstance(value, Tensor) or value.numel() != 1:
            raise AutogradError("grad(f): f must return a scalar tensor, got "
                                f"{getattr(value, 'shape', type(value).__name__)}")
        grads = grad(value, [args[i] for i in nums], create_graph=nested, allow_unused=True,
                     materialize_grads=True)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        if not nested:
            value = value.detach()
        return ((value, aux), g) if has_aux else (value, g)
    return wrapped


def grad_transform(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """``graphc.grad(f)(x) -> df/dx`` for a scalar-valued ``f``."""
    vg = value_and_grad(fn, argnums, has_aux)

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapped


from . import functional  # noqa: E402, F401  (it uses grad and the grad modes above)
