"""Tensor hooks and module hooks, eager and compiled, against PyTorch.

Each program runs on graphc and on PyTorch with the same weights; values, gradients and
what the hooks saw must agree. Compiled runs must agree with eager ones and retrace
when hooks are added or removed.
"""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from tests.test_function import sgd_run

torch = pytest.importorskip("torch")
LIBS = (graphc, torch)
X = np.array([[1.0, -2.0, 3.0], [0.5, 0.25, -1.5]])


def _np(t):
    return None if t is None else t.detach().numpy().copy()


def _agree(results: list[list]) -> list:
    for a, b in zip(*results):
        if isinstance(a, list):
            _agree([a, b])
        elif a is None or b is None:
            assert a is None and b is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    return results[0]


def _net(M, dtype="float64"):
    M.manual_seed(0)
    net = M.nn.Sequential(M.nn.Linear(3, 5), M.nn.Tanh(), M.nn.Linear(5, 2))
    with M.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(M.tensor(np.sin(np.arange(p.numel()) + i).reshape(tuple(p.shape))))
    return net.to(getattr(M, dtype))


# ---------------------------------------------------------------- tensor hooks

def test_tensor_hooks_on_leaves_and_non_leaves_match_torch():
    def program(M):
        x = M.tensor(X, requires_grad=True)
        seen = []
        x.register_hook(lambda g: seen.append(_np(g)))      # sees the gradient, returns None
        clip = x.register_hook(lambda g: g.clamp(-0.5, 0.5))  # replaces it (in order)
        y = x * 2
        y.register_hook(lambda g: g * 10)  # replaces it for the rest of backward
        y.retain_grad()
        (y * M.tensor([1.0, -1.0, 0.01], dtype=M.float64)).sum().backward()
        out = [seen[0], _np(x.grad), _np(y.grad)]
        clip.remove()
        x.grad = None
        (x * 3).sum().backward()
        return out + [_np(x.grad), len(seen)]
    res = _agree([program(M) for M in LIBS])
    np.testing.assert_allclose(res[1], np.clip(res[0], -0.5, 0.5))
    assert res[4] == 2


def test_hooks_survive_in_place_updates_of_a_parameter_and_run_each_step():
    def program(M):
        w = M.tensor(X, requires_grad=True)
        opt = M.optim.SGD([w], lr=0.5)
        w.register_hook(lambda g: g.clamp(-0.1, 0.1))  # gradient clipping by hook
        losses = []
        for _ in range(4):
            opt.zero_grad()
            loss = ((w ** 3) * M.tensor(X, dtype=M.float64)).sum()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return [_np(w), np.array(losses)]
    _agree([program(M) for M in LIBS])


def test_handle_removal_and_context_manager():
    x = graphc.tensor(X, requires_grad=True)
    with x.register_hook(lambda g: g * 0):
        (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(X))
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full_like(X, 2.0))


def test_hook_errors_match_torch():
    for M in LIBS:
        with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                               "require gradient"):
            M.ones(2).register_hook(lambda g: g)
        x = M.tensor(X, requires_grad=True)
        for hook, error, message in (
                (lambda g: 3, TypeError, "expected Variable, but hook returned 'int'"),
                (lambda g: g[0], RuntimeError, "hook '<lambda>' has changed the size of value"),
                (lambda g: g.float(), RuntimeError, "hook '<lambda>' has changed the type")):
            y = x * 2
            y.register_hook(hook)
            with pytest.raises(error, match=message):
                y.sum().backward()


def test_hooks_are_recorded_with_create_graph():
    def program(M):
        x = M.tensor(X, requires_grad=True)
        y = x * x
        y.register_hook(lambda g: g * y)  # a hook whose result depends on x
        g, = M.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        return [_np(g), _np(x.grad)]
    g, g2 = _agree([program(M) for M in LIBS])
    np.testing.assert_allclose(g, 2 * X ** 3)


