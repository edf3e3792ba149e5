"""graphc.optim.LBFGS against PyTorch's: the loss at every closure evaluation, the iterate,
the evaluation and iteration counts and the state, on the Rosenbrock function (with and
without the strong-Wolfe line search, short histories); state dicts; argument checks."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import graphc

try:
    import torch
except ImportError:  # the oracle is optional; CI installs it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the oracle extra) is not "
                                                       "installed")
START = np.array([-1.2, 1.0, -0.5, 0.8, 1.5, -1.0])
CONFIGS = [
    {"max_iter": 10, "lr": 0.5},
    {"max_iter": 10, "line_search_fn": "strong_wolfe"},
    {"max_iter": 8, "lr": 0.1, "history_size": 3},
    {"max_iter": 10, "history_size": 4, "line_search_fn": "strong_wolfe"},
    {},  # PyTorch's defaults: max_iter 20, history 100
]
# (steps per config: on Rosenbrock with lr=1 and no line search, float64 rounding differences
# between the two libraries grow to 1e-5 after about 60 evaluations)
STEPS = [5, 5, 5, 5, 2]


def _rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def _minimize(lib, steps, dtype="float64", start=START, opt=None, **kwargs):
    """``steps`` calls of ``opt.step(closure)``; returns the losses of every closure call,
    the step results, the iterate and the optimizer."""
    x = lib.tensor(start, dtype=getattr(lib, dtype), requires_grad=True)
    opt = opt(x) if opt else lib.optim.LBFGS([x], **kwargs)
    evaluated = []

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        evaluated.append(loss.item())
        return loss
    returned = [opt.step(closure).item() for _ in range(steps)]
    return np.array(evaluated), returned, x.detach().numpy(), opt


@needs_torch
@pytest.mark.parametrize("kwargs, steps", zip(CONFIGS, STEPS), ids=[str(c) for c in CONFIGS])
def test_steps_match_torch(kwargs, steps):
    got, got_returned, got_x, opt = _minimize(graphc, steps, **kwargs)
    want, want_returned, want_x, topt = _minimize(torch, steps, **kwargs)
    assert len(got) == len(want) > steps * 3  # every evaluation, in the same number
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(got_returned, want_returned, rtol=1e-5)
    np.testing.assert_allclose(got_x, want_x, rtol=1e-5, atol=1e-7)
    assert got[-1] < 0.5 * got[0]  # it minimizes
    state, tstate = opt.state[opt._params[0]], topt.state[topt._params[0]]
    assert set(state) == set(tstate)
    assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"], tstate["n_iter"])
    assert len(state["old_dirs"]) == len(tstate["old_dirs"]) <= opt.defaults["history_size"]
    np.testing.assert_allclose(state["d"].numpy(), tstate["d"].numpy(), rtol=1e-4, atol=1e-6)


@needs_torch
def test_float32_steps_match_torch():
    got, _, got_x, opt = _minimize(graphc, 3, "float32", line_search_fn="strong_wolfe")
    want, _, want_x, _ = _minimize(torch, 3, "float32", line_search_fn="strong_wolfe")
    assert len(got) == len(want)
    np.testing.assert_allclose(got[:15], want[:15], rtol=1e-5)  # (then float32 rounding grows)
    assert opt.state[opt._params[0]]["d"].dtype is graphc.float32


@pytest.mark.parametrize("kwargs", [CONFIGS[1], CONFIGS[2]], ids=["wolfe", "fixed"])
def test_state_dict_round_trip_continues_identically(kwargs):
    _, _, _, opt = _minimize(graphc, 2, **kwargs)
    x_mid = opt._params[0].detach().numpy().copy()
    saved = copy.deepcopy(opt.state_dict())
    want, _, want_x, _ = _minimize(graphc, 2, start=x_mid, opt=lambda x: _continued(
        x, opt, kwargs, opt.state_dict()))
    got, _, got_x, _ = _minimize(graphc, 2, start=x_mid, opt=lambda x: _continued(
        x, opt, kwargs, saved))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_x, want_x)
    assert saved["param_groups"][0]["history_size"] == kwargs.get("history_size", 100)


def _continued(x, opt, kwargs, state_dict):
    fresh = graphc.optim.LBFGS([x], **kwargs)
    fresh.load_state_dict(copy.deepcopy(state_dict))
    return fresh


def test_argument_checks_and_eager_only():
    x = graphc.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="per-parameter options"):
        graphc.optim.LBFGS([{"params": [x]}, {"params": [graphc.zeros(2, requires_grad=True)]}])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        graphc.optim.LBFGS([x], lr=-1)
    assert graphc.optim.LBFGS([x], max_iter=8).defaults["max_eval"] == 10
    opt = graphc.optim.LBFGS([x], line_search_fn="bogus")

    def closure():
        opt.zero_grad()
        loss = ((x - 1) ** 2).sum()
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    opt = graphc.optim.LBFGS([x])
    assert opt.step(closure).item() == 3.0  # the loss before the step, as PyTorch
    assert opt.step(closure).item() < 1e-12 and np.allclose(x.detach().numpy(), 1.0)
    stepped = graphc.compile(lambda: opt.step(closure))
    with pytest.raises(RuntimeError, match="traced tensor"):
        stepped()  # data-dependent control flow: eager only, as the docstring says
