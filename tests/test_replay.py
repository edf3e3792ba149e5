"""Eager backward() by replay (runtime/replay.py): a structure seen before evaluates its
recorded gradient graph; the gradients must be the transform's, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.runtime import replay


@pytest.fixture
def fresh_plans(monkeypatch):
    """No plan from other tests; ``off()`` makes backward() run the transform."""
    monkeypatch.setattr(replay, "_plans", {})
    monkeypatch.setattr(replay, "_seen_once", set())

    def off():
        monkeypatch.setattr(replay, "gradients", lambda *args: None)
    return off


def _mlp_loss(model, rng, batch=16):
    x = graphc.tensor(rng.standard_normal((batch, 8)).astype(np.float32))
    y = graphc.tensor(rng.integers(0, 4, batch))
    return graphc.nn.functional.cross_entropy(model(x), y)


def test_replayed_gradients_equal_the_transform(fresh_plans):
    graphc.manual_seed(0)
    model = graphc.nn.Sequential(graphc.nn.Linear(8, 64), graphc.nn.ReLU(),
                                 graphc.nn.Linear(64, 4))
    params = list(model.parameters())
    rng = np.random.default_rng(0)
    replayed = []
    for _ in range(4):  # the first two run the transform, then the plan is replayed
        loss = _mlp_loss(model, rng)
        replayed.append([g.numpy() for g in graphc.autograd.grad(loss, params,
                                                                 retain_graph=True)])
    assert len(replay._plans) == 1
    fresh_plans()
    rng = np.random.default_rng(0)
    for want in replayed:
        got = graphc.autograd.grad(_mlp_loss(model, rng), params)
        for g, w in zip(got, want):
            assert g.dtype is graphc.float32
            np.testing.assert_array_equal(g.numpy(), w)


def test_replay_checks_values_modified_in_place(fresh_plans):
    w = graphc.ones(3, requires_grad=True)
    for step in range(3):
        c = graphc.full((3,), 2.0)
        loss = (w * c).sum()
        if step == 2:
            c.add_(1)
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                loss.backward()
        else:
            loss.backward()
    assert len(replay._plans) == 1


def test_replay_tells_one_input_used_twice_from_two(fresh_plans):
    w = graphc.ones(3, requires_grad=True)
    a = graphc.tensor([1.0, 2.0, 3.0])
    for _ in range(3):  # the plan is recorded with one tensor in both places
        w.grad = None
        ((w * a).sum() + (w * a).sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0, 6.0])
    b = graphc.tensor([10.0, 20.0, 30.0])
    w.grad = None
    ((w * a).sum() + (w * b).sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [11.0, 22.0, 33.0])


def test_replay_keeps_the_sign_of_a_zero_literal(fresh_plans):
    x = graphc.ones(2, requires_grad=True)
    for _ in range(3):
        x.grad = None
        (x * 0.0).sum().backward()
    assert not np.signbit(x.grad.numpy()).any()
    x.grad = None
    (x * -0.0).sum().backward()
    assert np.signbit(x.grad.numpy()).all()


def test_gradients_given_twice_are_not_one_tensor(fresh_plans):
    # (a + b) hands both one cotangent node: accumulating into a.grad must not touch b.grad
    a, b = graphc.ones(3, requires_grad=True), graphc.ones(3, requires_grad=True)
    for _ in range(4):  # transform, then replay
        ((a + b) * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [8.0] * 3)
    np.testing.assert_array_equal(b.grad.numpy(), [8.0] * 3)
