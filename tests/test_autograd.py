"""Autograd: backward, autograd.grad, grad modes, version counters, grad transforms.

Gradient values are checked against PyTorch when it is installed and
against finite differences (float64) otherwise.
"""
from __future__ import annotations

import numpy as np
import pytest

import graphc


def _fd_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar numpy function."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


# ---------------------------------------------------------------- accumulation, retain_graph


def test_grad_accumulates_across_backward_calls():
    x = graphc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])
    x.grad = None
    x.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_grad_of_leaf_has_no_history():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.requires_grad is False and x.grad.grad_fn is None
    assert x.grad.shape == x.shape and x.grad.dtype == x.dtype


def test_second_backward_without_retain_graph_raises():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward()
    expected = np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))
    np.testing.assert_allclose(g1, expected, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 2 * expected, rtol=1e-6)


def test_backward_through_shared_subgraph_after_free_raises():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2).sum().backward()


# ---------------------------------------------------------------- higher order


def test_second_derivative_via_autograd_grad():
    x = graphc.tensor([1.0, -2.0, 0.5], dtype=graphc.float64, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = graphc.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * np.array([1.0, -2.0, 0.5]) ** 2)
    assert g.requires_grad
    (h,) = graphc.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([1.0, -2.0, 0.5]))


def test_second_derivative_via_backward_create_graph():
    x = graphc.tensor(2.0, dtype=graphc.float64, requires_grad=True)
    y = x ** 3
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    assert g.item() == pytest.approx(12.0)
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(12.0)  # d2/dx2 x^3 = 6x = 12


def test_third_derivative():
    x = graphc.tensor(1.5, dtype=graphc.float64, requires_grad=True)
    y = x ** 4 + x.sin()
    (d1,) = graphc.autograd.grad(y, x, create_graph=True)
    (d2,) = graphc.autograd.grad(d1, x, create_graph=True)
    (d3,) = graphc.autograd.grad(d2, x)
    assert d1.item() == pytest.approx(4 * 1.5 ** 3 + np.cos(1.5))
    assert d2.item() == pytest.approx(12 * 1.5 ** 2 - np.sin(1.5))
    assert d3.item() == pytest.approx(24 * 1.5 - np.cos(1.5))


def test_second_derivative_matches_torch_mixed():
    torch = pytest.importorskip("torch")
    xv = np.array([0.3, -1.2, 2.0])
    yv = np.array([1.1, 0.4, -0.7])

    def run(M):
        x = M.tensor(xv, requires_grad=True)
        y = M.tensor(yv, requires_grad=True)
        z = (x * y.exp() + x.tanh() * y ** 2).sum()
        gx, gy = M.autograd.grad(z, (x, y), create_graph=True)
        hx, hy = M.autograd.grad((gx * gy).sum(), (x, y))
        return [t.detach().numpy() for t in (gx, gy, hx, hy)]

    for a, b in zip(run(graphc), run(torch), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- grad modes


def test_no_grad_context():
    x = graphc.tensor([1.0], requires_grad=True)
    with graphc.no_grad():
        y = x * 2
        assert not graphc.is_grad_enabled()
    assert graphc.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), [2.0])


def test_enable_grad_inside_no_grad():
    x = graphc.tensor([1.0], requires_grad=True)
    with graphc.no_grad():
        with graphc.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_set_grad_enabled_forms():
    x = graphc.tensor([1.0], requires_grad=True)
    with graphc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    graphc.set_grad_enabled(False)  # as a function call
    try:
        assert not graphc.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        graphc.set_grad_enabled(True)
    assert graphc.is_grad_enabled()

    @graphc.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert graphc.is_grad_enabled()
    assert not f(x).requires_grad
    assert graphc.is_grad_enabled()


def test_no_grad_and_enable_grad_decorators():
    x = graphc.tensor([1.0], requires_grad=True)

    @graphc.no_grad()
    def f(t):
        return t * 2

    @graphc.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad
    with graphc.no_grad():
        assert g(x).requires_grad
        assert not graphc.is_grad_enabled()
    assert graphc.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ZeroDivisionError):
        with graphc.no_grad():
            raise ZeroDivisionError
    assert graphc.is_grad_enabled()


