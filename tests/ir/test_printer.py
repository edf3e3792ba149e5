"""The text and DOT views of graphs recorded behind eager tensors (DESIGN.md, "Dumping IR")."""
from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

import graphc
from graphc.autograd import gradient_graph
from graphc.ir import Graph, Node, print_graph

THIS_FILE = os.path.basename(__file__)

HEADER = re.compile(r"^graph (\w+)\((.*)\) -> \((.*)\) \{$")
PARAM = re.compile(r"^(%\w+): (\w+\[[\d,]*\])( param| saved| freed)?$")
NODE = re.compile(r"^  (%\d+) = (\w+)(.*?)\s+: (\w+\[[\d,]*\])(?:\s+# (\S+):(\d+))?$")
REF = re.compile(r"%\w+")


def here() -> int:
    """The caller's line number: ``y, line = f(x), here()`` records where ``y`` was made."""
    return sys._getframe(1).f_lineno


def strip_locs(text: str) -> list[str]:
    """The dump's lines without ``# file:line`` comments and with whitespace collapsed."""
    return [" ".join(line.split("#", 1)[0].split()) for line in text.splitlines()]


def expect(text: str, want: str) -> None:
    """FileCheck-like: ``text`` equals ``want`` line by line, comments and spacing aside."""
    assert strip_locs(text) == [line for line in strip_locs(want) if line]


def parse(text: str):
    """(name, params, result types, node lines as match objects, returned refs)."""
    lines = text.splitlines()
    head = HEADER.match(lines[0])
    assert head, f"bad header: {lines[0]!r}"
    assert lines[-1] == "}"
    assert lines[-2].startswith("  return ")
    params = [PARAM.match(p) for p in head.group(2).split(", ")] if head.group(2) else []
    assert all(params), head.group(2)
    nodes = [NODE.match(line) for line in lines[1:-2]]
    assert all(nodes), [line for line, m in zip(lines[1:-2], nodes, strict=True) if not m]
    returned = lines[-2][len("  return "):].split(", ")
    return head.group(1), params, head.group(3), nodes, returned


def check_ssa(text: str) -> None:
    """Every name defined once, every use after its definition, returns defined."""
    _, params, _, nodes, returned = parse(text)
    defined = [p.group(1) for p in params]
    assert len(set(defined)) == len(defined), defined
    for k, m in enumerate(nodes):
        assert m.group(1) == f"%{k}", "nodes are numbered in order"
        for use in REF.findall(m.group(3)):
            assert use in defined, f"{use} used before its definition in {m.group(0)!r}"
        assert m.group(1) not in defined, f"{m.group(1)} defined twice"
        defined.append(m.group(1))
    for r in returned:
        assert r in defined or not r.startswith("%"), r
    for k in range(len(nodes)):
        assert len(re.findall(rf"^  %{k} = ", text, flags=re.M)) == 1


def check_against_graph(text: str, graph: Graph) -> None:
    """The dump lists the graph's inputs, nodes (op, type) and outputs in order."""
    name, params, results, nodes, returned = parse(text)
    assert name == graph.name
    assert [p.group(2) for p in params] == [type_of(n) for n in graph.inputs]
    assert results == ", ".join(type_of(o) for o in graph.outputs)
    assert len(nodes) == len(graph.nodes)
    for m, n in zip(nodes, graph.nodes, strict=True):
        assert m.group(2) == n.op.name
        assert m.group(4) == type_of(n)
        n_refs = sum(type(x) is Node for x in n.inputs)
        assert len(REF.findall(m.group(3))) == n_refs
    assert len(returned) == len(graph.outputs)


def type_of(n: Node) -> str:
    return f"{n.dtype.short}[{','.join(map(str, n.shape))}]"


def leaf(*shape, dtype=graphc.float32):
    return graphc.arange(float(np.prod(shape))).reshape(shape).type(dtype).requires_grad_(True)


# ---------------------------------------------------------------- exact dumps

def test_forward_dump_exact():
    x = leaf(2, 3)
    y = (x * 3) ** 2
    expect(graphc.dump_ir(y), """
        graph graph(%in0: f32[2,3] param) -> (f32[2,3]) {
          %0 = mul %in0, 3      : f32[2,3]
          %1 = pow %0, 2        : f32[2,3]
          return %1
        }""")


def test_gradient_dump_exact():
    x = leaf(2, 3)
    y = (x * 3) ** 2
    expect(graphc.dump_ir(y, stage="grad"), """
        graph backward(%grad_out: f32[2,3], %mul1: f32[2,3] saved) -> (f32[2,3]) {
          %0 = mul %mul1, 2.0      : f32[2,3]
          %1 = mul %grad_out, %0   : f32[2,3]
          %2 = mul %1, 3           : f32[2,3]
          return %2
        }""")


