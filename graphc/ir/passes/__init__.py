"""Graph → Graph passes: simplification, constant folding, CSE, DCE.

Each pass is a function from Graph to Graph in its own module, written with the
one rewriting engine in ``rewrite.py``; ``optimize`` runs them to a fixed point.
Fusion comes with the kernel IR (``codegen/``), which decides what a kernel is.
"""
from __future__ import annotations

from ..graph import Graph
from .cse import cse
from .dce import dce
from .fold import fold_constants
from .simplify import simplify

PIPELINE = (simplify, fold_constants, cse, dce)


def optimize(graph: Graph, max_rounds: int = 4) -> Graph:
    """Run the pipeline until the graph stops shrinking."""
    for _ in range(max_rounds):
        size = len(graph.nodes)
        for p in PIPELINE:
            graph = p(graph)
        if len(graph.nodes) == size:
            break
    return graph


__all__ = ["optimize", "simplify", "fold_constants", "cse", "dce", "PIPELINE"]