def test_leaf_modified_under_no_grad_is_allowed_before_use():
    w = graphc.tensor([1.0, 2.0], requires_grad=True)
    with graphc.no_grad():
        w.sub_(0.5)
    assert w.is_leaf and w.requires_grad
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 3.0])


# ---------------------------------------------------------------- version counter


def test_saved_tensor_modified_inplace_raises():
    x = graphc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = graphc.ones(3)
    y = x * c
    c.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_output_modified_inplace_raises():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    z = y.sum()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="inplace"):
        z.backward()


def test_leaf_modified_under_no_grad_after_use_raises():
    w = graphc.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with graphc.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match="inplace"):
        y.backward()


def test_unsaved_tensor_modified_inplace_is_fine():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    c = graphc.ones(2)
    y = x + c  # add saves neither input
    c.add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_inplace_on_leaf_requiring_grad_raises():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 5.0
    with pytest.raises(RuntimeError, match="leaf"):
        x.view(2).mul_(2)
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])


def test_inplace_on_nonleaf_gradient_values():
    x = graphc.tensor([0.5, -1.0, 2.0], dtype=graphc.float64, requires_grad=True)
    y = x * 2
    y.mul_(x)  # y = 2 x^2: mul_'s backward needs y's value before the write
    y.add_(1)
    y[1] = 0.0
    np.testing.assert_allclose(y.detach().numpy(), [1.5, 0.0, 9.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 8.0])  # 4x, except the overwritten


def test_inplace_on_nonleaf_is_differentiated():
    torch = pytest.importorskip("torch")
    xv = np.array([0.5, -1.0, 2.0])

    def run(M):
        x = M.tensor(xv, requires_grad=True)
        y = x * 2
        y.mul_(x)
        y.add_(1)
        y[1] = 0.0
        y.sum().backward()
        return x.grad.numpy(), y.detach().numpy()

    for a, b in zip(run(graphc), run(torch), strict=True):
        np.testing.assert_allclose(a, b)


def test_inplace_on_nonleaf_keeps_saved_values_of_other_ops():
    torch = pytest.importorskip("torch")
    xv = np.array([0.5, -1.0, 2.0])

    def run(M):
        x = M.tensor(xv, requires_grad=True)
        y = x * 2
        z = y.exp()  # exp saves its output, not y: modifying y afterwards is fine
        y.mul_(x)
        (z.sum() + y.sum()).backward()
        return x.grad.numpy()

    np.testing.assert_allclose(run(graphc), run(torch), rtol=1e-12)


def test_view_of_base_modified_inplace_gradient():
    x = graphc.tensor([0.5, -1.0, 2.0], dtype=graphc.float64, requires_grad=True)
    y = x * 2
    v = y[:2]
    y.mul_(x)  # v now holds 2 * x**2 on its two elements
    np.testing.assert_allclose(v.detach().numpy(), [0.5, 2.0])
    v.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 0.0])  # d(2x^2)/dx = 4x


def test_saved_tensor_modified_inplace_raises_with_create_graph():
    x = graphc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = graphc.ones(3)
    y = x * c
    c.add_(1)
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward(create_graph=True)
    with pytest.raises(RuntimeError, match="inplace"):
        graphc.autograd.grad((x * c * 1).sum() + y.sum(), x, create_graph=True)


def test_version_counter_increments():
    x = graphc.zeros(3)
    assert x._version == 0
    x.add_(1)
    x.mul_(2)
    x[0] = 1.0
    assert x._version == 3
    y = x.detach()  # shares the version counter, as in PyTorch
    y.zero_()
    assert x._version == 4
    np.testing.assert_array_equal(x.numpy(), [0.0, 0.0, 0.0])


# ---------------------------------------------------------------- leaves and grad_fn


