"""The IR: dtypes, shapes, the op registry, nodes and graphs, printer, verifier, autodiff.

Nothing here evaluates ops or knows about Tensor, runtime or codegen; numpy
is used only for dtypes, constants and the reference implementations.
"""
from . import dtypes, ops
from .autodiff import backward_nodes, grad_graph
from .core import EMPTY, LEAF, REGISTRY, Handler, Node, Op, RecordingHandler, bind, use_handler
from .graph import Graph, topo_order
from .printer import print_graph, to_dot
from .verify import verify

__all__ = ["dtypes", "ops", "backward_nodes", "grad_graph", "EMPTY", "LEAF", "REGISTRY",
           "Handler", "Node", "Op", "RecordingHandler", "bind", "use_handler", "Graph",
           "topo_order", "print_graph", "to_dot", "verify"]
