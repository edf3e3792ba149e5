"""graphc.nn.utils against PyTorch: gradient clipping (by norm of every order, by value, the
total norm alone, non-finite norms), parameters as one vector; and clipping inside a
compiled training step against the same steps run eagerly."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphc
from graphc import nn

try:
    import torch
except ImportError:  # the oracle is optional; CI installs it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the oracle extra) is not "
                                                       "installed")
_rng = np.random.default_rng(0)
SHAPES = [(3, 4), (5,), (), (2, 1, 3)]
WEIGHTS = [_rng.standard_normal(s) for s in SHAPES]
GRADS = [3 * _rng.standard_normal(s) for s in SHAPES]
NORM_TYPES = [2.0, 1, 3.5, 0.5, float("inf"), "inf", -2.0]


def _params(lib, dtype, grads=GRADS, without_grad=(1,)):
    """Parameters with .grad set from ``grads``; those at ``without_grad`` have none."""
    params = [lib.tensor(w, requires_grad=True, dtype=dtype) for w in WEIGHTS]
    for i, (p, g) in enumerate(zip(params, grads)):
        p.grad = None if i in without_grad else lib.tensor(g, dtype=dtype)
    return params


def _grads(params):
    return [None if p.grad is None else p.grad.numpy().copy() for p in params]


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=[str(n) for n in NORM_TYPES])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped, and left alone (coefficient 1)
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    runs = []
    for lib in (graphc, torch):
        params = _params(lib, getattr(lib, dtype))
        total = lib.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
        runs.append((total, _grads(params)))
    (total, grads), (want_total, want_grads) = runs
    rtol = 1e-6 if dtype == "float32" else 1e-13
    assert total.dtype is getattr(graphc, dtype) and total.shape == ()
    np.testing.assert_allclose(total.item(), want_total.item(), rtol=rtol)
    assert grads[1] is None and want_grads[1] is None
    for g, w in zip(grads, want_grads):
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * np.abs(w).max())


@needs_torch
def test_total_norm_then_clip_with_norm_and_single_tensor_match_torch():
    runs = []
    for lib in (graphc, torch):
        u = lib.nn.utils
        params = _params(lib, lib.float64, without_grad=())
        total = u.get_total_norm([p.grad for p in params], norm_type=3.0)
        u.clip_grads_with_norm_(params, 2.0, total)
        one = lib.tensor(WEIGHTS[0], requires_grad=True)
        one.grad = lib.tensor(GRADS[0])
        single = u.clip_grad_norm_(one, 1.0)  # a single tensor, not a list
        u.clip_grad_value_(params[:2], 0.75)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            deprecated = u.clip_grad_norm(params[2:], 0.1)
        assert any(issubclass(w.category, FutureWarning) for w in caught)
        empty = u.clip_grad_norm_([lib.zeros(2, requires_grad=True)], 1.0)
        runs.append([total.item(), single.item(), deprecated.item(), empty.item(),
                     *[g.ravel() for g in _grads(params)], one.grad.numpy().ravel()])
    for got, want in zip(*runs):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    assert np.abs(runs[0][4]).max() <= 0.75  # clip_grad_value_ clamped


def test_clip_grad_value_clamps_every_gradient():
    params = _params(graphc, graphc.float64, without_grad=(2,))
    nn.utils.clip_grad_value_(params, 1.5)
    for g, want in zip(_grads(params), GRADS):
        if g is not None:
            np.testing.assert_array_equal(g, np.clip(want, -1.5, 1.5))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_total_norm(bad):
    grads = [g.copy() for g in GRADS]
    grads[0][1, 2] = bad
    params = _params(graphc, graphc.float32, grads=grads)
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 .* is non-finite, so it "
                                           r"cannot be clipped"):
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[0].grad.numpy(), np.float32(grads[0]))  # untouched
    total = nn.utils.clip_grad_norm_(params, 1.0)  # default: scale by the non-finite norm
    if np.isnan(bad):
        assert np.isnan(total.item()) and np.isnan(params[0].grad.numpy()).all()
    else:  # max_norm / inf clamps to 0: every gradient becomes 0 (and the inf one NaN)
        assert np.isinf(total.item()) and (params[2].grad.numpy() == 0).all()


def test_empty_generator_warns():
    with pytest.warns(UserWarning, match="empty generator"):
        total = nn.utils.clip_grad_norm_((p for p in []), 1.0)
    assert total.item() == 0.0


def _training(compiled: bool, nonfinite_check: bool, norm_type: float):
    """A small MLP trained with clipping; returns the step, model and optimizer."""
    graphc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = graphc.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean() * 40  # large gradients: clipping acts
        loss.backward()
        total = nn.utils.clip_grad_norm_(model.parameters(), 1.0, norm_type=norm_type,
                                         error_if_nonfinite=nonfinite_check)
        nn.utils.clip_grad_value_(model[0].bias, 0.05)
        opt.step()
        return loss, total
    return (graphc.compile(step) if compiled else step), model


@pytest.mark.parametrize("norm_type, check", [(2.0, True), (float("inf"), False)])
def test_clipping_inside_a_compiled_training_step_matches_eager(norm_type, check):
    x = graphc.tensor(_rng.standard_normal((16, 4)), dtype=graphc.float32)
    y = graphc.tensor(_rng.standard_normal((16, 2)), dtype=graphc.float32)
    runs = []
    for compiled in (False, True):
        step, model = _training(compiled, check, norm_type)
        out = [[t.item() for t in step(x, y)] for _ in range(6)]
        runs.append((out, [p.detach().numpy().copy() for p in model.parameters()]))
        if compiled:
            assert len(step.cache) == 1 and step.retraces == 0
    (want, want_params), (got, got_params) = runs
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert max(total for _, total in want) > 1.0  # the norms were clipped
    for g, w in zip(got_params, want_params):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    if check:  # a NaN gradient makes the compiled call raise, as eager does
        bad = x.clone()
        bad[0, 0] = float("nan")
        with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
            step(bad, y)


@needs_torch
def test_parameters_to_vector_and_back_match_torch():
    runs = []
    for lib in (graphc, torch):
        params = [lib.tensor(w, requires_grad=True) for w in WEIGHTS]
        vec = lib.nn.utils.parameters_to_vector(params)
        (vec * lib.arange(vec.numel(), dtype=vec.dtype)).sum().backward()  # keeps history
        new = lib.arange(vec.numel(), dtype=lib.float64) / 7
        lib.nn.utils.vector_to_parameters(new, params)
        with lib.no_grad():
            new[0] = 100.0  # parameters are views of the vector now
        runs.append([vec.detach().numpy(), *[p.grad.numpy().ravel() for p in params],
                     *[p.detach().numpy().ravel() for p in params]])
        assert all(p.shape == w.shape for p, w in zip(params, WEIGHTS))
    for got, want in zip(*runs):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        nn.utils.vector_to_parameters(np.zeros(3), [graphc.zeros(3)])