def test_leaf_and_nonleaf_grad():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y * y
    assert x.is_leaf and not y.is_leaf
    assert graphc.tensor([1.0]).is_leaf
    y.retain_grad()
    w = x * 4
    (z.sum() + w.sum()).backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * np.array([3.0, 6.0]))
    assert w.grad is None  # non-leaf without retain_grad()
    np.testing.assert_allclose(x.grad.numpy(), 18 * np.array([1.0, 2.0]) + 4)


def test_no_grad_result_is_leaf():
    x = graphc.tensor([1.0], requires_grad=True)
    with graphc.no_grad():
        y = x * 2
    assert y.is_leaf and not y.requires_grad


def test_grad_fn_names_ours():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad_fn is None
    assert (x + 1).grad_fn.name() == "AddBackward0"
    assert (x * x).grad_fn.name() == "MulBackward0"
    assert (x ** 2).grad_fn.name() == "PowBackward0"
    assert x.sum().grad_fn.name() == "SumBackward0"
    assert x.mean().grad_fn.name() == "MeanBackward0"
    assert (x ** x).grad_fn.name() == "PowBackward1"
    assert (2 ** x).grad_fn.name() == "PowBackward2"
    assert x.max().grad_fn.name() == "MaxBackward1"
    assert x[0].grad_fn.name() == "SelectBackward0"
    assert x[1:].grad_fn.name() == "SliceBackward0"
    assert x[None].grad_fn.name() == "UnsqueezeBackward0"
    assert graphc.stack([x, x]).grad_fn.name() == "StackBackward0"
    assert "PowBackward0" in repr((x ** 2).sum().grad_fn.next_functions[0][0])


GRAD_FN_EXPRS = [
    "x + y", "x - y", "x * y", "x / y", "-x", "x ** 2", "x ** y", "2 ** x", "x.pow(3)",
    "x.sum()", "x.sum(0)", "x.mean()", "x.mean(1)", "x.exp()", "x.log()", "x.tanh()",
    "x.sigmoid()", "x.relu()", "x.abs()", "x.sqrt()", "x.t()", "x.view(-1)", "x.reshape(6)",
    "x.permute(1, 0)", "x.transpose(0, 1)", "x.unsqueeze(0)", "x.expand(2, 2, 3)",
    "x[0]", "x[:, 1:]", "x[:, 0]", "x[None]", "x[M.tensor([0])]", "x.clone()", "x.double()",
    "x.max()", "x.max(0).values", "x.min()", "x.prod()", "x.var()", "x.std()",
    "x.softmax(0)", "x.log_softmax(1)", "M.cat([x, y])", "M.stack([x, y])",
    "M.where(x > 2, x, y)", "x.clamp(0, 1)", "x.sign()", "x.floor()",
]


@pytest.mark.parametrize("expr", GRAD_FN_EXPRS)
def test_grad_fn_names_match_torch(expr):
    torch = pytest.importorskip("torch")
    names = []
    for M in (torch, graphc):
        x = M.tensor(np.arange(1.0, 7.0).reshape(2, 3).astype(np.float32), requires_grad=True)
        y = M.tensor(np.ones((2, 3), np.float32), requires_grad=True)
        r = eval(expr, {"M": M, "x": x, "y": y})
        names.append(type(r.grad_fn).__name__ if M is torch else r.grad_fn.name())
    assert names[1] == names[0]


def test_matmul_has_a_matmul_grad_fn():
    # PyTorch's name depends on the dispatch (MmBackward0, UnsafeViewBackward0, ...): only check
    # that one is there and that the gradient flows.
    a = graphc.ones(2, 3, requires_grad=True)
    b = graphc.ones(3, 4, requires_grad=True)
    c = a @ b
    assert c.grad_fn is not None and c.grad_fn.name().endswith("Backward0")
    c.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 3), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((3, 4), 2.0))


