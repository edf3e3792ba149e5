"""Text and Graphviz views of a Graph: the first debugging tool, designed for people.

    graph backward(%grad_out: f32[], %x: f32[1] param) -> (f32[1]) {
      %0 = mul %x, 3.0            : f32[1]    # train.py:12
      return %0
    }
"""
from __future__ import annotations

import numpy as np

from .core import LEAF, Node
from .errors import format_loc
from .graph import Graph


def type_str(n: Node) -> str:
    return f"{n.dtype.short}[{','.join(map(str, n.shape))}]"


def _literal(x) -> str:
    if isinstance(x, float):
        return repr(x)
    return str(x)


def _attr(v) -> str:
    if isinstance(v, np.ndarray):
        if v.size <= 4:
            return np.array2string(v.ravel(), separator=",").replace(" ", "")
        return f"<{v.dtype}{list(v.shape)}>"
    if isinstance(v, tuple):
        return "(" + ",".join(_attr(e) for e in v) + ("," if len(v) == 1 else "") + ")"
    if hasattr(v, "short"):
        return v.short
    if isinstance(v, str):
        return repr(v)
    return _literal(v)


def node_names(graph: Graph) -> dict[int, str]:
    """``%name`` for inputs (their own name or ``%in<i>``), ``%<i>`` for nodes."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for i, n in enumerate(graph.inputs):
        base = n.name or (f"in{i}" if n.op is LEAF else f"{n.op.name}{i}")
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[id(n)] = "%" + name
    for i, n in enumerate(graph.nodes):
        names[id(n)] = f"%{i}"
    return names


def _role(n: Node) -> str:
    """' param' for leaves that require grad, ' saved' for forward values a backward reads."""
    if n.freed:
        return " freed"
    if n.op is not LEAF:
        return " saved"
    return " param" if n.requires_grad else ""


def print_graph(graph: Graph) -> str:
    """The graph as SSA text: one node per line with its type and source line."""
    names = node_names(graph)

    def ref(x) -> str:
        return names.get(id(x), "%?") if type(x) is Node else _literal(x)

    params = ", ".join(
        f"{names[id(n)]}: {type_str(n)}{_role(n)}"
        for n in graph.inputs)
    results = ", ".join(type_str(o) if type(o) is Node else _literal(o) for o in graph.outputs)
    lines = [f"graph {graph.name}({params}) -> ({results}) {{"]
    for n in graph.nodes:
        args = ", ".join(ref(x) for x in n.inputs)
        attrs = " ".join(f"{k}={_attr(v)}" for k, v in n.attrs.items()  # (shape and dtype
                         if not (not n.inputs and k in ("shape", "dtype"))  # are in the type;
                         and not k.startswith("_"))  # "_" attributes are Python objects)
        text = f"  {names[id(n)]} = {n.op.name}" + (f" {args}" if args else "")
        text += f" {attrs}" if attrs else ""
        text = f"{text:<40} : {type_str(n):<14}"
        if n.loc is not None:
            text += f"  # {format_loc(n.loc)}"
        lines.append(text.rstrip())
    lines.append("  return " + ", ".join(ref(o) for o in graph.outputs))
    lines.append("}")
    return "\n".join(lines)


def _dot_escape(s: str) -> str:
    """A DOT string body: backslashes and quotes escaped, newlines as DOT's ``\\n``."""
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(graph: Graph) -> str:
    """Graphviz DOT: one vertex per input and node, one edge per use of a node."""
    names = node_names(graph)
    out = [f'digraph "{_dot_escape(graph.name)}" {{', "  rankdir=TB;",
           '  node [shape=box, fontname="monospace"];']
    for n in graph.inputs + graph.nodes:
        label = names[id(n)]
        if n in graph.inputs:
            label += f"\n{type_str(n)}"
            style = ", style=filled, fillcolor=lightblue" if n.requires_grad else ""
        else:
            lits = [_literal(x) for x in n.inputs if type(x) is not Node]
            label += f" = {n.op.name}" + (f" {', '.join(lits)}" if lits else "")
            label += f"\n{type_str(n)}"
            style = ""
        out.append(f'  n{id(n)} [label="{_dot_escape(label)}"{style}];')
    for n in graph.nodes:
        for x in n.inputs:
            if type(x) is Node:
                out.append(f"  n{id(x)} -> n{id(n)};")
    out.append("}")
    return "\n".join(out)
