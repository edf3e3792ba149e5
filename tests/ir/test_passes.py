"""Each pass against printed IR, before and after (FileCheck-style: comments stripped)."""
from __future__ import annotations

import re

import numpy as np

import graphc
from graphc.ir.passes import cse, dce, fold_constants, optimize, simplify
from graphc.ir.printer import print_graph
from graphc.ir.verify import verify


def traced(fn, *args):
    return graphc.compile(fn).lower(*args).last.graph


def text(graph) -> list[str]:
    lines = [re.sub(r"\s+#.*$", "", ln).rstrip() for ln in print_graph(verify(graph)).splitlines()]
    return [re.sub(r"\s+", " ", ln).strip() for ln in lines]


def test_simplify_removes_identities_and_merges_movements():
    g = traced(lambda x: (-x.neg() * 1 + 0).reshape(6).reshape(3, 2).permute(1, 0).permute(1, 0),
               graphc.ones(2, 3))
    assert len(g.nodes) == 8
    assert text(simplify(simplify(g))) == [
        "graph <lambda>(%x: f32[2,3]) -> (f32[3,2]) {",
        "%0 = reshape %x shape=(3,2) : f32[3,2]",
        "return %0",
        "}",
    ]


def test_simplify_keeps_identities_that_change_the_dtype():
    g = traced(lambda x: x + 0.0, graphc.ones(3, dtype=graphc.int64))
    assert text(simplify(g)) == text(g)
    assert "%0 = add %x, 0.0 : f32[3]" in text(g)


def test_fold_constants_evaluates_constant_subgraphs():
    def f(x):
        c = graphc.full((2, 2), 3.0) * 2.0 + graphc.ones(2, 2)
        return x * c
    g = traced(f, graphc.ones(2, 2))
    assert text(dce(fold_constants(g))) == [
        "graph f(%x: f32[2,2]) -> (f32[2,2]) {",
        "%0 = constant value=7.0 : f32[2,2]",
        "%1 = mul %x, %0 : f32[2,2]",
        "return %1",
        "}",
    ]


def test_fold_keeps_large_varying_results_computed():
    g = traced(lambda x: x + graphc.arange(10_000).float() * 2.0, graphc.ones(10_000))
    assert [n.op.name for n in fold_constants(g).nodes] == ["arange", "cast", "mul", "add"]


def test_cse_merges_equal_nodes():
    g = traced(lambda x, y: x * y + x * y + (x * y).exp(), graphc.ones(3), graphc.ones(3))
    assert text(cse(g)) == [
        "graph <lambda>(%x: f32[3], %y: f32[3]) -> (f32[3]) {",
        "%0 = mul %x, %y : f32[3]",
        "%1 = add %0, %0 : f32[3]",
        "%2 = exp %0 : f32[3]",
        "%3 = add %1, %2 : f32[3]",
        "return %3",
        "}",
    ]


def test_dce_drops_unused_nodes_and_keeps_inputs():
    from graphc.ir.core import Node
    from graphc.ir.ops import EXP
    g = traced(lambda x, unused: x + 1, graphc.ones(2), graphc.ones(5))
    x = g.inputs[0]
    g.nodes.insert(0, Node(EXP, (x,), {}, x.shape, x.dtype))  # computed, never used
    assert [n.op.name for n in verify(g).nodes] == ["exp", "add"]
    out = dce(g)
    assert [n.op.name for n in out.nodes] == ["add"]
    assert [n.name for n in out.inputs] == ["x", "unused"]


def test_optimize_preserves_values_of_a_training_step():
    w = graphc.ones(3, 1, requires_grad=True)

    def step(x):
        loss = ((x @ w) ** 2 * 1.0 + 0.0).mean()
        loss.backward()
        with graphc.no_grad():
            w.sub_(0.1 * w.grad)
            w.grad = None
        return loss
    compiled = graphc.compile(step)
    x = graphc.arange(6.0).reshape(2, 3)
    loss = compiled(x)
    np.testing.assert_allclose(loss.item(), ((x.numpy() @ np.ones((3, 1))) ** 2).mean())
    prog = compiled.last
    assert len(prog.optimized.nodes) < len(prog.graph.nodes)
    assert len(optimize(prog.optimized).nodes) == len(prog.optimized.nodes)  # a fixed point