def test_zero_gradient_ops_still_require_grad():
    x = graphc.tensor([1.5, -2.5], requires_grad=True)
    for y in (x.sign(), x.floor(), x.ceil(), x.round()):
        assert y.requires_grad and y.grad_fn is not None
    (x.floor() * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    assert not (x > 0).requires_grad


def test_grad_fn_survives_backward():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    y = (x ** x).sum()
    p = x ** x
    p.sum().backward()
    assert p.grad_fn.name() == "PowBackward1"
    assert y.grad_fn.name() == "SumBackward0"


# ---------------------------------------------------------------- backward arguments


def test_backward_on_nonscalar_without_gradient_raises():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()


def test_backward_with_explicit_gradient():
    x = graphc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(graphc.tensor([1.0, 0.5, -1.0]))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, 2.0, 3.0])
                               * np.array([1.0, 0.5, -1.0]))


def test_backward_gradient_shape_mismatch_raises():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        (x * 2).backward(graphc.ones(3))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        graphc.tensor([1.0]).sum().backward()


def test_autograd_grad_does_not_touch_dot_grad():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    (g,) = graphc.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert x.grad is None


def test_autograd_grad_allow_unused():
    x = graphc.tensor([1.0], requires_grad=True)
    y = graphc.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        graphc.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = graphc.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0])
    assert gy is None


def test_autograd_grad_with_grad_outputs():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    (g,) = graphc.autograd.grad(x * 3, x, grad_outputs=graphc.tensor([1.0, -2.0]))
    np.testing.assert_allclose(g.numpy(), [3.0, -6.0])


def test_autograd_grad_multiple_outputs_sum():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    (g,) = graphc.autograd.grad([(x * x).sum(), (3 * x).sum()], [x])
    np.testing.assert_allclose(g.numpy(), [5.0, 7.0])


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(RuntimeError, match="floating point"):
        graphc.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError):
        graphc.arange(3).requires_grad_()
    x = graphc.arange(3.0).requires_grad_()
    assert x.requires_grad


def test_requires_grad_flag_on_nonleaf():
    x = graphc.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)


# ---------------------------------------------------------------- broadcasting in gradients


def test_broadcasting_undone_in_gradients():
    xv = np.array([[1.0], [2.0], [3.0]])
    yv = np.array([0.5, -1.0, 2.0, 4.0])
    x = graphc.tensor(xv, requires_grad=True)
    y = graphc.tensor(yv, requires_grad=True)
    ((x + y) * (x * y)).sum().backward()
    assert x.grad.shape == (3, 1) and y.grad.shape == (4,)

    def f_x(a):
        return ((a + yv) * (a * yv)).sum()

    def f_y(b):
        return ((xv + b) * (xv * b)).sum()

    np.testing.assert_allclose(x.grad.numpy(), _fd_grad(f_x, xv), rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), _fd_grad(f_y, yv), rtol=1e-6)


def test_broadcasting_gradients_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xv, yv, zv = rng.normal(size=(3, 1)), rng.normal(size=(4,)), rng.normal(size=(2, 1, 1))

    def run(M):
        x, y, z = (M.tensor(v, requires_grad=True) for v in (xv, yv, zv))
        out = ((x - y) * z / (1 + y ** 2) + x.exp() * 2.0).mean()
        out.backward()
        return [t.grad.numpy() for t in (x, y, z)]

    for a, b in zip(run(graphc), run(torch), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_scalar_and_dtype_gradients():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    d = graphc.tensor(3.0, dtype=graphc.float64, requires_grad=True)
    y = (x * d).sum()  # a 0-d tensor promotes like a scalar: float32 * f64[] -> float32
    assert y.dtype == graphc.float32
    y.backward()
    assert x.grad.dtype == graphc.float32 and d.grad.dtype == graphc.float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    assert d.grad.item() == pytest.approx(3.0)


def test_gradients_through_views_and_indexing_match_torch():
    torch = pytest.importorskip("torch")
    xv = np.arange(12.0).reshape(3, 4) / 7

    def run(M):
        x = M.tensor(xv, requires_grad=True)
        y = (x.t()[1:, ::2] ** 2).sum() + x[M.tensor([0, 2, 0])].sin().sum() \
            + x[x > 0.5].sum() + x.view(-1)[3] * 5 + x.permute(1, 0).expand(2, 4, 3).mean()
        y.backward()
        return x.grad.numpy()

    np.testing.assert_allclose(run(graphc), run(torch), rtol=1e-10)


# ---------------------------------------------------------------- function transforms


def test_graphc_grad_transform():
    def f(x):
        return (x ** 3).sum()

    xv = np.array([1.0, -2.0, 0.5])
    g = graphc.grad(f)(graphc.tensor(xv))
    np.testing.assert_allclose(g.numpy(), 3 * xv ** 2, rtol=1e-6)
    assert not g.requires_grad


def test_value_and_grad():
    def f(x, y):
        return (x * y).sum() + (x ** 2).sum()

    x = graphc.tensor([1.0, 2.0])
    y = graphc.tensor([3.0, -1.0])
    v, g = graphc.value_and_grad(f)(x, y)
    assert v.item() == pytest.approx(1 * 3 + 2 * -1 + 1 + 4)
    np.testing.assert_allclose(g.numpy(), y.numpy() + 2 * x.numpy())
    v, (gx, gy) = graphc.value_and_grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx.numpy(), y.numpy() + 2 * x.numpy())
    np.testing.assert_allclose(gy.numpy(), x.numpy())
    gy = graphc.grad(f, argnums=1)(x, y)
    np.testing.assert_allclose(gy.numpy(), x.numpy())
    assert x.grad is None and not x.requires_grad


