"""IR dumps of eager tensors: the recorded forward graph and the gradient graph."""
from __future__ import annotations

from .ir.errors import ArgumentError
from .ir.graph import Graph
from .ir.printer import print_graph
from .ir.printer import to_dot as _graph_to_dot
from .tensor import Tensor

STAGES = ("graph", "grad")


def _graph_of(obj, args, stage: str) -> Graph:
    if isinstance(obj, Tensor):
        if args:
            raise ArgumentError("dump_ir(tensor, ...) takes no example arguments")
        if stage == "graph":
            return Graph.from_outputs([obj._node], name="graph")
        if stage == "grad":
            from .autograd import gradient_graph
            if not obj.requires_grad:
                raise ArgumentError("dump_ir(stage='grad'): the tensor does not require grad, "
                                    "so backward() would have no graph")
            return gradient_graph(obj)
        raise ArgumentError(f"dump_ir(): unknown stage {stage!r} for a tensor; expected one of "
                            f"{STAGES}")
    if callable(obj):
        from .compiler import CompiledFunction
        compiled = obj if isinstance(obj, CompiledFunction) else CompiledFunction(obj)
        return compiled.lower(*args).last_graph(stage)
    raise ArgumentError(f"dump_ir(): expected a tensor or a function, got {type(obj).__name__}")


def dump_ir(obj, *args, stage: str = "graph") -> str:
    """The IR behind ``obj`` as text: a tensor's recorded graph, or a function traced on
    example arguments (see DESIGN.md, "Dumping IR")."""
    graphs = _graph_of(obj, args, stage)
    graphs = graphs if isinstance(graphs, list) else [graphs]
    return "\n".join(print_graph(g) for g in graphs)


def to_dot(obj, *args, stage: str = "graph") -> str:
    """The same graph as ``dump_ir`` in Graphviz DOT."""
    graphs = _graph_of(obj, args, stage)
    graphs = graphs if isinstance(graphs, list) else [graphs]
    return "\n".join(_graph_to_dot(g) for g in graphs)