def test_post_accumulate_grad_hook_matches_torch():
    def program(M):
        w = M.tensor(X, requires_grad=True)
        seen = []
        w.register_post_accumulate_grad_hook(lambda t: seen.append(_np(t.grad)))
        (w * 2).sum().backward()
        (w * 3).sum().backward()
        return seen
    _agree([program(M) for M in LIBS])
    with pytest.raises(RuntimeError, match="non-leaf"):
        (graphc.tensor(X, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)


def test_tensor_hooks_disable_replay():
    x = graphc.tensor(X, requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(1))
    for _ in range(4):  # replay would skip the hook from the third backward on
        (x * 2).sum().backward()
    assert len(calls) == 4


# ---------------------------------------------------------------- module hooks

def test_forward_hooks_record_activations_and_replace_inputs_and_outputs():
    def program(M):
        net = _net(M)
        acts = {}
        h1 = net[1].register_forward_hook(lambda m, a, o: acts.__setitem__("tanh", _np(o)))
        h2 = net[0].register_forward_pre_hook(lambda m, a: a[0] * 2)  # one value: the args
        h3 = net[2].register_forward_hook(lambda m, a, o: o + 1)
        x = M.tensor(X)
        out = [acts, _np(net(x))]
        for h in (h1, h2, h3):
            h.remove()
        return out + [_np(net(x))]
    acts, y, plain = _agree([[p[0]["tanh"], *p[1:]] for p in (program(M) for M in LIBS)])
    assert not np.allclose(y, plain)


def test_forward_hooks_with_kwargs_prepend_and_always_call():
    class Scaled(graphc.nn.Module):
        def forward(self, x, scale=1.0):
            if scale == 0:
                raise ValueError("scale must not be 0")
            return x * scale
    m = Scaled()
    order = []
    m.register_forward_hook(lambda mod, a, o: order.append("second"))
    m.register_forward_hook(lambda mod, a, o: order.append("first"), prepend=True)
    m.register_forward_pre_hook(lambda mod, a, kw: (a, {"scale": kw["scale"] * 10}),
                                with_kwargs=True)
    m.register_forward_hook(lambda mod, a, kw, o: o + kw["scale"], with_kwargs=True)
    always = []
    m.register_forward_hook(lambda mod, a, o: always.append(o), always_call=True)
    out = m(graphc.ones(2), scale=2.0)
    np.testing.assert_array_equal(out.numpy(), [40.0, 40.0])
    assert order == ["first", "second"] and len(always) == 1
    with pytest.raises(ValueError, match="scale must not be 0"):
        m(graphc.ones(2), scale=0.0)
    assert len(always) == 2 and always[1] is None  # called although forward raised
    m.register_forward_pre_hook(lambda mod, a, kw: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        m(graphc.ones(2), scale=1.0)


def test_full_backward_hooks_scale_and_observe_gradients_like_torch():
    def program(M):
        net = _net(M)
        log = []
        net[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,))
        net[2].register_full_backward_pre_hook(lambda m, go: (go[0] * 3,))
        net[0].register_full_backward_hook(
            lambda m, gi, go: log.extend([_np(gi[0]), _np(go[0])]))
        x = M.tensor(X, requires_grad=True)
        net(x).sum().backward()
        return [_np(x.grad), _np(net[0].weight.grad), _np(net[2].weight.grad), log]
    _agree([program(M) for M in LIBS])


def test_backward_hook_on_a_module_whose_inputs_need_no_gradient():
    def program(M):
        net = _net(M)
        seen = []
        h = net[0].register_full_backward_hook(lambda m, gi, go: seen.append((gi, _np(go[0]))))
        net(M.tensor(X)).sum().backward()
        h.remove()
        net(M.tensor(X)).sum().backward()
        assert len(seen) == 1 and seen[0][0] == (None,)
        return [seen[0][1], _np(net[0].weight.grad)]
    with pytest.warns(UserWarning, match="Full backward hook is firing"):
        _agree([program(M) for M in LIBS])


def test_backward_hook_returning_the_wrong_number_of_gradients_raises():
    for M in LIBS:
        net = _net(M)
        net[2].register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
        with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of "
                                               "grad_input, got 2, but expected 1"):
            net(M.tensor(X, requires_grad=True)).sum().backward()


def test_global_module_hooks():
    from graphc.nn.modules.module import register_module_forward_hook
    names = []
    handle = register_module_forward_hook(lambda m, a, o: names.append(type(m).__name__))
    try:
        _net(graphc)(graphc.tensor(X))
    finally:
        handle.remove()
    assert names == ["Linear", "Tanh", "Linear", "Sequential"]
    _net(graphc)(graphc.tensor(X))
    assert len(names) == 4


