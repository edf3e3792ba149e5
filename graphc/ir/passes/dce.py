"""Dead code elimination: drop the nodes no output needs."""
from __future__ import annotations

from ..graph import Graph
from .rewrite import rewrite


def dce(graph: Graph) -> Graph:
    return rewrite(graph)