def test_nested_grad_transform():
    def f(x):
        return (x ** 3).sum()

    def df(x):
        return graphc.grad(f)(x).sum()

    xv = np.array([1.0, -2.0, 0.5], dtype=np.float64)
    d2 = graphc.grad(df)(graphc.tensor(xv))
    np.testing.assert_allclose(d2.numpy(), 6 * xv)
    d3 = graphc.grad(lambda x: graphc.grad(df)(x).sum())(graphc.tensor(xv))
    np.testing.assert_allclose(d3.numpy(), np.full(3, 6.0))


def test_grad_transform_rejects_nonscalar():
    with pytest.raises(RuntimeError):
        graphc.grad(lambda x: x * 2)(graphc.tensor([1.0, 2.0]))


def test_grad_transform_against_finite_differences():
    xv = np.array([[0.3, -0.4], [1.2, 0.1]])

    def f_np(a):
        return np.log1p(np.exp(a)).sum() + (a @ a).sum()

    def f(a):
        return (1 + a.exp()).log().sum() + (a @ a).sum()

    g = graphc.grad(f)(graphc.tensor(xv))
    np.testing.assert_allclose(g.numpy(), _fd_grad(f_np, xv), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- detach, debug output


def test_detach_stops_gradients():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    y = x * x.detach()
    assert not x.detach().requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])  # only the first factor


def test_detach_shares_memory():
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    with graphc.no_grad():
        x.mul_(3)
    np.testing.assert_array_equal(d.numpy(), [3.0, 6.0])


def test_graphc_debug_prints_gradient_graph(capsys, monkeypatch):
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    monkeypatch.setenv("GRAPHC_DEBUG", "1")
    y.backward()
    err = capsys.readouterr().err
    assert "graph" in err and "mul" in err
    assert "test_autograd.py" in err  # nodes carry the user's source line
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_no_debug_output_by_default(capsys, monkeypatch):
    monkeypatch.delenv("GRAPHC_DEBUG", raising=False)
    x = graphc.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert capsys.readouterr().err == ""


def test_view_sees_base_write_without_grad_and_no_false_version_error():
    """A view used after its base was written (no grad involved) carries the new values and
    does not trip the saved-value check."""
    x = graphc.zeros(4)
    v = x[:2]
    x.add_(1.0)
    w = graphc.ones(2, requires_grad=True)
    y = (v * w).sum()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(v.numpy(), [1.0, 1.0])


def test_sibling_view_write_updates_other_views():
    x = graphc.zeros(3, 2)
    a, b = x[0], x[:, 1]
    a.fill_(5.0)
    np.testing.assert_allclose(b.numpy(), [5.0, 0.0, 0.0])
    assert b._version == x._version == a._version


