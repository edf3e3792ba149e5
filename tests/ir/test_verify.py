"""The verifier accepts every graph graphc records and rejects hand-broken ones."""
from __future__ import annotations

import pytest

import graphc
from graphc.autograd import gradient_graph
from graphc.ir import Graph, Node, RecordingHandler, grad_graph, ops, use_handler, verify
from graphc.ir import dtypes as dt
from graphc.ir.core import make_leaf
from graphc.ir.errors import VerifyError


def leaf(*shape):
    return graphc.randn(*shape, dtype=graphc.float64, requires_grad=True)


def _programs():
    x, w, b = leaf(3, 4), leaf(4, 5), leaf(5)
    idx = graphc.tensor([2, 0, 2])
    return {
        "softmax": graphc.softmax(x, dim=1).sum(),
        "log_softmax": graphc.log_softmax(x, dim=0)[1].sum(),
        "var": x.var(dim=0).sum() + x.var(),
        "std_mean": x.std(dim=1, keepdim=True).mean(),
        "matmul_relu": graphc.relu(x @ w + b).sum(),
        "indexing": (x[idx, 1:] * x[:, ::2].sum()).sum() + x[x > 0].sum(),
        "gather": graphc.gather(x, 1, graphc.tensor([[0], [3], [1]])).sum(),
        "max_dim": x.max(dim=1).values.sum() + x.amax(),
        "cat_stack": graphc.stack([x, x * 2]).tanh().sum() + graphc.cat([x, x], 1).exp().sum(),
        "pow_div": ((x ** 3) / (x.abs() + 1.0)).sum(),
        "transpose_reshape": (x.t().reshape(2, 6) @ graphc.ones(6, 1, dtype=graphc.float64))
        .sigmoid().sum(),
    }


@pytest.mark.parametrize("name", list(_programs()))
def test_recorded_forward_and_gradient_graphs_verify(name):
    out = _programs()[name]
    fwd = Graph.from_outputs([out._node])
    assert verify(fwd) is fwd
    assert fwd.nodes, "the program recorded nodes"
    grad = gradient_graph(out)
    assert verify(grad) is grad
    assert grad.nodes
    # one gradient per parameter the program used, shaped like it
    assert grad.outputs and {o.shape for o in grad.outputs} <= {(3, 4), (4, 5), (5,)}
    assert all(o.dtype is graphc.float64 for o in grad.outputs)


def test_second_order_gradient_graph_verifies():
    x = leaf(4)
    y = (x.sin() * x).sum()
    (g,) = graphc.autograd.grad(y, x, create_graph=True)
    z = (g * g).sum()
    verify(Graph.from_outputs([z._node]))
    verify(gradient_graph(z))


# ---------------------------------------------------------------- hand-built graphs

def build():
    """x: f32[2,3], w: f32[3]; a = x * w; b = exp(a); c = sum(b, axis 1) -> (a, b, c)."""
    x = make_leaf((2, 3), dt.float32, name="x")
    w = make_leaf((3,), dt.float32, name="w")
    with use_handler(RecordingHandler(loc=("model.py", 7))) as rec:
        a = ops.MUL(x, w)
        b = ops.EXP(a)
        c = ops.SUM(b, axes=(1,), keepdims=False)
    assert rec.nodes == [a, b, c]
    return x, w, a, b, c


def test_hand_built_graph_verifies_and_prints():
    x, w, a, b, c = build()
    g = Graph("f", [x, w], [a, b, c], [c])
    verify(g)
    text = graphc.ir.print_graph(g)
    assert text.splitlines()[0] == "graph f(%x: f32[2,3], %w: f32[3]) -> (f32[2]) {"
    assert "%1 = exp %0" in text and "# model.py:7" in text


def test_use_before_definition():
    x, w, a, b, c = build()
    with pytest.raises(VerifyError, match=r"node %0 \(exp\) uses a value that is not defined"):
        verify(Graph("f", [x, w], [b, a, c], [c]))


def test_missing_input():
    x, w, a, b, c = build()
    with pytest.raises(VerifyError, match="not defined before"):
        verify(Graph("f", [x], [a, b, c], [c]))


def test_wrong_recorded_shape():
    x, w, a, b, c = build()
    b.shape = (3, 2)
    with pytest.raises(VerifyError, match=r"%1 \(exp\) has type f32\[3,2\] but its rule gives "
                                          r"f32\[2, 3\]"):
        verify(Graph("f", [x, w], [a, b, c], [c]))


def test_wrong_recorded_dtype():
    x, w, a, b, c = build()
    a.dtype = dt.float64
    with pytest.raises(VerifyError, match=r"%0 \(mul\) has type f64\[2,3\]"):
        verify(Graph("f", [x, w], [a, b, c], [c]))


def test_node_listed_twice():
    x, w, a, b, c = build()
    with pytest.raises(VerifyError, match=r"node %2 \(mul\) defined twice"):
        verify(Graph("f", [x, w], [a, b, a, c], [c]))


def test_input_listed_twice():
    x, w, a, b, c = build()
    with pytest.raises(VerifyError, match="listed twice"):
        verify(Graph("f", [x, w, x], [a, b, c], [c]))


def test_undefined_output():
    x, w, a, b, c = build()
    with pytest.raises(VerifyError, match="an output is not defined"):
        verify(Graph("f", [x, w], [a, b], [b, c]))


def test_leaf_among_nodes():
    x, w, a, b, c = build()
    with pytest.raises(VerifyError, match="is a leaf but not a graph input"):
        verify(Graph("f", [x], [w, a, b, c], [c]))


def test_cycle():
    x, w, a, b, c = build()
    a.inputs = (x, b)  # a = x * b, b = exp(a)
    with pytest.raises(VerifyError):
        verify(Graph("f", [x, w], [a, b, c], [c]))


def test_gradient_graph_of_hand_built_graph_verifies():
    x, w, a, b, c = build()
    for n in (x, w, a, b, c):
        n.requires_grad = True
    graph, seeds, kept = grad_graph([c], [x, w])
    assert kept == [0, 1] and len(seeds) == 1
    verify(graph)
    assert [o.shape for o in graph.outputs] == [(2, 3), (3,)]
    assert all(type(o) is Node for o in graph.outputs)
    # the forward nodes the VJPs read are inputs of the gradient graph, not nodes of it
    assert graph.inputs[0] is seeds[0]
    assert not {id(n) for n in graph.nodes} & {id(a), id(b), id(c)}
