"""``@graphc.compile``: trace a function to one Graph, guard on its signature, run it.

Tracing runs the Python function once with symbolic tensors under a
:class:`TracingHandler`: every op records a node, nothing is evaluated.
Concrete tensors the function reaches (globals, closures, module parameters)
become implicit inputs read at every call. ``backward()`` inside the function
runs the autodiff transform at trace time; in-place updates and ``.grad``
writes of concrete tensors are functionalized: recorded as extra outputs and
written back after each call, so a whole training step is one graph.

This module is the front end. It runs the traced graph with the reference
(numpy) interpreter until the LLVM back end (``codegen/``, ``runtime/cpu``)
takes over; every stage it knows is printable with ``.ir(stage)``.
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ir import dtypes as dt
from .ir import ops as P
from .ir.core import EMPTY, LEAF, Node, RecordingHandler, _state, make_leaf, use_handler
from .ir.errors import ArgumentError, GraphcError, TraceError
from .ir.graph import Graph
from .ir.passes import optimize
from .ir.printer import print_graph
from .ir.random import as_int64
from .ir.verify import verify
from .runtime.cpu import NativeProgram
from .runtime.gpu import GpuProgram
from .runtime.gpu_eager import copy_into, is_device_array, writable
from .tensor import Tensor, _wrap
from .tensor import device as tensor_device
from .utils import hooks as hook_handles

RETRACE_WARNING = 8
STAGES = ("graph", "grad", "optimized", "kernels", "llvm", "ptx")


class CompileError(GraphcError, RuntimeError):
    """A function could not be compiled (a bug in graphc, or an unsupported construct)."""


# ---------------------------------------------------------------- the tracer

class TracingHandler(RecordingHandler):
    """Records every node; concrete tensors it meets become implicit inputs."""

    traces = True

    def __init__(self) -> None:
        super().__init__()
        self.captured: dict[int, tuple[Node, Node]] = {}  # id(concrete) -> (concrete, input)
        self.writes: dict[int, tuple[Tensor, Node]] = {}  # id(tensor) -> (tensor, its node)
        self.grads: dict[int, tuple[Tensor, Any]] = {}    # id(tensor) -> (tensor, its .grad)
        self.grad_reads: dict[int, tuple[Tensor, Any]] = {}  # .grad as it was when first read
        self.backward_graphs: list[Graph] = []
        self.arguments: dict[int, int] = {}  # id(symbolic argument tensor) -> its index
        self.rngs: dict[int, list] = {}  # id(generator) -> [it, seed input, offset input, draws]

    def draw(self, g) -> tuple[Node, Node]:
        """(seed, offset) of the next random draw from generator ``g``: inputs read from it
        at each call (plus the draw's number), which advances by the draws after the call,
        as eager mode would."""
        entry = self.rngs.get(id(g))
        if entry is None:
            i = len(self.rngs)
            entry = self.rngs[id(g)] = [g, make_leaf((), dt.int64, name=f"rng{i}_seed"),
                                        make_leaf((), dt.int64, name=f"rng{i}_offset"), 0]
        _, seed, base, k = entry
        entry[3] += 1
        return seed, (base if k == 0 else self.bind(P.ADD, (base, k), {}))

    def symbolic(self, x: Any) -> Any:
        """The traced stand-in for an op input: concrete nodes become implicit inputs."""
        if type(x) is not Node or x.value is None:
            return x
        hit = self.captured.get(id(x))
        if hit is None:
            leaf = make_leaf(x.shape, x.dtype, name=f"captured{len(self.captured)}")
            leaf.requires_grad, leaf.sink, leaf.hooks = x.requires_grad, x.sink, x.hooks
            hit = self.captured[id(x)] = (x, leaf)
        return hit[1]

    def bind(self, op, inputs, attrs) -> Node:
        return super().bind(op, tuple(self.symbolic(x) for x in inputs), attrs)

    def write(self, t: Tensor, new: Node, op: str) -> Tensor:
        """An in-place op on ``t``: its node becomes ``new`` now, its memory after the call."""
        if t._base is not None:
            raise TraceError(f"{op}(): in-place writes through a view are not supported inside "
                             "@graphc.compile yet; write to the base tensor instead")
        if t._node.value is None and id(t) not in self.arguments and id(t) not in self.writes:
            t._node = new  # a tensor made during the trace: no memory outside to write back to
            return t
        self.writes.setdefault(id(t), (t, t._node))
        t._node = new
        return t

    def read_grad(self, t: Tensor) -> None:
        if id(t) not in self.grads:  # reading what the trace wrote itself is no dependency
            self.grad_reads.setdefault(id(t), (t, t._grad))

    def set_grad(self, t: Tensor, value: Tensor | None) -> None:
        """A write of .grad, replayed after every call. A write alone does not make the
        program depend on the .grad it found (``zero_grad()`` then ``backward()`` compiles
        once, not once with no gradients and again with them)."""
        if id(t) in self.arguments:
            if value is None and t._grad is None:
                return
            raise TraceError("inside @graphc.compile, .grad of a tensor passed as an argument "
                             "cannot be written back; reach parameters as captured tensors "
                             "(globals, closures, module attributes) or return gradients "
                             "with graphc.autograd.grad")
        self.grads.setdefault(id(t), (t, t._grad))
        t._grad = value

    def note_backward(self, outs, wrt, order) -> None:
        from .ir import autodiff
        graph, _, _ = autodiff.grad_graph(outs, wrt, order=order)
        self.backward_graphs.append(graph)

    def restore(self) -> None:
        """Give the user's tensors back their concrete nodes and gradients."""
        for t, node in self.writes.values():
            t._node = node
        for t, grad in self.grads.values():
            t._grad = grad


# ---------------------------------------------------------------- arguments

def tree_map(fn: Callable, obj: Any, path: str = "") -> Any:
    """``obj`` with every leaf (anything but a list, tuple or dict) replaced by
    ``fn(leaf, path)``; the path names the leaf, e.g. ``batch['x'][0]``."""
    if isinstance(obj, (list, tuple)):
        items = [tree_map(fn, v, f"{path}[{i}]") for i, v in enumerate(obj)]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        return {k: tree_map(fn, v, f"{path}[{k!r}]") for k, v in obj.items()}
    return fn(obj, path)


@dataclass(frozen=True)
class _TensorSlot:
    index: int


def _flatten(obj: Any, path: str, leaves: list, spec: list) -> Any:
    """Tensors of a nested argument in order; the rest (static values) go into ``spec``."""
    def leaf(x: Any, p: str) -> Any:
        if isinstance(x, Tensor):
            leaves.append((p, x))
            spec.append(("T", p, tuple(x.shape), x.dtype.name, str(x.device), x.requires_grad))
            if x._node.hooks is not None:  # traced into the gradient: a change retraces
                spec.append(("S", f"{p}.hooks", "hooks", tuple(i for i, _ in x._node.hooks)))
            return _TensorSlot(len(leaves) - 1)
        try:
            hash(x)
        except TypeError:
            raise ArgumentError(f"compile: argument {p} of type {type(x).__name__} is neither "
                                "a tensor, a container of tensors nor a hashable static "
                                "value") from None
        spec.append(("S", p, type(x).__name__, x))
        return x
    return tree_map(leaf, obj, path)


def _fill(template: Any, tensors: list) -> Any:
    return tree_map(lambda x, p: tensors[x.index] if isinstance(x, _TensorSlot) else x,
                    template)


def _output_nodes(out: Any, nodes: list) -> Any:
    """The output structure with each tensor replaced by the index of its node."""
    def leaf(x: Any, p: str) -> Any:
        if isinstance(x, Tensor):
            nodes.append(x._node)
            return _TensorSlot(len(nodes) - 1)
        return x
    return tree_map(leaf, out)


def _describe(item: tuple) -> str:
    if item[0] == "T":
        _, path, shape, dtype, device, rg = item
        where = "" if device == "cpu" else f" on {device}"
        return f"{dtype}{list(shape)}{where}{' requires_grad' if rg else ''}"
    return f"{item[2]} {item[3]!r}"


def explain(old: tuple, new: tuple) -> str:
    """One line saying which part of a call's signature changed, from what to what."""
    old_items, new_items = dict((i[1], i) for i in old[1]), dict((i[1], i) for i in new[1])
    for path, item in new_items.items():
        prev = old_items.get(path)
        if prev != item:
            was = _describe(prev) if prev else "absent"
            return f"argument {path} changed from {was} to {_describe(item)}"
    if old[0] != new[0]:
        return f"grad mode changed from {'on' if old[0] else 'off'} to " \
               f"{'on' if new[0] else 'off'}"
    return "the arguments' structure changed"


# ---------------------------------------------------------------- one traced program

@dataclass
class Signature:
    """A call's arguments split into tensors and a hashable key (shapes, dtypes, statics)."""

    key: tuple
    tensors: list[Tensor]
    paths: list[str]
    templates: list
    kw_templates: dict


def signature(fn: Callable, args: tuple, kwargs: dict) -> Signature:
    leaves: list = []
    spec: list = []
    templates = [_flatten(a, n, leaves, spec) for a, n in zip(args, _arg_names(fn, len(args)))]
    kw_templates = {k: _flatten(v, k, leaves, spec) for k, v in kwargs.items()}
    if hasattr(fn, "training"):  # a Module-like callable: train() and eval() trace apart
        spec.append(("S", "training", "bool", bool(fn.training)))
    return Signature((_state.grad_enabled, tuple(spec)), [t for _, t in leaves],
                     [p for p, _ in leaves], templates, kw_templates)


@dataclass
class Program:
    """A traced function for one signature: its graph and how to call and write back.

    Write-back targets are ("arg", i) for the i-th tensor argument of the call, or
    ("tensor", t) for a concrete tensor the function reached.
    """

    graph: Graph                               # as traced
    optimized: Graph                           # after ir.passes.optimize
    native: NativeProgram                      # the optimized graph's kernels, compiled
    arg_inputs: list[Node]
    captured: list[tuple[Node, Node]]         # (concrete node, graph input)
    out_template: Any
    n_outputs: int
    writes: list[tuple]                        # write-back targets, in output order
    grad_writes: list[tuple[Tensor, bool]]     # (tensor, has a value), in output order
    backward_graphs: list[Graph] = field(default_factory=list)
    guards: list[tuple] = field(default_factory=list)  # see check_guards
    grad_guards: list[tuple] = field(default_factory=list)  # (tensor, its .grad when traced)
    rngs: list[tuple] = field(default_factory=list)  # (generator, draws per call)
    # a Module's outputs need gradients (grad mode on, parameters that require grad, no
    # backward() inside): the native program has none to give, so such calls run eagerly
    needs_autograd: bool = False
    module_hooks: int = field(default_factory=lambda: hook_handles.module_hook_changes)

    def __post_init__(self) -> None:
        # captured tensors keep their storage (the guards check it): bound to the native
        # program once, so a call passes only its arguments
        n = len(self.arg_inputs)
        self.captured_values = [None if self.native.bind(n + i, c.value) else c.value
                                for i, (c, _) in enumerate(self.captured)]
        self.single = isinstance(self.out_template, _TensorSlot)
        self.plain = not self.writes and not self.grad_writes and not self.rngs
        self.out_dtypes = [o.dtype if type(o) is Node else None
                           for o in self.optimized.outputs[:self.n_outputs]]
        self.direct = (self.plain and self.single and self.out_dtypes[0] is not None and
                       self.native.out_specs and self.native.simple)
        self.grads_read = {id(t) for t, _ in self.grad_guards}

    def stale(self) -> str | None:
        """Why this program no longer fits the tensors its function reaches, or None."""
        if self.module_hooks != hook_handles.module_hook_changes:
            return "module hooks were registered or removed"
        return ((check_guards(self.guards) if self.guards else None) or
                (_check_grads(self.grad_guards) if self.grad_guards else None))

    def run(self, tensors: list[Tensor]) -> Any:
        if self.direct:  # the common case, kept short: it is most of a small call's cost
            v = self.native.run([t._value() for t in tensors] + self.captured_values)[0]
            return _wrap(Node(LEAF, (), EMPTY, v.shape, self.out_dtypes[0], v, vbox=[0]))
        inputs = [t._value() for t in tensors] + self.captured_values
        for g, n in self.rngs:  # the call's draws, reserved first (threads draw apart)
            inputs += [np.array(as_int64(g._seed)), np.array(g.reserve(n), np.int64)]
        values = self.native.run(inputs)
        if self.plain:
            if self.single:
                return _own(values[0], self.out_dtypes[0])
        else:
            self.write_back(tensors, values)
        return _fill(self.out_template, [_own(v, d) for v, d in
                                         zip(values[:self.n_outputs], self.out_dtypes)])

    def write_back(self, tensors: list[Tensor], values: list) -> None:
        from .indexing import _refresh
        pos = self.n_outputs
        for kind, target in self.writes:
            t = tensors[target] if kind == "arg" else target
            copy_into(t._node.value, values[pos])
            _refresh(t)  # new version, fresh node: as after an eager in-place op
            pos += 1
        for t, has in self.grad_writes:
            if not has:
                t._grad = None
                continue
            g, v = t._grad, values[pos]
            if id(t) not in self.grads_read:  # a fresh array nobody else holds: keep it
                t._grad = _own(v)
            elif g is not None and g.shape == v.shape and writable(g._node.value):
                copy_into(g._node.value, v)  # in place: the program reads
                _refresh(g)                                      # this .grad as an input
            else:
                t._grad = _own(v)
            pos += 1


def _own(v, d: dt.DType | None = None) -> Tensor:
    """A leaf tensor over ``v``, a fresh array the native program returned (it aliases
    no input and no other output); ``d`` is its dtype when known."""
    if not isinstance(v, np.ndarray) and not is_device_array(v):
        v = np.asarray(v)
        d = None
    if d is None:
        d = dt.from_numpy(v.dtype)
    return _wrap(make_leaf(v.shape, d, v))


def trace(fn: Callable, sig: Signature, name: str, device: str = "cpu") -> Program:
    """Run ``fn`` once on symbolic tensors and build its Program for ``device``'s type."""
    handler = TracingHandler()
    inputs = []
    for path, t in zip(sig.paths, sig.tensors):
        leaf = make_leaf(tuple(t.shape), t.dtype, name=_ident(path))
        leaf.requires_grad, leaf.hooks = t.requires_grad, t._node.hooks
        inputs.append(leaf)
    symbolic = [_wrap(n) for n in inputs]
    for t, n in zip(symbolic, inputs):
        if n.requires_grad:  # backward() reaches it as a leaf: see set_grad
            n.sink = weakref.ref(t)
    handler.arguments = {id(t): i for i, t in enumerate(symbolic)}
    try:
        with use_handler(handler):
            out = fn(*[_fill(tpl, symbolic) for tpl in sig.templates],
                     **{k: _fill(tpl, symbolic) for k, tpl in sig.kw_templates.items()})
        out_nodes: list[Node] = []
        out_template = _output_nodes(out, out_nodes)
        writes = [(t, t._node) for t, _ in handler.writes.values()]
        grads = [(t, t._grad) for t, _ in handler.grads.values()]
    finally:
        handler.restore()
    outputs = [handler.symbolic(n) for n in out_nodes]
    outputs += [handler.symbolic(n) for _, n in writes]
    outputs += [handler.symbolic(g._node) for _, g in grads if g is not None]
    captured = list(handler.captured.values())
    guards = _guards(fn, captured)
    grad_guards = [(t, g) for t, g in handler.grad_reads.values()]
    rngs = list(handler.rngs.values())
    all_inputs = inputs + [leaf for _, leaf in captured] + \
        [leaf for _, seed, offset, _ in rngs for leaf in (seed, offset)]
    graph = Graph.from_outputs(outputs, inputs=all_inputs, name=name)
    graph.inputs = all_inputs
    try:
        verify(graph)
        optimized = verify(optimize(graph))
    except Exception as e:  # a malformed graph is always graphc's bug
        raise CompileError(f"compile({name}): the traced graph does not verify: {e}") from e
    try:
        native = GpuProgram(optimized) if device == "cuda" else NativeProgram(optimized)
    except GraphcError:  # the user's (a program too large for this machine's memory)
        raise
    except Exception as e:  # LLVM refused our IR: also graphc's bug, never a crash
        raise CompileError(f"compile({name}): code generation failed: {e}") from e
    targets = [("arg", handler.arguments[id(t)]) if id(t) in handler.arguments else
               ("tensor", t) for t, _ in writes]
    # a compiled Module must behave like the module, so one whose outputs need gradients
    # runs eagerly (see CompiledFunction._eager); a compiled function returns them detached
    needs_autograd = (hasattr(fn, "training") and _state.grad_enabled and
                      not handler.backward_graphs and any(n.requires_grad for n in out_nodes))
    return Program(graph, optimized, native, inputs, captured, out_template, len(out_nodes),
                   targets, [(t, g is not None) for t, g in grads], handler.backward_graphs,
                   guards, grad_guards, [(g, n) for g, _, _, n in rngs], needs_autograd)


def _scope(fn: Callable) -> dict[str, Callable[[], Any]]:
    """The names a function reaches tensors by, each with a getter that reads the name's
    current value: globals it uses, closure variables, and attributes of the object it
    is (or is bound to), as ``self.<attr>``. Built once per trace; guards call getters."""
    scope: dict[str, Callable[[], Any]] = {}
    owner = getattr(fn, "__self__", None) or (None if inspect.isfunction(fn) else fn)
    if owner is not None and hasattr(owner, "__dict__"):
        attrs = vars(owner)
        scope.update({f"self.{k}": functools.partial(attrs.get, k) for k in attrs})
        if fn is owner:  # an object called directly: its class's __call__ is the code
            fn = type(owner).__call__
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is not None:
        glob = getattr(fn, "__globals__", {})
        scope.update({n: functools.partial(glob.get, n) for n in code.co_names if n in glob})
        for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
            scope[name] = functools.partial(_cell_contents, cell)
    # modules the function reaches (itself included) name their parameters and buffers
    for name, get in [("self", functools.partial(_constant, owner)), *scope.items()]:
        for path, t in _module_tensors(get()):
            scope.setdefault(f"{name}.{path}", functools.partial(_constant, t))
    return scope


def _module_tensors(obj: Any) -> list[tuple[str, Tensor]]:
    named = getattr(obj, "named_parameters", None)
    if not callable(named) or not callable(getattr(obj, "named_buffers", None)):
        return []
    try:
        return [*named(), *obj.named_buffers()]
    except Exception:  # noqa: BLE001  (an object that only looks like a Module)
        return []


def _constant(v: Any) -> Any:
    return v


def _cell_contents(cell) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _guards(fn: Callable, captured: list[tuple[Node, Node]]) -> list[tuple]:
    """Name the implicit inputs after the variables holding them and return what to check
    before each call: (name, getter, tensor, its storage, requires_grad)."""
    by_node = {}
    for name, get in _scope(fn).items():
        v = get()
        if isinstance(v, Tensor):
            by_node[id(v._node)] = (name, get, v)
    guards = []
    for concrete, leaf in captured:
        name, get, tensor = by_node.get(id(concrete), (None, None, None))
        if name is not None:
            leaf.name = _ident(name)
        if get is not None and get.func is _constant:
            get = None  # a module's parameter: found by its path at trace time only
        if tensor is None and concrete.sink is not None:
            tensor = concrete.sink()  # a parameter's node knows its tensor
        guards.append((name or leaf.name, get, tensor, concrete, concrete.value,
                       concrete.requires_grad, concrete.hooks))
    return guards


def _check_grads(grad_guards: list[tuple]) -> str | None:
    """The program read or wrote these tensors' .grad: each must be the same object (or
    None) as when it was traced; write-backs keep it so, call after call."""
    for t, g in grad_guards:
        if t._grad is not g:
            now = "None" if t._grad is None else "a new tensor"
            return f".grad of a captured {t.dtype.name}{list(t.shape)} tensor is now {now}"
    return None


def check_guards(guards: list[tuple]) -> str | None:
    """Why a traced program no longer fits the tensors its function reaches, or None."""
    for name, get, tensor, node, storage, requires_grad, hooks in guards:
        if get is not None and get() is not tensor:
            return f"captured tensor {name} was rebound to another object"
        if tensor is not None:
            node = tensor._node
        if node.value is not storage:
            return f"captured tensor {name} has new storage (.data or set_ replaced it)"
        if node.requires_grad != requires_grad:
            return f"captured tensor {name} changed requires_grad to {node.requires_grad}"
        if node.hooks is not hooks:
            return f"captured tensor {name} has other hooks (register_hook or remove)"
    return None


def _ident(path: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in path).strip("_") or "arg"


def _arg_names(fn: Callable, n: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"arg{i}" for i in range(n)]


# ---------------------------------------------------------------- the compiled callable

class CompiledFunction:
    """What ``graphc.compile(fn)`` returns: call it like ``fn``; ``.ir(stage)`` shows stages."""

    quiet = False  # True: retraces are nobody's concern (fused composites), no notes

    def __init__(self, fn: Callable, device=None) -> None:
        # a module's attributes are read through __getattr__, never copied
        functools.update_wrapper(self, fn, updated=() if hasattr(fn, "training") else
                                 functools.WRAPPER_UPDATES)
        self.fn = fn
        self.device = None if device is None else tensor_device(device).type
        self.cache: dict[tuple, Program] = {}
        self.last: Program | None = None
        self.last_key: tuple | None = None
        self.retraces = 0
        self.name = getattr(fn, "__name__", type(fn).__name__)
        # calls with only tensor arguments: (grad mode, train mode, per tensor: shape,
        # dtype, requires_grad) -> (program, its full signature key)
        self.fast: dict[tuple, tuple[Program, tuple]] = {}
        self.has_training = hasattr(fn, "training")
        self.warned_eager = False
        # threads missing the cache at once: one traces, the others then find its program
        self.tracing = threading.RLock()

    def _program(self, args: tuple, kwargs: dict) -> tuple[Program, Signature]:
        sig = signature(self.fn, args, kwargs)
        with self.tracing:
            return self._program_for(sig), sig

    def _program_for(self, sig: Signature) -> Program:
        program = self.cache.get(sig.key)
        stale = program is not None and program.stale()
        if program is None or stale:
            if self.last_key is not None or stale:
                self.retraces += 1
                reason = stale or explain(self.last_key, sig.key)
                if _debug_level() >= 1 and not self.quiet:
                    print(f"graphc.compile({self.name}): retracing: {reason}", file=sys.stderr)
                if self.retraces == RETRACE_WARNING and not self.quiet:
                    warnings.warn(f"graphc.compile({self.name}) has retraced {self.retraces} "
                                  f"times (last: {reason}); calls with varying shapes or "
                                  "static values each compile anew", stacklevel=4)
            device = self.device or ("cuda" if any(t.is_cuda for t in sig.tensors) else "cpu")
            program = self.cache[sig.key] = trace(self.fn, sig, self.name, device)
            _report(program, self.name)
        self.last, self.last_key = program, sig.key
        return program

    def __call__(self, *args, **kwargs):
        key = None
        if not kwargs:
            try:  # devices join this key with the CUDA path
                key = (_state.grad_enabled, self.has_training and self.fn.training,
                       *[(a._node.shape, a._node.dtype, a._node.requires_grad, a._node.hooks)
                         for a in args])
            except AttributeError:  # not all arguments are tensors: the general path
                key = None
            else:
                hit = self.fast.get(key)
                if hit is not None and not hit[0].stale() and not hit[0].needs_autograd:
                    self.last, self.last_key = hit
                    return hit[0].run(args)
        program, sig = self._program(args, kwargs)
        if key is not None and all(isinstance(a, Tensor) for a in args):
            self.fast[key] = (program, sig.key)
        if program.needs_autograd:
            return self._eager(args, kwargs)
        return program.run(sig.tensors)

    def _eager(self, args: tuple, kwargs: dict):
        if not self.warned_eager:
            self.warned_eager = True
            warnings.warn(f"graphc.compile({self.name}): its outputs need gradients here "
                          "(grad mode on, parameters that require grad), which compiled code "
                          "does not give yet, so it runs eagerly. Compile the whole training "
                          "step (forward, loss.backward(), optimizer.step()) instead, or call "
                          "it under graphc.no_grad() for inference", stacklevel=3)
        return self.fn(*args, **kwargs)

    def __getattr__(self, name: str):
        """The compiled module's own attributes: ``parameters()``, ``train()``, ``eval()``..."""
        if name == "fn":
            raise AttributeError(name)
        return getattr(self.fn, name)

    def lower(self, *args, **kwargs) -> CompiledFunction:
        """Trace for these example arguments without running; then ``.ir(stage)`` works."""
        self._program(args, kwargs)
        return self

    def last_graph(self, stage: str = "graph") -> list[Graph]:
        """The graphs of a stage for the last traced signature."""
        if self.last is None:
            raise ArgumentError(f"{self.name}.ir(): call the function or .lower(*args) first")
        if stage == "graph":
            return [self.last.graph]
        if stage == "grad":
            return self.last.backward_graphs
        if stage == "optimized":
            return [self.last.optimized]
        if stage in ("kernels", "llvm", "llvm-unoptimized", "ptx"):
            return [stage]
        raise ArgumentError(f"{self.name}.ir(): unknown stage {stage!r}; expected one of "
                            f"{STAGES}")

    def ir(self, stage: str = "graph") -> str:
        graphs = self.last_graph(stage)
        native = self.last.native
        if stage == "kernels":
            return native.describe()
        if stage == "ptx":  # a CPU program's graph lowered for the GPU on request
            gpu = native if isinstance(native, GpuProgram) else GpuProgram(self.last.optimized)
            return gpu.ptx
        if isinstance(native, GpuProgram) and stage in ("llvm", "llvm-unoptimized"):
            return native.llvm_ir
        if stage in ("llvm", "llvm-unoptimized"):
            if native.compiled is None:
                return "; no kernels: every node runs in the interpreter"
            return native.compiled.optimized_ir if stage == "llvm" else native.compiled.llvm_ir
        if not graphs:
            return f"# {self.name} calls no backward()"
        return "\n".join(print_graph(g) for g in graphs)


def compile(fn: Callable | None = None, *, device=None):  # noqa: A001
    """``@graphc.compile`` or ``graphc.compile(fn)``: trace once per signature, then run."""
    if fn is None:
        return lambda f: CompiledFunction(f, device)
    return CompiledFunction(fn, device)


def _report(program: Program, name: str) -> None:
    """GRAPHC_DEBUG=2 prints the traced graph, 3 the gradient and optimized graphs and the
    kernels too, 4 the LLVM IR as well; GRAPHC_DUMP_DIR gets every stage as files: text
    and Graphviz DOT for graphs, ``.kernels.txt``, and the optimized ``.ll``."""
    from .ir.printer import to_dot
    stages = [("graph", [program.graph]), ("grad", program.backward_graphs),
              ("optimized", [program.optimized])]
    level = _debug_level()
    for i, (stage, graphs) in enumerate(stages):
        if graphs and level >= 2 + (i > 0):
            print(f"--- graphc.compile({name}): {stage}", file=sys.stderr)
            print("\n".join(print_graph(g) for g in graphs), file=sys.stderr)
    native = program.native
    gpu = isinstance(native, GpuProgram)
    llvm_ir = native.llvm_ir if gpu else \
        native.compiled.optimized_ir if native.compiled else "; no kernels\n"
    for stage, text, at in (("kernels", native.describe(), 3), ("llvm", llvm_ir, 4)):
        if level >= at:
            print(f"--- graphc.compile({name}): {stage}", file=sys.stderr)
            print(text, file=sys.stderr)
    folder = os.environ.get("GRAPHC_DUMP_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for stage, graphs in stages:
            for k, g in enumerate(graphs):
                base = os.path.join(folder, f"{_ident(name)}.{stage}{k if k else ''}")
                with open(base + ".txt", "w") as f:
                    f.write(print_graph(g) + "\n")
                with open(base + ".dot", "w") as f:
                    f.write(to_dot(g) + "\n")
        base = os.path.join(folder, _ident(name))
        with open(base + ".kernels.txt", "w") as f:
            f.write(native.describe() + "\n")
        with open(base + ".ll", "w") as f:
            f.write(llvm_ir)
        if gpu:
            with open(base + ".ptx", "w") as f:
                f.write(native.ptx)


def _debug_level() -> int:
    try:
        return int(os.environ.get("GRAPHC_DEBUG", "0") or 0)
    except ValueError:
        return 1