def test_gradient_of_scalar_dump_exact():
    x = leaf(2, 3)
    s = ((x * 3) ** 2).sum()
    expect(graphc.dump_ir(s), """
        graph graph(%in0: f32[2,3] param) -> (f32[]) {
          %0 = mul %in0, 3                       : f32[2,3]
          %1 = pow %0, 2                         : f32[2,3]
          %2 = sum %1 axes=(0,1) keepdims=False  : f32[]
          return %2
        }""")
    expect(graphc.dump_ir(s, stage="grad"), """
        graph backward(%grad_out: f32[], %mul1: f32[2,3] saved) -> (f32[2,3]) {
          %0 = expand %grad_out shape=(2,3)      : f32[2,3]
          %1 = mul %mul1, 2.0                    : f32[2,3]
          %2 = mul %0, %1                        : f32[2,3]
          %3 = mul %2, 3                         : f32[2,3]
          return %3
        }""")
    # the printed gradient graph is the one backward() runs: same numbers
    s.backward()
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.detach().numpy())


def test_two_inputs_and_reused_value_exact():
    x, w = leaf(2, 3), leaf(3, 2, dtype=graphc.float64)
    y = x.double() @ w
    z = y * y + 1.5
    expect(graphc.dump_ir(z), """
        graph graph(%in0: f32[2,3] param, %in1: f64[3,2] param) -> (f64[2,2]) {
          %0 = cast %in0 dtype=f64               : f64[2,3]
          %1 = matmul %0, %in1                   : f64[2,2]
          %2 = mul %1, %1                        : f64[2,2]
          %3 = add %2, 1.5                       : f64[2,2]
          return %3
        }""")


def test_tensor_without_history_dumps_as_its_input():
    t = graphc.tensor([1, 2, 3])
    expect(graphc.dump_ir(t), """
        graph graph(%in0: i64[3]) -> (i64[3]) {
          return %in0
        }""")


# ---------------------------------------------------------------- structure of dumps

def _composites():
    """(name, output tensor, line it was made on) for several composite ops."""
    x, w, b = leaf(3, 4), leaf(4, 5), leaf(5)
    idx = graphc.tensor([2, 0])
    return [
        ("softmax", *(graphc.softmax(x / 10, dim=1).sum(), here())),
        ("var", *(x.var(dim=0, keepdim=True).mean(), here())),
        ("mlp", *(graphc.relu(x @ w + b).sum(), here())),
        ("index", *((x[idx][:, 1:] * x[1:, ::2].sum()).sum(), here())),
        ("log_softmax_nll", *(-graphc.log_softmax(x, 1)[graphc.arange(2), idx].mean(), here())),
        ("max_std", *(x.max(dim=1).values.sum() + x.std(), here())),
        ("cat_tanh", *(graphc.cat([x, x * 2], dim=0).tanh().sum(), here())),
    ]


@pytest.mark.parametrize("stage", ["graph", "grad"])
def test_dumps_are_ssa_and_typed(stage):
    for name, out, _ in _composites():
        text = graphc.dump_ir(out, stage=stage)
        check_ssa(text)
        graph = (Graph.from_outputs([out._node]) if stage == "graph" else gradient_graph(out))
        check_against_graph(text, graph)
        assert text == print_graph(graph), name
        assert "%?" not in text, name


def test_source_line_comments_name_this_file_and_line():
    for name, out, line in _composites():
        for stage in ("graph", "grad"):
            _, _, _, nodes, _ = parse(graphc.dump_ir(out, stage=stage))
            assert nodes, name
            for m in nodes:
                assert (m.group(5), int(m.group(6))) == (THIS_FILE, line), (name, stage,
                                                                            m.group(0))


def test_each_line_of_user_code_gets_its_own_location():
    x = leaf(4)
    a, la = x.exp(), here()
    b, lb = a.sin() * 2.0, here()
    c, lc = graphc.softmax(b, 0), here()
    _, _, _, nodes, _ = parse(graphc.dump_ir(c))
    lines = [int(m.group(6)) for m in nodes]
    assert lines[0] == la and lines[1:3] == [lb, lb] and set(lines[3:]) == {lc}
    assert [m.group(2) for m in nodes[:3]] == ["exp", "sin", "mul"]


def test_header_marks_params_and_saved_values():
    x = leaf(2, 3)
    c = graphc.tensor([[1.0, 2.0, 3.0]])  # a constant: no grad
    y = (x.exp() * c).sum()
    name, params, results, _, _ = parse(graphc.dump_ir(y))
    assert name == "graph" and results == "f32[]"
    roles = {p.group(2): p.group(3) for p in params}
    assert roles == {"f32[2,3]": " param", "f32[1,3]": None}
    name, params, results, _, _ = parse(graphc.dump_ir(y, stage="grad"))
    assert name == "backward" and results == "f32[2,3]"
    assert params[0].group(1) == "%grad_out" and params[0].group(2) == "f32[]"
    # exp's VJP reads exp's own output: a saved forward value
    assert any(p.group(3) == " saved" and p.group(2) == "f32[2,3]" for p in params[1:])


def test_literals_are_printed_inline():
    x = leaf(3)
    y = graphc.where(x > 1.0, x * 2.5, -1.0) + 7
    expect(graphc.dump_ir(y), """
        graph graph(%in0: b8[3], %in1: f32[3] param) -> (f32[3]) {
          %0 = mul %in1, 2.5          : f32[3]
          %1 = where %in0, %0, -1.0   : f32[3]
          %2 = add %1, 7              : f32[3]
          return %2
        }""")  # the comparison needs no gradient: its bool result is an input of the graph
    z = x * 2 + 1.5
    assert "%1 = add %0, 1.5" in graphc.dump_ir(z)
    assert "%0 = mul %in0, 2 " in graphc.dump_ir(z)


def test_after_backward_the_freed_graph_prints_as_an_input():
    x = leaf(3)
    y = (x * 2).sum()
    y.backward()
    name, params, _, nodes, returned = parse(graphc.dump_ir(y))
    assert nodes == [] and len(params) == 1 and params[0].group(3) == " freed"
    assert returned == [params[0].group(1)]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        graphc.dump_ir(y, stage="grad")


def test_dump_ir_argument_errors():
    with pytest.raises(TypeError):
        graphc.dump_ir(graphc.tensor([1.0]), stage="grad")  # no grad, no gradient graph
    with pytest.raises(TypeError):
        graphc.dump_ir(leaf(2), stage="llvm")
    with pytest.raises(TypeError):
        graphc.dump_ir(42)


# ---------------------------------------------------------------- DOT

# pydot's parser uses pyparsing names that newer pyparsing deprecates
quiet_pydot = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def pydot():
    return pytest.importorskip("pydot")


def dot_counts(graph: Graph) -> tuple[int, int]:
    uses = sum(type(x) is Node for n in graph.nodes for x in n.inputs)
    return len(graph.inputs) + len(graph.nodes), uses


def parse_dot(pydot, text: str):
    (g,) = pydot.graph_from_dot_data(text)
    vertices = [v for v in g.get_nodes() if v.get_name() not in ("node", "edge", "graph")]
    return g, vertices, g.get_edges()


@quiet_pydot
@pytest.mark.parametrize("stage", ["graph", "grad"])
def test_dot_parses_with_one_vertex_per_value_and_one_edge_per_use(pydot, stage):
    for name, out, _ in _composites():
        graph = Graph.from_outputs([out._node]) if stage == "graph" else gradient_graph(out)
        g, vertices, edges = parse_dot(pydot, graphc.to_dot(out, stage=stage))
        assert (len(vertices), len(edges)) == dot_counts(graph), name
        ids = {v.get_name() for v in vertices}
        assert len(ids) == len(vertices)
        for e in edges:
            assert e.get_source() in ids and e.get_destination() in ids


@quiet_pydot
def test_dot_of_a_small_graph(pydot):
    x = leaf(2)
    y = (x * x + 1.0).sum()
    g, vertices, edges = parse_dot(pydot, graphc.to_dot(y))
    assert g.get_name().strip('"') == "graph"
    labels = [v.get_label().strip('"') for v in vertices]
    # one \n escape (a line break in Graphviz) between name and type, never a literal backslash
    assert labels == [r"%in0\nf32[2]", r"%0 = mul\nf32[2]", r"%1 = add 1.0\nf32[2]",
                      r"%2 = sum\nf32[]"]
    assert len(edges) == 4  # x twice into mul, mul into add, add into sum
    by_name = {v.get_name(): v.get_label().strip('"').split(r"\n")[0] for v in vertices}
    pairs = sorted((by_name[e.get_source()], by_name[e.get_destination()]) for e in edges)
    assert pairs == [("%0 = mul", "%1 = add 1.0"), ("%1 = add 1.0", "%2 = sum"),
                     ("%in0", "%0 = mul"), ("%in0", "%0 = mul")]
    assert vertices[0].get("fillcolor") == "lightblue"  # requires grad
