"""Tensor hooks: ``Tensor.register_hook`` and ``register_post_accumulate_grad_hook``.

A hook registered on a tensor lives on its node (``Node.hooks``, a tuple replaced at each
change, so compiled programs can guard on it): autodiff calls it with the node's gradient
once that gradient is complete (for a leaf: before it is accumulated into ``.grad``), and a
tensor it returns replaces the gradient for the rest of backward. Hooks run eagerly in
eager backward, record with ``create_graph=True`` and are traced under ``@graphc.compile``
(they are ops on gradient tensors), like any VJP rule.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable

from ..ir.core import LEAF, Node
from ..ir.errors import ArgumentError, AutogradError
from ..tensor import Tensor, _wrap
from ..utils.hooks import RemovableHandle


class _TensorHookHandle(RemovableHandle):
    """Removes a hook from the tensor's node (a leaf's node changes at in-place updates and
    keeps its hooks) or from the node it was registered on."""

    def __init__(self, tensor: Tensor) -> None:
        super().__init__(None)
        self.tensor_ref = weakref.ref(tensor)
        self.node_ref = weakref.ref(tensor._node)

    def remove(self) -> None:
        tensor = self.tensor_ref()
        for node in (self.node_ref(), tensor._node if tensor is not None else None):
            if node is not None and node.hooks is not None:
                kept = tuple(h for h in node.hooks if h[0] != self.id)
                node.hooks = kept or None


def _on_nodes(hook: Callable, name: str) -> Callable[[Node], Node | None]:
    """``hook`` (Tensor -> Tensor or None) as autodiff calls it (Node -> Node or None)."""
    def run(g: Node) -> Node | None:
        out = hook(_wrap(g))
        if out is None:
            return None
        if not isinstance(out, Tensor):
            raise ArgumentError(f"expected Variable, but hook returned '{type(out).__name__}'")
        new = out._node
        if new.shape != g.shape:
            raise AutogradError(f"hook '{name}' has changed the size of value (from "
                                f"{list(g.shape)} to {list(new.shape)})")
        if new.dtype is not g.dtype:
            raise AutogradError(f"hook '{name}' has changed the type of value (was {g.dtype} "
                                f"got {new.dtype})")
        return new
    return run


def register_hook(self: Tensor, hook: Callable) -> RemovableHandle:
    """``hook(grad) -> Tensor or None``, called with this tensor's gradient at each
    backward; several hooks run in the order they were registered."""
    node = self._node
    if not node.requires_grad:
        raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
    handle = _TensorHookHandle(self)
    name = getattr(hook, "__name__", type(hook).__name__)
    node.hooks = (node.hooks or ()) + ((handle.id, _on_nodes(hook, name)),)
    return handle


def register_post_accumulate_grad_hook(self: Tensor, hook: Callable) -> RemovableHandle:
    """``hook(tensor)``, called after backward() accumulated into this leaf's ``.grad``."""
    if self._node.op is not LEAF:
        raise AutogradError("post accumulate grad hooks cannot be registered on non-leaf "
                            "tensors")
    if not self.requires_grad:
        raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
    hooks = self.__dict__.setdefault("_post_accumulate_grad_hooks", OrderedDict())
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def run_post_accumulate_grad_hooks(t: Tensor) -> None:
    for hook in list(t._post_accumulate_grad_hooks.values()):
        hook(t)


Tensor.register_hook = register_hook
Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook
