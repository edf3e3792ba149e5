"""Custom autograd Functions (graphc.autograd.Function), Variable and autograd.functional.

Every program runs on graphc and on PyTorch (the Function classes are built for each by
``tests/custom_functions.py``): values and gradients must agree; gradients are also checked against
finite differences or closed forms in float64.
"""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from tests.custom_functions import Branchy, functions
from tests.test_autograd import _fd_grad as _fd

torch = pytest.importorskip("torch")


G, T = functions(graphc), functions(torch)
LIBS = [(graphc, G), (torch, T)]


def _leaf(M, a, dtype="float64"):
    return M.tensor(np.asarray(a), dtype=getattr(M, dtype), requires_grad=True)


def _np(t):
    return t.detach().numpy()


def _both(program, *arrays, dtype="float64"):
    """Run ``program(M, fns, *leaves)`` on graphc and torch; returns both results (each a
    list of numpy arrays) after checking they agree."""
    results = []
    for M, fns in LIBS:
        leaves = [_leaf(M, a, dtype) for a in arrays]
        out = program(M, fns, *leaves)
        results.append([_np(o) if o is not None else None for o in out])
    for a, b in zip(*results):
        if a is None or b is None:
            assert a is None and b is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    return results[0]


X = np.array([[-1.5, 0.3, 2.0], [0.7, -0.2, 1.1]])


# ---------------------------------------------------------------- values and gradients

def test_custom_relu_values_and_gradients_match_torch():
    def program(M, fns, x):
        y = fns["MyReLU"].apply(x)
        (y * M.tensor([1.0, 2.0, 3.0], dtype=x.dtype)).sum().backward()
        return [y, x.grad]
    y, gx = _both(program, X)
    np.testing.assert_array_equal(y, np.maximum(X, 0))
    np.testing.assert_array_equal(gx, (X > 0) * np.array([1.0, 2.0, 3.0]))


def test_exp_saving_its_output_double_backward_matches_torch():
    def program(M, fns, x):
        y = fns["Exp"].apply(x)
        g, = M.autograd.grad(y.sum(), x, create_graph=True)
        g2, = M.autograd.grad((g * g).sum(), x)
        return [y, g, g2]
    y, g, g2 = _both(program, X)
    np.testing.assert_allclose(g, np.exp(X), rtol=1e-12)
    np.testing.assert_allclose(g2, 2 * np.exp(2 * X), rtol=1e-12)  # d/dx exp(x)^2


def test_double_backward_through_a_differentiable_user_backward():
    def program(M, fns, x):
        y = fns["Cube"].apply(x)
        g, = M.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        return [g, x.grad]
    g, g2 = _both(program, X)
    np.testing.assert_allclose(g, 3 * X ** 2, rtol=1e-12)
    np.testing.assert_allclose(g2, 6 * X, rtol=1e-12)
    np.testing.assert_allclose(g2, _fd(lambda a: (3 * a ** 2).sum(), X), rtol=1e-6)


def test_two_outputs_one_backward_call_with_both_gradients():
    def program(M, fns, x):
        s, c = fns["SinCos"].apply(x)
        ((s * 2).sum() + (c * c).sum()).backward()
        return [s, c, x.grad]
    before = G["calls"]["two_out"]
    s, c, gx = _both(program, X)
    assert G["calls"]["two_out"] == before + 1
    np.testing.assert_allclose(gx, 2 * np.cos(X) - 2 * np.cos(X) * np.sin(X), rtol=1e-12)


def test_unused_output_gets_a_zero_gradient_or_none():
    seen = {}

    def make(M, materialize):
        class Pair(M.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(materialize)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, ga, gb):
                seen[M.__name__, materialize] = None if gb is None else _np(gb).copy()
                return ga * 2 + (0 if gb is None else gb * 3)
        return Pair

    for materialize in (True, False):
        grads = []
        for M, _ in LIBS:
            x = _leaf(M, X)
            a, _ = make(M, materialize).apply(x)
            a.sum().backward()
            grads.append(_np(x.grad))
        np.testing.assert_array_equal(grads[0], grads[1])
        np.testing.assert_array_equal(grads[0], np.full_like(X, 2.0))
    np.testing.assert_array_equal(seen["graphc", True], np.zeros_like(X))
    assert seen["graphc", False] is None and seen["torch", False] is None


def test_non_tensor_arguments_and_needs_input_grad():
    def program(M, fns, x):
        y = M.tensor(np.ones(3), dtype=M.float64)  # needs no gradient
        out = fns["ScaleShift"].apply(x, 2.5, y, "tag")
        out.sum().backward()
        assert out.grad_fn.seen == (True, False, False, False)
        return [out, x.grad]
    out, gx = _both(program, X)
    np.testing.assert_allclose(gx, np.full_like(X, 2.5))


def test_straight_through_estimator_trains_like_torch():
    def program(M, fns, w):
        x = M.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=M.float64)
        opt = M.optim.SGD([w], lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            loss = ((fns["RoundSTE"].apply(w * 3) * x - 1) ** 2).sum()
            loss.backward()
            opt.step()
        return [w, loss]
    _both(program, X)


def test_non_tensor_outputs_pass_through_and_get_none_gradients():
    def program(M, fns):
        class WithCount(M.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, 7, x.argmax()

            @staticmethod
            def backward(ctx, g, g_count, g_index):
                assert g_count is None  # not a tensor
                assert not g_index.any()  # an integer output: a zero, as torch
                return g * 2
        x = _leaf(M, X)
        y, count, index = WithCount.apply(x)
        assert count == 7 and not index.requires_grad
        y.sum().backward()
        return [y, x.grad, index]
    results = [[_np(t) for t in program(M, fns)] for M, fns in LIBS]
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_setup_context_form_and_default_arguments():
    def program(M, fns, x, y):
        out = fns["MulSetup"].apply(x, y)
        out2 = fns["MulSetup"].apply(x, y, alpha=0.5)
        (out + out2).sum().backward()
        return [out, x.grad, y.grad]
    out, gx, gy = _both(program, X, X[::-1].copy())
    np.testing.assert_allclose(gx, X[::-1] * 2.5)


def test_a_function_defining_vjp_instead_of_backward():
    class Double(graphc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):
            return g * 2
    x = _leaf(graphc, X)
    Double.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full_like(X, 2.0))


def test_broadcast_gradient_is_summed_and_cast_as_torch():
    def program(M, fns):
        class Bcast(M.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1

            @staticmethod
            def backward(ctx, g):  # larger than x and float64: summed and cast
                return g.double().unsqueeze(0).expand(4, *g.shape)
        x = _leaf(M, X, "float32")
        Bcast.apply(x).sum().backward()
        assert x.grad.dtype == M.float32
        return [x.grad]
    results = [program(M, fns)[0].numpy() for M, fns in LIBS]
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], np.full(X.shape, 4.0, np.float32))


def test_no_history_under_no_grad_or_without_inputs_requiring_grad():
    x = graphc.tensor(X)
    assert G["MyReLU"].apply(x).grad_fn is None
    with graphc.no_grad():
        y = G["MyReLU"].apply(_leaf(graphc, X))
    assert y.grad_fn is None and not y.requires_grad


# ---------------------------------------------------------------- context features

def test_mark_dirty_in_place_function_matches_torch():
    def program(M, fns):
        class MulInPlace(M.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(3)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 3
        w = _leaf(M, X)
        h = w * 2
        out = MulInPlace.apply(h)
        assert out is h
        (out * out).sum().backward()
        return [out, w.grad]
    out, gw = _both(program)
    np.testing.assert_allclose(gw, 2 * (6 * X) * 6)


def test_mark_dirty_on_a_leaf_requiring_grad_raises():
    class Bad(graphc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        Bad.apply(_leaf(graphc, X))


def test_mark_non_differentiable_outputs_like_torch():
    def program(M, fns):
        class SortValues(M.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                order = x.argsort(dim=1)
                values = x.gather(1, order)
                flags = values * 0
                ctx.mark_non_differentiable(order, flags)
                ctx.save_for_backward(order)
                return values, order, flags

            @staticmethod
            def backward(ctx, g, g_order, g_flags):
                order, = ctx.saved_tensors
                return M.zeros_like(g).scatter_add(1, order, g)
        x = _leaf(M, X)
        values, order, flags = SortValues.apply(x)
        assert not order.requires_grad and not flags.requires_grad and values.requires_grad
        (values * M.tensor([1.0, 2.0, 3.0], dtype=M.float64)).sum().backward()
        return [values, order, x.grad]
    _both(program)


def test_saved_input_modified_in_place_raises():
    x = _leaf(graphc, X)
    h = x * 1
    y = G["MyReLU"].apply(h)
    with graphc.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_output_modified_in_place_raises():
    y = G["Exp"].apply(_leaf(graphc, X))
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_tensors_are_freed_by_backward():
    x = _leaf(graphc, X)
    y = G["Exp"].apply(x)
    y.sum().backward(retain_graph=True)
    assert len(y.grad_fn.saved_tensors) == 1
    y.sum().backward()
    with pytest.raises(RuntimeError, match="after they have already been freed"):
        _ = y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_once_differentiable_runs_once_and_refuses_double_backward():
    def make(M):
        class Square(M.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @M.autograd.function.once_differentiable
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return 2 * x * g
        return Square
    for M, _ in LIBS:
        x = _leaf(M, X)
        y = make(M).apply(x)
        g, = M.autograd.grad((y * y).sum(), x, create_graph=True)  # the gradient into the
        np.testing.assert_allclose(_np(g), 4 * X ** 3)               # backward needs grad
        with pytest.raises(RuntimeError, match="differentiate twice a function that was marked"):
            g.sum().backward()


def test_grad_fn_is_the_context_named_after_the_class():
    x = _leaf(graphc, X)
    y = G["MyReLU"].apply(x * 2)
    fn = y.grad_fn
    assert fn.name() == "MyReLUBackward" and type(fn).__name__ == "MyReLUBackward"
    assert "grad_fn=<MyReLUBackward>" in repr(y)
    assert isinstance(fn, graphc.autograd.function.FunctionCtx)
    (nxt, _), = fn.next_functions
    assert nxt.name() == "MulBackward0"
    s, c = G["SinCos"].apply(x)
    assert s.grad_fn is c.grad_fn  # one call, one node


def test_dump_ir_shows_the_function_by_its_class_name():
    x = _leaf(graphc, X)
    y = G["MyReLU"].apply(x) * 2
    text = graphc.dump_ir(y)
    assert "= MyReLU %" in text
    grad = graphc.dump_ir(y.sum(), stage="grad")
    assert "gt %" in grad  # the user's backward, recorded as ordinary ops
    s, c = G["SinCos"].apply(x)
    text = graphc.dump_ir(s + c)
    assert "SinCos" in text and "output=0" in text and "output=1" in text


def test_functions_are_never_replayed():
    calls = G["calls"]
    x = _leaf(graphc, X)
    for step in range(4):  # replay would run a recorded plan without the user's backward
        before = calls["two_out"]
        x.grad = None
        s, c = G["SinCos"].apply(x * (step + 1))
        (s + c).sum().backward()
        assert calls["two_out"] == before + 1
        k = step + 1
        np.testing.assert_allclose(x.grad.numpy(), k * (np.cos(k * X) - np.sin(k * X)),
                                   rtol=1e-12)


def test_contexts_and_saved_tensors_are_freed_without_the_garbage_collector():
    import gc
    import weakref
    gc.disable()  # reference counting alone must free them: no cycles, no caches
    try:
        refs = []
        x = _leaf(graphc, X)
        for _ in range(5):
            y = G["Exp"].apply(x)
            refs.append(weakref.ref(y.grad_fn))
            y.sum().backward()
        del y
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


# ---------------------------------------------------------------- errors

def _returning(M, grads):
    class Bad(M.autograd.Function):
        @staticmethod
        def forward(ctx, x, n, y):
            return x * n * y

        @staticmethod
        def backward(ctx, g):
            return grads(M, g)
    return Bad


@pytest.mark.parametrize("grads, message", [
    (lambda M, g: g, r"function BadBackward returned an incorrect number of gradients "
                     r"\(expected 3, got 1\)"),
    (lambda M, g: (g, g, g), "function BadBackward returned a gradient different than None at "
                             "position 2, but the corresponding forward input was not a "
                             "Variable"),
    (lambda M, g: (g, None, M.ones(5, dtype=g.dtype)),
     r"Function BadBackward returned an invalid gradient at index 1 - got \[5\] but expected "
     r"shape compatible with \[2, 3\]"),
    (lambda M, g: (g, None, 3.0), r"expected Variable or None \(got float\)"),
])
def test_bad_backward_results_raise_torchs_errors(grads, message):
    for M, _ in LIBS:
        x, y = _leaf(M, X), _leaf(M, X)
        with pytest.raises(RuntimeError, match=message) as info:
            _returning(M, grads).apply(x, 2, y).sum().backward()
        if M is graphc:  # and say where: the user's apply and backward lines
            assert "Bad.apply at test_function.py" in str(info.value)
            assert "test_function.py" in str(info.value).splitlines()[-1]


def test_extra_trailing_none_gradients_are_accepted():
    for M, _ in LIBS:
        x, y = _leaf(M, X), _leaf(M, X)
        _returning(M, lambda M, g: (g, None, g, None, None)).apply(x, 2, y).sum().backward()
        np.testing.assert_array_equal(_np(y.grad), np.ones_like(X))


def test_misuse_of_the_class_raises():
    with pytest.raises(TypeError, match="save_for_backward can only save variables, but "
                                        "argument 1 is of type int"):
        class Saves(graphc.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x, 3)
                return x
        Saves.apply(_leaf(graphc, X))

    class NoBackward(graphc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2
    with pytest.raises(NotImplementedError, match="implement either the backward or vjp"):
        NoBackward.apply(_leaf(graphc, X)).sum().backward()
    with pytest.warns(DeprecationWarning):
        instance = NoBackward()
    with pytest.raises(RuntimeError, match="Legacy autograd function"):
        instance(_leaf(graphc, X))


# ---------------------------------------------------------------- compiled

def sgd_run(params, loss_of, batches, compiled: bool, before_step=None):
    """SGD steps (zero_grad, loss_of(x, y), backward, step) over ``batches``, the whole step
    compiled or eager; ``before_step(i)`` runs before step i. Returns (losses, the step)."""
    opt = graphc.optim.SGD(params, lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = loss_of(x, y)
        loss.backward()
        opt.step()
        return loss
    run = graphc.compile(step) if compiled else step
    losses = []
    for i, (x, y) in enumerate(batches):
        if before_step is not None:
            before_step(i)
        losses.append(run(x, y).item())
    return losses, run


def _train(compiled: bool):
    graphc.manual_seed(0)
    model = graphc.nn.Linear(3, 2).double()

    def loss_of(x, target):
        h = G["MyReLU"].apply(model(x))
        s, c = G["SinCos"].apply(h)
        return ((G["Exp"].apply(s) + c - target) ** 2).mean()
    rng = np.random.default_rng(1)
    batches = [(graphc.tensor(rng.standard_normal((5, 3))),
                graphc.tensor(rng.standard_normal((5, 2)))) for _ in range(4)]
    losses, run = sgd_run(model.parameters(), loss_of, batches, compiled)
    return losses, [p.detach().numpy().copy() for p in model.parameters()], run


def test_function_inside_a_compiled_training_step_matches_eager():
    eager_losses, eager_params, _ = _train(False)
    losses, params, run = _train(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-10)
    for a, b in zip(params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    assert run.retraces == 0
    graph = run.ir("graph")
    assert "= MyReLU %" in graph and "= SinCos %" in graph and "= Exp %" in graph
    assert "MyReLU" not in run.ir("optimized")  # identities, removed once autodiff is done


def test_compiled_function_with_create_graph_through_the_function():
    @graphc.compile
    def second(x):
        y = G["Cube"].apply(x)
        g, = graphc.autograd.grad(y.sum(), x, create_graph=True)
        g2, = graphc.autograd.grad(g.sum(), x)
        return g2
    x = _leaf(graphc, X)
    np.testing.assert_allclose(second(x).numpy(), 6 * X, rtol=1e-12)


def test_value_dependent_backward_under_compile_raises_a_clear_error():
    @graphc.compile
    def step(x):
        y = Branchy.apply(x)
        return graphc.autograd.grad(y.sum(), x)[0]
    x = _leaf(graphc, X)
    Branchy.apply(x).sum().backward()  # eagerly fine
    with pytest.raises(RuntimeError, match="graphc.where"):
        step(x)


# ---------------------------------------------------------------- Variable, functional

def test_variable_is_the_legacy_tensor_wrapper():
    Variable = graphc.autograd.Variable
    x = _leaf(graphc, X)
    h = x * 2
    v = Variable(h)
    assert isinstance(v, graphc.Tensor) and isinstance(h, Variable)
    assert v.is_leaf and not v.requires_grad and v.grad_fn is None
    w = Variable(h, requires_grad=True)
    assert w.is_leaf and w.requires_grad
    a = graphc.ones(3)
    Variable(a).add_(1)  # shares memory, as torch's
    np.testing.assert_array_equal(a.numpy(), [2.0, 2.0, 2.0])
    assert Variable().shape == (0,)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got int"):
        Variable(3)


def _cmp_structure(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _cmp_structure(x, y)
    else:
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)


FUNCTIONS = {
    "one_to_one": (lambda M: lambda x: x.exp() * x.sin(), 1),
    "two_to_two": (lambda M: lambda x, y: ((x.exp() * y).sum(), x * y ** 2), 2),
    "scalar": (lambda M: lambda x, y: (x.exp() * y.sin() + x * x * y).sum(), 2),
    "matrix": (lambda M: lambda x: (x @ x.t()).tanh(), 1),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jacobian_matches_torch_and_finite_differences(name):
    make, n = FUNCTIONS[name]
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 3)) for _ in range(n)]
    args = [graphc.tensor(a) for a in arrays]
    targs = [torch.tensor(a) for a in arrays]
    unpack = (lambda xs: xs[0]) if n == 1 else tuple
    got = graphc.autograd.functional.jacobian(make(graphc), unpack(args))
    want = torch.autograd.functional.jacobian(make(torch), unpack(targs))
    _cmp_structure(got, want)
    # finite differences of the first output with respect to the first input
    first = got if n == 1 and not isinstance(got, tuple) else got[0]
    first = first[0] if isinstance(first, tuple) else first
    out0 = make(graphc)(*args)
    out0 = out0[0] if isinstance(out0, tuple) else out0

    def f0(a, k):
        vals = [graphc.tensor(a)] + args[1:]
        r = make(graphc)(*vals)
        return (r[0] if isinstance(r, tuple) else r).numpy().reshape(-1)[k]
    for k in range(out0.numel()):
        fd = _fd(lambda a: f0(a, k), arrays[0])
        np.testing.assert_allclose(first.numpy().reshape(out0.numel(), -1)[k], fd.reshape(-1),
                                   rtol=1e-5, atol=1e-7)


def test_hessian_matches_torch_and_finite_differences():
    make, _ = FUNCTIONS["scalar"]
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    got = graphc.autograd.functional.hessian(make(graphc), (graphc.tensor(a),
                                                            graphc.tensor(b)))
    want = torch.autograd.functional.hessian(make(torch), (torch.tensor(a), torch.tensor(b)))
    _cmp_structure(got, want)
    single = graphc.autograd.functional.hessian(lambda x: (x ** 3).sum() * x[0],
                                                graphc.tensor(a))

    def grad_np(v):
        return 3 * v ** 2 * v[0] + np.eye(3)[0] * (v ** 3).sum()
    fd = np.stack([_fd(lambda u: grad_np(u)[i], a) for i in range(3)])
    np.testing.assert_allclose(single.numpy(), fd, rtol=1e-6, atol=1e-8)


def test_functional_products_and_create_graph_match_torch():
    rng = np.random.default_rng(5)
    a, v = rng.standard_normal(4), rng.standard_normal(4)
    F, TF = graphc.autograd.functional, torch.autograd.functional
    f = lambda x: x.exp() * x  # noqa: E731
    s = lambda x: (x.exp() * x).sum()  # noqa: E731
    ga, gv, ta, tv = graphc.tensor(a), graphc.tensor(v), torch.tensor(a), torch.tensor(v)
    for name, fn in (("vjp", f), ("jvp", f), ("vhp", s), ("hvp", s)):
        _cmp_structure(getattr(F, name)(fn, ga, gv), getattr(TF, name)(fn, ta, tv))
    x = _leaf(graphc, a)
    jac = F.jacobian(f, x, create_graph=True)
    jac.sum().backward()  # d/dx of sum of the diagonal Jacobian exp(x)(1 + x)
    np.testing.assert_allclose(x.grad.numpy(), np.exp(a) * (2 + a), rtol=1e-12)


def test_functional_strict_mode_and_bad_arguments_raise_like_torch():
    F, TF = graphc.autograd.functional, torch.autograd.functional
    for M, mod in ((graphc, F), (torch, TF)):
        x = M.tensor(np.ones(2))
        with pytest.raises(RuntimeError, match="independent of input 1"):
            mod.jacobian(lambda a, b: a * 2, (x, x), strict=True)
        with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
            mod.jacobian(lambda a: a, [1.0])
        with pytest.raises(RuntimeError, match="should contain a single element"):
            mod.hessian(lambda a: a * 2, x)
        with pytest.raises(RuntimeError, match="v has invalid size"):
            mod.vjp(lambda a: a * 2, x, M.ones(3, dtype=M.float64))
    zero = F.jacobian(lambda a, b: a * 2, (graphc.ones(2), graphc.ones(2)))
    np.testing.assert_array_equal(zero[1].numpy(), np.zeros((2, 2)))


def test_graphc_debug_prints_what_it_can_of_a_value_dependent_backward(capsys, monkeypatch):
    monkeypatch.setenv("GRAPHC_DEBUG", "1")
    x = _leaf(graphc, X)
    Branchy.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(X))
    assert "cannot be recorded" in capsys.readouterr().err