# ---------------------------------------------------------------- compiled

def _train_with_hooks(compiled: bool, steps: int = 4, hooks: bool = True):
    net = _net(graphc, "float32")
    handles, acts = [], []
    if hooks:
        handles = [p.register_hook(lambda g: g.clamp(-0.05, 0.05)) for p in net.parameters()]
        handles.append(net[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,)))
        handles.append(net[1].register_forward_hook(lambda m, a, o: acts.append(o.shape)))

    def remove_hooks_before_the_last(i):  # a compiled step must then retrace and drop them
        if i == steps - 1:
            for h in handles:
                h.remove()
    rng = np.random.default_rng(0)
    batches = [(graphc.tensor(rng.standard_normal((8, 3)).astype(np.float32)),
                graphc.tensor(rng.standard_normal((8, 2)).astype(np.float32)))
               for _ in range(steps)]
    losses, run = sgd_run(net.parameters(), lambda x, y: ((net(x) - y) ** 2).mean(), batches,
                          compiled, remove_hooks_before_the_last)
    return losses, [p.detach().numpy().copy() for p in net.parameters()], run, acts


def test_hooks_in_a_compiled_training_step_match_eager_and_retrace_when_removed():
    eager_losses, eager_params, _, eager_acts = _train_with_hooks(False)
    losses, params, run, acts = _train_with_hooks(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert run.retraces == 1  # the removal of the hooks
    assert len(eager_acts) == 3 and len(acts) == 1  # a forward hook runs when traced only
    # and the hooks did something: without them the parameters differ
    _, plain, _, _ = _train_with_hooks(False, hooks=False)
    assert not np.allclose(plain[0], params[0])


def test_tensor_hook_on_a_compiled_argument_is_traced_and_keyed():
    @graphc.compile
    def grad_of(x):
        return graphc.autograd.grad((x ** 2).sum(), x)[0]
    x = graphc.tensor(X, requires_grad=True)
    np.testing.assert_allclose(grad_of(x).numpy(), 2 * X)
    h = x.register_hook(lambda g: g * 10)
    np.testing.assert_allclose(grad_of(x).numpy(), 20 * X)
    h.remove()
    np.testing.assert_allclose(grad_of(x).numpy(), 2 * X)
    assert grad_of.retraces == 1  # the version without hooks is cached


def test_hook_registered_inside_a_compiled_function_is_traced():
    def grad_of(x):
        y = x * x
        y.register_hook(lambda g: g.clamp(max=0.5))
        return graphc.autograd.grad((y * 3).sum(), x)[0]
    x = graphc.tensor(X, requires_grad=True)
    compiled = graphc.compile(grad_of)
    np.testing.assert_allclose(compiled(x).numpy(), grad_of(x).numpy())
    np.testing.assert_allclose(compiled(x).numpy(), 2 * X * 0.5)
    assert "clamp" in compiled.ir("grad") or "where" in compiled.ir("grad")


def test_compiled_module_retraces_when_a_forward_hook_is_added():
    net = _net(graphc)
    compiled = graphc.compile(net)
    x = graphc.tensor(X)
    with graphc.no_grad():
        plain = compiled(x).numpy()
        handle = net.register_forward_hook(lambda m, a, o: o * 2)
        np.testing.assert_allclose(compiled(x).numpy(), 2 * plain)
        handle.remove()
        np.testing.assert_allclose(compiled(x).numpy(), plain)
    assert compiled.retraces == 2


def test_compiled_function_retraces_when_a_captured_tensor_gets_a_hook():
    w = graphc.tensor(X, requires_grad=True)

    @graphc.compile
    def grad_of_w():
        return graphc.autograd.grad((w ** 2).sum(), w)[0]
    np.testing.assert_allclose(grad_of_w().numpy(), 2 * X)
    handle = w.register_hook(lambda g: -g)
    np.testing.assert_allclose(grad_of_w().numpy(), -2 * X)
    handle.remove()
    np.testing.assert_allclose(grad_of_w().numpy(), 2 * X)
    assert grad_of_w.retraces == 2