def test_grad_accumulates_in_place_like_pytorch():
    x = graphc.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    assert x.grad is first
    np.testing.assert_allclose(first.numpy(), [5.0, 5.0, 5.0])


def test_grad_equal_to_user_gradient_does_not_alias_it():
    x = graphc.ones(3, requires_grad=True)
    seed = graphc.tensor([1.0, 2.0, 3.0])
    (x + 0).backward(seed)
    x.grad.zero_()
    np.testing.assert_allclose(seed.numpy(), [1.0, 2.0, 3.0])


# ---------------------------------------------------------------- slices placed together

def _slices_loss(x):
    """Slices that tile dim 1 with a gap (cols 5..6), one used twice, plus a direct use."""
    a, b, c = x[:, 0:2], x[:, 2:5], x[:, 7:9]
    return (a * a).sum() + (b.sin() * 3).sum() + (c ** 3).sum() + (c * 2).sum() + x.mean()


def test_slices_tiling_an_axis_get_one_concat_not_a_padded_array_each():
    xv = np.random.default_rng(0).standard_normal((3, 9))
    x = graphc.tensor(xv, requires_grad=True)
    loss = _slices_loss(x)
    text = graphc.dump_ir(loss, stage="grad")
    assert text.count("concat") == 1 and "pad" not in text, text
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), _fd_grad(lambda v: float(_slices_loss(
        graphc.tensor(v)).item()), xv), rtol=1e-6, atol=1e-8)
    chunks = graphc.tensor(xv, requires_grad=True)
    sum(q.sum() * (i + 1) for i, q in enumerate(chunks.chunk(3, 1))).backward()
    np.testing.assert_array_equal(chunks.grad.numpy(),
                                  np.repeat([[1.0, 2.0, 3.0]], 3, axis=1).repeat(3, axis=0))


def test_overlapping_or_2d_slices_still_pad_and_add():
    torch = pytest.importorskip("torch")
    xv = np.random.default_rng(1).standard_normal((4, 6))

    def run(M):
        x = M.tensor(xv, requires_grad=True)
        y = (x[:, 0:4] * 2).sum() + (x[:, 2:6] ** 2).sum() + x[1:3, 1:5].exp().sum() + \
            x[::2, 1:3].sum()  # overlapping, cut along two axes, strided
        y.backward()
        return x.grad.numpy()
    np.testing.assert_allclose(run(graphc), run(torch), rtol=1e-12)


def test_gradients_of_split_pieces_are_one_concat():
    """The cotangents of a split's pieces are concatenated (PyTorch's cat), not each padded
    with zeros to the whole and summed; pieces that do not meet still add, and the values
    are the same either way, eagerly, replayed and with create_graph."""
    base = np.arange(36.0).reshape(3, 12)
    for _ in range(3):  # the second backward of a structure replays its recorded graph
        x = graphc.tensor(base, requires_grad=True)
        a, b, c = x.split(4, dim=1)
        loss = (a * 1.0 + b.exp() * 2.0 + c * c).sum()
        text = graphc.dump_ir(loss, stage="grad")
        assert "concat" in text and "pad" not in text
        assert not [line for line in text.splitlines() if "= add" in line and "[3,12]" in line]
        loss.backward()
        want = np.concatenate([np.ones((3, 4)), 2 * np.exp(base[:, 4:8]), 2 * base[:, 8:]], 1)
        np.testing.assert_allclose(x.grad.numpy(), want)
    x = graphc.tensor(base, requires_grad=True)
    rows = x.unbind(0)
    (rows[0] * 2.0 + rows[2] * 3.0).sum().backward()  # rows 0 and 2 do not meet: an add
    np.testing.assert_array_equal(x.grad.numpy(), np.array([[2.0], [0.0], [3.0]]).repeat(12, 1))
    x = graphc.tensor(base, requires_grad=True)
    cols = [x[:, t] for t in range(12)]  # an RNN's loop over time steps
    g = graphc.autograd.grad(sum((c * c).sum() for c in cols), x, create_graph=True)[0]
    np.testing.assert_allclose(g.detach().numpy(), 2 * base)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 12), 2.0))
