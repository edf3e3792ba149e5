"""Fused composites (graphc/fused.py): eagerly, softmax, layer_norm, gelu, losses and
attention run as one native program, and their gradients are their composites' own.
Every op-table entry of a fused composite is run with fusion forced (any size) and
compared with the same composite unfused: values, gradients, grad_fn names; then the
mechanism's edges (double backward, in-place checks, replayed and compiled backward,
dumps, random composites, tracing)."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.testing.op_table import OPS
from tests.test_ops import _g, _inputs, _tol

F = graphc.nn.functional
FUSED = {"softmax", "softmax_dim0", "log_softmax", "logsumexp", "gelu", "gelu_tanh", "silu",
         "layer_norm", "layer_norm_2d_no_affine", "sdpa", "sdpa_causal", "sdpa_bool_mask",
         "sdpa_float_mask_scale", "sdpa_gqa", "cross_entropy", "cross_entropy_sum_none",
         "cross_entropy_weight_ignore", "cross_entropy_smoothing",
         "cross_entropy_smoothing_none", "cross_entropy_probs",
         "cross_entropy_probs_weight_smoothing"}
CASES = [c for c in OPS if c.name in FUSED]


@pytest.fixture
def always(monkeypatch):
    monkeypatch.setenv("GRAPHC_FUSE_MIN", "0")


def _run(c, xs, fuse: bool, monkeypatch):
    monkeypatch.setenv("GRAPHC_FUSE", "1" if fuse else "0")
    leaves = [_g(x.copy(), requires_grad=c.grad and x.dtype.kind == "f") for x in xs]
    out = c.fn(graphc, *leaves)
    wrt = [t for t in leaves if t.requires_grad]
    grads = []
    if out.requires_grad and out.numel():
        cot = graphc.tensor(np.random.default_rng(3).standard_normal(out.shape).astype(
            out.detach().numpy().dtype))
        grads = graphc.autograd.grad((out * cot).sum(), wrt, allow_unused=True,
                                     materialize_grads=True)
    return out, grads


def test_the_table_has_every_fused_entry():
    assert {c.name for c in CASES} == FUSED


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_equals_unfused(c, dtype, always, monkeypatch):
    for si in range(len(c.samples)):
        xs = _inputs(c, si, dtype)
        fused_out, fused_grads = _run(c, xs, True, monkeypatch)
        plain_out, plain_grads = _run(c, xs, False, monkeypatch)
        tol = _tol(c, dtype)
        np.testing.assert_allclose(fused_out.detach().numpy(), plain_out.detach().numpy(),
                                   **tol, err_msg=f"{c.name}[{si}] value")
        assert fused_out.dtype == plain_out.dtype and fused_out.shape == plain_out.shape
        assert fused_out.requires_grad == plain_out.requires_grad
        for a, b in zip(fused_grads, plain_grads):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=max(tol["rtol"], 1e-5),
                                       atol=max(tol["atol"], 1e-5),
                                       err_msg=f"{c.name}[{si}] gradient")


def _fused_op(t) -> str | None:
    """The fused composite's op that made ``t``, if one did."""
    return t._node.op.name if t._node.op.passthrough == 0 and t._node.op.name in (
        "softmax", "layer_norm", "gelu", "log_softmax", "cross_entropy") else None


def test_large_inputs_fuse_and_small_ones_do_not(monkeypatch):
    monkeypatch.delenv("GRAPHC_FUSE_MIN", raising=False)
    big, small = graphc.randn(64, 128, requires_grad=True), graphc.randn(4, 8,
                                                                          requires_grad=True)
    y = graphc.softmax(big, -1)
    assert _fused_op(y) == "softmax" and repr(y.grad_fn).startswith("<SoftmaxBackward0")
    assert "softmax %" in graphc.dump_ir(y)  # the dump shows what ran
    assert _fused_op(graphc.softmax(small, -1)) is None
    monkeypatch.setenv("GRAPHC_FUSE", "0")
    assert _fused_op(graphc.softmax(big, -1)) is None
    with graphc.no_grad():  # no gradient: the program's output, no node of its own
        assert graphc.softmax(big, -1)._node.op.name == "leaf"


def test_double_backward_through_a_fused_composite(always):
    x = graphc.randn(3, 5, dtype=graphc.float64, requires_grad=True)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    for lib, t in ((graphc, x), (torch, tx)):
        y = (lib.nn.functional.gelu(t) * lib.softmax(t, 1)).sum()
        (g,) = lib.autograd.grad(y, t, create_graph=True)
        (g * g).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_an_input_modified_after_the_forward_is_refused(always):
    x = graphc.randn(4, 6, requires_grad=True)
    h = x * 2
    y = F.gelu(h)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_training_with_fused_composites_replays_and_compiles_its_backward(monkeypatch):
    """The fused ops' gradients are recorded into the replayed (then compiled) gradient
    graph; losses equal the unfused run's step for step."""
    monkeypatch.setenv("GRAPHC_COMPILE_BACKWARD", "3")

    def train(fuse: str) -> list[float]:
        monkeypatch.setenv("GRAPHC_FUSE", fuse)
        monkeypatch.setenv("GRAPHC_FUSE_MIN", "0")
        graphc.manual_seed(0)
        model = graphc.nn.Sequential(graphc.nn.Linear(16, 32), graphc.nn.LayerNorm(32),
                                     graphc.nn.GELU(), graphc.nn.Linear(32, 5))
        opt = graphc.optim.Adam(model.parameters(), lr=1e-2)
        x, y = graphc.randn(8, 16), graphc.randint(0, 5, (8,))
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses
    np.testing.assert_allclose(train("1"), train("0"), rtol=2e-5)
    from graphc.runtime import replay
    assert any(p.native for p in replay._plans.values())


def test_random_composites_and_traced_calls_are_not_fused(always):
    graphc.manual_seed(0)
    q = graphc.randn(2, 4, 8, requires_grad=True)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert out._node.op.passthrough is None  # dropout: the composite as written
    f = graphc.compile(lambda t: graphc.softmax(t, -1))
    f.lower(graphc.randn(8, 8))
    assert "softmax" not in f.ir("graph").split("{")[1].split("=", 1)[0] and \
        " exp " in f.ir("graph")  # traced through to its primitives
