"""Porting checks: PyTorch programs run with ``import graphc as torch`` give PyTorch's results.

Each test runs the same function once with graphc and once with torch (the
module is the argument) and compares values, dtypes, gradients, exceptions or
repr strings. Skipped when torch is not installed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import graphc

torch = pytest.importorskip("torch")

LIBS = (graphc, torch)


# ---------------------------------------------------------------- helpers

def _dtype_name(d) -> str:
    return str(d).rsplit(".", 1)[-1]


def _same(g, t, rtol=1e-5, atol=1e-6, path="result") -> None:
    """graphc's result ``g`` equals torch's ``t``: tensors (value and dtype), numbers, nesting."""
    if isinstance(t, torch.Tensor):
        assert isinstance(g, graphc.Tensor), f"{path}: {type(g).__name__}, torch gives a Tensor"
        assert _dtype_name(g.dtype) == _dtype_name(t.dtype), f"{path}: dtype"
        assert tuple(g.shape) == tuple(t.shape), f"{path}: shape"
        assert g.requires_grad == t.requires_grad, f"{path}: requires_grad"
        gv, tv = g.detach().numpy(), t.detach().numpy()
        if tv.dtype.kind == "f":
            np.testing.assert_allclose(gv, tv, rtol=rtol, atol=atol, err_msg=path)
        else:
            np.testing.assert_array_equal(gv, tv, err_msg=path)
    elif isinstance(t, (tuple, list)):
        assert len(g) == len(t), f"{path}: length"
        for i, (a, b) in enumerate(zip(g, t)):
            _same(a, b, rtol, atol, f"{path}[{i}]")
    elif isinstance(t, float):
        assert g == pytest.approx(t, rel=rtol, abs=atol, nan_ok=True), path
    else:
        assert g == t, f"{path}: {g!r} != {t!r}"


def _both(fn, **tol) -> None:
    _same(fn(graphc), fn(torch), **tol)


def _outcome(fn, m):
    """fn(m), or the builtin exception class it raised."""
    try:
        return fn(m)
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return next(c for c in type(e).__mro__ if c.__module__ == "builtins")


def _repr(fn) -> tuple[str, str]:
    return repr(fn(graphc)), repr(fn(torch)).replace("torch.", "graphc.")


def _data(seed=0):
    rs = np.random.RandomState(seed)
    return rs


# ---------------------------------------------------------------- (1) small programs

def _mlp_program(m, steps=4):
    rs = _data(0)
    X = m.tensor(rs.randn(32, 5).astype(np.float32))
    y = m.tensor(rs.randint(0, 3, size=32))
    W1 = m.tensor((rs.randn(5, 16) * 0.3).astype(np.float32), requires_grad=True)
    b1 = m.zeros(16, requires_grad=True)
    W2 = m.tensor((rs.randn(16, 3) * 0.3).astype(np.float32)).requires_grad_()
    b2 = m.zeros(3).requires_grad_(True)
    params = [W1, b1, W2, b2]
    losses, grads = [], []
    for step in range(steps):
        h = m.relu(X @ W1 + b1)
        logits = h @ W2 + b2
        logp = logits.log_softmax(dim=1)
        loss = -logp[range(len(y)), y].mean()  # cross-entropy by hand, indexed with a range
        loss.backward()
        losses.append(loss.item())
        grads.append([p.grad.clone() for p in params])
        with m.no_grad():
            for p in params:
                p -= 0.1 * p.grad
                if step % 2:
                    p.grad.zero_()
                else:
                    p.grad = None
    acc = (logits.argmax(1) == y).float().mean()
    return losses, grads, [p.detach() for p in params], acc, W1.is_leaf, W1.grad_fn


def test_mlp_manual_sgd_with_hand_written_cross_entropy():
    _both(_mlp_program, rtol=1e-4, atol=1e-6)


def _logreg_program(m):
    rs = _data(1)
    X = m.tensor(rs.randn(40, 2))  # float64 from numpy
    y = m.tensor((rs.rand(40) > 0.5).astype(np.float64))
    w = m.zeros(2, dtype=m.float64, requires_grad=True)
    b = m.tensor(0.0, dtype=m.float64, requires_grad=True)
    out = []
    for _ in range(5):
        p = m.sigmoid(X @ w + b)
        loss = -(y * m.log(p) + (1 - y) * m.log(1 - p)).mean()
        loss.backward()
        out.append((loss.detach(), w.grad.clone(), b.grad.clone()))
        with m.no_grad():
            w -= 0.5 * w.grad
            b -= 0.5 * b.grad
        w.grad.zero_()
        b.grad.zero_()
    pred = m.sigmoid(X @ w + b) > 0.5
    return out, pred.sum(), (pred.float() == y).float().mean(), w.detach(), b.detach()


def test_logistic_regression_float64():
    _both(_logreg_program, rtol=1e-10, atol=1e-12)


def _attention_program(m):
    rs = _data(2)
    B, T, D = 2, 4, 8
    x = m.tensor(rs.randn(B, T, D).astype(np.float32), requires_grad=True)
    Wq, Wk, Wv = (m.tensor((rs.randn(D, D) * 0.3).astype(np.float32), requires_grad=True)
                  for _ in range(3))
    g = m.ones(D, requires_grad=True)
    beta = m.zeros(D, requires_grad=True)
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    att = q @ k.transpose(-2, -1) / math.sqrt(D)
    mask = m.tril(m.ones(T, T))
    att = att.masked_fill(mask == 0, float("-inf"))
    att = m.softmax(att, dim=-1)
    out = att @ v
    mu = out.mean(dim=-1, keepdim=True)  # layer norm by hand
    var = out.var(dim=-1, keepdim=True, unbiased=False)
    y = (out - mu) / m.sqrt(var + 1e-5) * g + beta
    loss = (y ** 2).sum() / y.numel() + y[:, -1].pow(3).mean()
    loss.backward()
    # a second variant: bool tril mask, in-place masked_fill_ on a non-leaf, einsum with ...
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    s = m.einsum("...qd,...kd->...qk", q, k) * D ** -0.5
    s.masked_fill_(~m.tril(m.ones(T, T, dtype=m.bool)), -1e9)
    p = s.softmax(-1)
    l2 = (p @ v).std()
    g2 = m.autograd.grad(l2, [Wq, Wk, Wv])
    return (att.detach(), loss.detach(), [t.grad for t in (x, Wq, Wk, Wv, g, beta)],
            p.sum(-1).detach(), l2.detach(), g2)


def test_attention_with_causal_mask_and_hand_written_layer_norm():
    _both(_attention_program, rtol=1e-4, atol=1e-5)


def _adam_program(m):
    rs = _data(5)
    X = m.tensor(rs.randn(20, 3).astype(np.float32))
    Y = m.tensor(rs.randn(20, 1).astype(np.float32))
    W1 = m.tensor((rs.randn(3, 8) * 0.5).astype(np.float32), requires_grad=True)
    b1 = m.zeros(8, requires_grad=True)
    W2 = m.tensor((rs.randn(8, 1) * 0.5).astype(np.float32), requires_grad=True)
    b2 = m.zeros(1, requires_grad=True)
    params = [W1, b1, W2, b2]
    ms = [m.zeros_like(p) for p in params]
    vs = [p.new_zeros(p.shape) for p in params]
    losses = []
    for t in range(1, 5):
        pred = m.tanh(X @ W1 + b1) @ W2 + b2
        loss = ((pred - Y) ** 2).mean() + 1e-3 * sum((p ** 2).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        losses.append(loss.item())
        with m.no_grad():
            for p, mo, v in zip(params, ms, vs):
                mo.mul_(0.9).add_(p.grad, alpha=0.1)
                v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
                p.addcdiv_(mo / (1 - 0.9 ** t), (v / (1 - 0.999 ** t)).sqrt().add_(1e-8),
                           value=-0.01)
    return losses, [p.detach() for p in params], ms, vs


def test_adam_written_by_hand_with_in_place_ops():
    _both(_adam_program, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- (2) autograd corners

def _corners(m):
    out = []
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    out.append(x.grad)
    x.grad = None
    a = x + 1
    (a * a).sum().backward()
    out.append(x.grad)
    x.grad = None
    y = (x ** 2).sum()  # accumulation over several backward calls
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    out.append(x.grad.clone())
    x.grad.zero_()
    z = x * 2  # a write through a view of a non-leaf
    z[1:].mul_(3)
    z.sum().backward()
    out.append((z.detach(), x.grad.clone()))
    x.grad = None
    z = x.clone()
    z[0] = 10.0
    z[z > 2.5] = 0.0
    z.sum().backward()
    out.append(x.grad)
    x.grad = None

    def f(t):  # no_grad inside a forward
        h = t * 2
        with m.no_grad():
            s = h.sum()
        return h * s
    f(x).sum().backward()
    out.append(x.grad)
    x.grad = None
    h = x ** 2  # detach midway
    hd = h.detach()
    (h * hd).sum().backward()
    out.append((x.grad, hd.requires_grad, hd.is_leaf, hd.grad_fn is None))
    x.grad = None
    w = m.ones(3)
    w.requires_grad_()
    (w * x).sum().backward()
    out.append((w.grad, x.grad))
    x.grad = None
    h = x * 3  # retain_grad on an intermediate
    h.retain_grad()
    h.tanh().sum().backward()
    out.append((h.grad, x.grad, h.is_leaf))
    x.grad = None
    mat = m.arange(12.0).reshape(3, 4).requires_grad_()
    s = (mat[1, 2] + mat[0] * 2 + mat[[0, 2, 2], [1, 3, 3]].sum()
         + mat[m.tensor([2, 0])][:, 1:3].sum() + mat[-1, -1])
    s.sum().backward()
    out.append(mat.grad)
    mat.grad = None
    mat[mat > 5].sum().backward()
    out.append(mat.grad)
    x.grad = None
    x[2].backward()  # the gradient of an integer-indexed element
    out.append(x.grad)
    return out


def test_autograd_corner_cases():
    _both(_corners)


def _data_semantics(m):
    p = m.tensor([1.0, 2.0], requires_grad=True)
    p.data = m.tensor([5.0, 6.0])
    (p * p).sum().backward()
    first = (p.detach().clone(), p.grad.clone(), p.requires_grad, p.is_leaf)
    q = m.tensor([1.0, 2.0], requires_grad=True)
    y = (q ** 2).sum()
    q.data.mul_(2)  # not seen by autograd's version check; backward reads the new value
    y.backward()
    w = m.tensor([1.0, -1.0], requires_grad=True)
    for _ in range(3):
        loss = ((w - m.tensor([3.0, 2.0])) ** 2).sum()
        loss.backward()
        w.data = w.data - 0.1 * w.grad.data
        w.grad.data.zero_()
    return first, q.grad, w.detach(), w.grad, w.is_leaf


def test_data_assignment_and_writes_through_data():
    _both(_data_semantics)


def _grad_buffers(m):
    w = m.ones(3, requires_grad=True)
    w.sum().backward()  # the gradient of a sum is an expanded view inside
    w.grad.zero_()
    b = m.zeros(2, requires_grad=True)
    (m.ones(4, 2) + b).mean().backward()
    b.grad += 1
    s = m.tensor(2.0, requires_grad=True)
    (s * m.ones(3)).sum().backward()
    s.grad.mul_(3)
    c = m.ones(3, requires_grad=True)
    c.sum().backward(create_graph=True)  # a constant gradient, even with create_graph
    c.grad.zero_()
    return w.grad, b.grad, s.grad, c.grad


def test_grad_from_a_sum_can_be_modified_in_place():
    _both(_grad_buffers)


@pytest.mark.parametrize("fn", [
    lambda m, u: m.tanh(u), lambda m, u: m.sigmoid(u), lambda m, u: m.softmax(u, 0),
    lambda m, u: u.log_softmax(0), lambda m, u: u ** 3, lambda m, u: m.exp(u) * m.sin(u),
], ids=["tanh", "sigmoid", "softmax", "log_softmax", "cube", "exp_sin"])
def test_higher_order_gradients(fn):
    def run(m):
        u = m.tensor([0.3, -1.2, 2.0], requires_grad=True)
        y = fn(m, u)
        g1, = m.autograd.grad((y * m.tensor([1.0, 0.5, 2.0])).sum(), u, create_graph=True)
        g2, = m.autograd.grad((g1 * m.tensor([1.0, 2.0, 3.0])).sum(), u, create_graph=True)
        g3, = m.autograd.grad(g2.sum(), u)
        return g1.detach(), g2.detach(), g3
    _both(run, rtol=1e-4, atol=1e-5)


def _max_dim_grads(m):
    out = []
    for call in (lambda x: x.max(dim=0).values, lambda x: x.min(1)[0],
                 lambda x: m.max(x, 1, keepdim=True).values * m.tensor([[2.0], [3.0]])):
        x = m.tensor([[1.0, 3.0, 3.0], [1.0, 1.0, 2.0]], requires_grad=True)
        call(x).sum().backward()
        out.append(x.grad)
    x = m.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()  # the full reduction splits the gradient among ties
    out.append(x.grad)
    return out


def test_max_min_along_a_dim_send_the_gradient_to_the_index_only():
    _both(_max_dim_grads)


# ---------------------------------------------------------------- (3) dtypes and shapes

_TENSORS = {
    "int": lambda m: m.tensor([-7, -3, 2, 3, 7]),
    "float": lambda m: m.tensor([1.5, -2.0, 3.25, -0.5, 7.0]),
    "bool": lambda m: m.tensor([True, False, True, True, False]),
    "int32": lambda m: m.tensor([1, -2, 3, 4, -5], dtype=m.int32),
}
_OTHERS = {
    "int_t": lambda m: m.tensor([2, -2, 3, -3, 5]),
    "float_t": lambda m: m.tensor([0.5, -1.5, 2.0, 4.0, -3.0]),
    "bool_t": lambda m: m.tensor([True, True, False, True, True]),
    "f64_0d": lambda m: m.tensor(1.5, dtype=m.float64),
    "2": lambda m: 2, "-3": lambda m: -3, "2.5": lambda m: 2.5, "True": lambda m: True,
    "np.float64": lambda m: np.float64(1.5), "np.int64": lambda m: np.int64(3),
    "np.float32": lambda m: np.float32(2.0),
}
_OPS = {
    "add": lambda a, b: a + b, "radd": lambda a, b: b + a, "sub": lambda a, b: a - b,
    "rsub": lambda a, b: b - a, "mul": lambda a, b: a * b, "rmul": lambda a, b: b * a,
    "truediv": lambda a, b: a / b, "rtruediv": lambda a, b: b / a,
    "floordiv": lambda a, b: a // b, "rfloordiv": lambda a, b: b // a,
    "mod": lambda a, b: a % b, "rmod": lambda a, b: b % a, "pow": lambda a, b: a ** b,
    "lt": lambda a, b: a < b, "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b,
    "rgt": lambda a, b: b > a,
}


@pytest.mark.parametrize("tname", list(_TENSORS))
def test_arithmetic_operators_promote_and_fail_like_pytorch(tname):
    """Every operator with tensors, Python and numpy scalars on either side."""
    for oname, other in _OTHERS.items():
        for opname, op in _OPS.items():
            def run(m, op=op, other=other):
                return op(_TENSORS[tname](m), other(m))
            t = _outcome(run, torch)
            if t in (TypeError, NotImplementedError):
                continue  # what torch rejects with those, graphc may take (bool // bool, ...)
            g = _outcome(run, graphc)
            where = f"{tname} {opname} {oname}"
            if isinstance(t, type):
                assert g is t, f"{where}: torch raises {t.__name__}, graphc gives {g!r}"
            elif opname == "pow" and isinstance(g, type):
                continue  # bool ** bool and int ** negative: graphc refuses
            else:
                assert isinstance(g, graphc.Tensor), f"{where}: {g!r}"
                _same(g, t, path=where)


def test_integer_division_and_remainder_with_negative_numbers():
    def run(m):
        a, b = m.tensor([-7, -3, 0, 3, 7]), m.tensor([2, -2, 3, -3, 2])
        return (a // b, a % b, a / b, a // 2, a % -3, -7 // b, 7 % b,
                m.div(a, b, rounding_mode="trunc"), m.div(a, b, rounding_mode="floor"),
                m.remainder(a, 3), m.floor_divide(a, b), a.float() // b, a.float() % b,
                a.float() % -2.5, np.float64(3) // b, np.float64(3) % b)
    _both(run)


def test_integer_division_by_zero_raises():
    for fn in (lambda m: m.tensor([1, 2]) // m.tensor([1, 0]), lambda m: m.tensor([1, 2]) % 0,
               lambda m: 5 // m.tensor([0, 1])):
        assert _outcome(fn, torch) is RuntimeError
        assert _outcome(fn, graphc) is RuntimeError


def test_float_floor_division_and_remainder_are_exact():
    def run(m):
        x = m.tensor([1.0, -1.0, 5.3, -5.3, 1e8 + 3, -2.0])
        return x // 0.1, x % 0.1, x % 3, x % 2.0
    _both(run)
    g, t = _repr(lambda m: m.tensor([-2.0, 2.0]) % 2.0)
    assert g == t


def test_bool_subtraction_raises():
    for fn in (lambda m: m.tensor([True]) - m.tensor([False]), lambda m: m.tensor([1, 2]) - True,
               lambda m: m.tensor([1.5]) - m.tensor([True]), lambda m: 1 - m.tensor([True])):
        assert _outcome(fn, torch) is RuntimeError
        assert _outcome(fn, graphc) is RuntimeError
    _both(lambda m: (1 - m.tensor([True, False]).float(), ~m.tensor([True, False]),
                     m.tensor([True, False]).logical_not()))


def test_reductions_keepdim_bool_sums_and_0d_dims():
    def run(m):
        x = m.arange(6.0).reshape(2, 3)
        s = m.tensor(5.0)
        b = m.tensor([[True, False], [True, True]])
        return (x.mean(dim=0, keepdim=True), x.mean(dim=-1, keepdim=True), x.mean((0, 1), True),
                x.sum(dim=(-1,)), x.sum(1, keepdim=True), m.tensor([1.0, 2.0, 3.0]).sum(dim=-1),
                b.sum(), b.sum(0), b.sum(dtype=m.float32), m.tensor([1, 2], dtype=m.int32).sum(),
                s.sum(dim=-1), s.sum(dim=0), s.mean(-1, keepdim=True), tuple(s.max(dim=-1)),
                tuple(s.min(0)), s.argmax(dim=0), s.argmax(), s.softmax(-1), s.logsumexp(-1),
                x.var(1, unbiased=False), x.std(dim=1, keepdim=True), x.var(correction=0),
                tuple(m.var_mean(x, 1)), tuple(m.std_mean(x, dim=0)),
                tuple(x.max(1, keepdim=True)), tuple(m.min(x, 0)))
    _both(run)
    for fn in (lambda m: m.tensor([1, 2]).mean(), lambda m: m.zeros(0, 3).max()):
        assert _outcome(fn, graphc) is _outcome(fn, torch) is RuntimeError


def test_max_min_named_tuple_repr():
    g, t = _repr(lambda m: m.tensor([[3.0, 1.0], [0.0, 9.0]]).max(1, keepdim=True))
    assert g == t
    g, t = _repr(lambda m: m.tensor([[3, 1], [0, 9]]).min(0))
    assert g == t


def test_shape_functions_on_empty_and_0d_tensors():
    def run(m):
        return (m.zeros(0).reshape(-1), m.zeros(2, 0).reshape(-1), m.zeros(0, 3).reshape(-1, 3),
                m.zeros(0, 3).view(3, -1), m.zeros(0).sum(), m.zeros(0, 3).sum(0),
                m.ones(3, 1).expand(-1, 4), m.ones(3, 1).expand(2, -1, 4),
                m.arange(3).expand(2, -1), m.arange(3).repeat(2), m.arange(3).repeat(2, 2),
                m.arange(4).reshape(2, 2).repeat(1, 3), m.tensor(1.0).repeat(3),
                m.arange(3).repeat(0), m.cat([m.tensor([1, 2]), m.tensor([1.5])]),
                m.cat([m.tensor([True]), m.tensor([2])]),
                m.cat([m.tensor([1.0], dtype=m.float64), m.tensor([2.0])]),
                m.cat([m.zeros(0), m.ones(2, 3)]), m.cat((m.tensor([1], dtype=m.int32),
                                                          m.tensor([2]))),
                m.stack([m.tensor(1.0), m.tensor(2.0)]), m.stack([m.tensor(1), m.tensor(2.0)]),
                m.stack([m.tensor([1, 2]), m.tensor([3, 4])], dim=-1),
                m.arange(12).reshape(3, 4)[[]], m.arange(5)[range(1, 4)],
                m.tril(m.ones(3, 3, dtype=m.bool)), m.triu(m.ones(2, 3, dtype=m.bool), 1),
                m.tril(m.ones(2, 2, dtype=m.int32)))
    _both(run)
    assert _outcome(lambda m: m.cat([]), graphc) is _outcome(lambda m: m.cat([]), torch)


def test_comparisons_of_mixed_dtypes():
    def run(m):
        i, f = m.tensor([1, 2]), m.tensor([1.0, 2.5])
        return (i == f, i < 1.5, m.tensor([True, False]) == 1,
                m.tensor([True, False]) < m.tensor([0.5, 0.5]),
                m.tensor([1, 2], dtype=m.int32) == m.tensor([1, 3]), i != np.int64(2),
                f >= np.float32(2.0), m.maximum(i, f), m.where(i > 1, i, 0.5))
    _both(run)


def test_small_api_conveniences():
    def run(m):
        x = m.tensor([1, 2])
        s = m.zeros(2, 3).shape
        return (x.new_zeros(2), x.new_ones((2,)), x.new_full((2,), 1.5), x.new_tensor([1.5]),
                m.tensor([1.0]).new_tensor([1, 2]), tuple(x.new_empty(3).shape),
                tuple(s + (1,)), type(s + (1,)).__name__, tuple(s[1:]),
                m.randint(5, (2, 2)).shape == (2, 2), m.randint(3, 5, (4,)).dtype == m.int64,
                x.type().split(".")[1], m.tensor([1.5]).type().split(".")[1],
                m.tensor([True]).type().split(".")[1])
    _both(run)

    def decorated(m):
        @m.no_grad
        def double(t):
            return t * 2
        return double(m.ones(1, requires_grad=True)).requires_grad
    _both(decorated)


@pytest.mark.parametrize("eq, shapes", [
    ("...ij,jk->...ik", [(2, 3, 4), (4, 5)]), ("...id,...jd->...ij", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("...ij", [(2, 3, 4)]), ("...ij->...", [(2, 3, 4)]), ("...i,...i", [(3, 4), (4,)]),
    ("i...,i...->...", [(3, 2, 2), (3, 1, 2)]), ("ij...->ji...", [(2, 3, 4)]),
    ("a...,a->...", [(3, 2), (3,)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
])
def test_einsum_with_ellipsis(eq, shapes):
    def run(m):
        rs = _data(7)
        xs = [m.tensor(rs.randn(*s).astype(np.float32), requires_grad=True) for s in shapes]
        out = m.einsum(eq, *xs)
        grads = m.autograd.grad((out * out).sum(), xs)
        return out.detach(), grads
    _both(run, rtol=1e-4, atol=1e-5)


def test_round_half_to_even_keeps_the_sign_of_zero():
    vals = [0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997, -0.49999997, 0.3, -0.3, -0.0, 8388607.5,
            16777215.0, 1e30, math.inf, -math.inf, 2.4999998, 0.50000006]
    for d in ("float32", "float64"):
        def run(m, d=d):
            x = m.tensor(vals, dtype=getattr(m, d), requires_grad=True)
            r = x.round()
            r.sum().backward()
            return r.detach(), x.grad, m.round(x.detach() * 10, decimals=1)
        _both(run, rtol=0, atol=0)
        g, t = _repr(lambda m, d=d: m.tensor(vals[:9], dtype=getattr(m, d)).round())
        assert g == t


# ---------------------------------------------------------------- nanoGPT

def _nanogpt_program(m):
    """nanoGPT's model.py and training loop, small: its LayerNorm with optional bias,
    fused c_attn split in three, SDPA with is_causal, exact GELU, tied embedding and head,
    its weight-decay parameter groups, AdamW, crop_block_size; greedy generation."""
    nn, F = m.nn, m.nn.functional
    vocab, block, embed, heads, layers = 13, 8, 16, 2, 2

    class LayerNorm(nn.Module):
        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(m.ones(ndim))
            self.bias = nn.Parameter(m.zeros(ndim)) if bias else None

        def forward(self, x):
            return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(embed, 3 * embed, bias=False)
            self.c_proj = nn.Linear(embed, embed, bias=False)
            self.attn_dropout, self.resid_dropout = nn.Dropout(0.0), nn.Dropout(0.0)
            self.flash = hasattr(m.nn.functional, "scaled_dot_product_attention")

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(embed, dim=2)
            k = k.view(B, T, heads, C // heads).transpose(1, 2)
            q = q.view(B, T, heads, C // heads).transpose(1, 2)
            v = v.view(B, T, heads, C // heads).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                               is_causal=True)
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = LayerNorm(embed, False), LayerNorm(embed, False)
            self.attn = CausalSelfAttention()
            self.mlp = nn.Sequential(nn.Linear(embed, 4 * embed), nn.GELU(),
                                     nn.Linear(4 * embed, embed), nn.Dropout(0.0))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab, embed), wpe=nn.Embedding(block, embed),
                drop=nn.Dropout(0.0), h=nn.ModuleList([Block() for _ in range(layers)]),
                ln_f=LayerNorm(embed, bias=False)))
            self.lm_head = nn.Linear(embed, vocab, bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, targets=None):
            b, t = idx.size()
            pos = m.arange(0, t, dtype=m.long)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for blk in self.transformer.h:
                x = blk(x)
            x = self.transformer.ln_f(x)
            if targets is None:
                return self.lm_head(x[:, [-1], :]), None
            logits = self.lm_head(x)
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                           ignore_index=-1)

        def crop_block_size(self, block_size):
            self.transformer.wpe.weight = nn.Parameter(
                self.transformer.wpe.weight[:block_size])

    model = GPT()
    rng = np.random.default_rng(0)  # the same weights in both libraries
    model.load_state_dict({k: m.tensor((rng.standard_normal(tuple(v.shape)) * 0.2 +
                                        ("ln" in k)).astype(np.float32))
                           for k, v in model.state_dict().items()})
    param_dict = {pn: p for pn, p in model.named_parameters() if p.requires_grad}
    groups = [{"params": [p for p in param_dict.values() if p.dim() >= 2],
               "weight_decay": 0.1},
              {"params": [p for p in param_dict.values() if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = m.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.95))
    data = rng.integers(0, vocab, (5, 3, block + 1))
    losses = []
    for batch in data:
        x, y = m.tensor(batch[:, :-1]), m.tensor(batch[:, 1:])
        _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.crop_block_size(4)
    idx = m.tensor(data[0, :, :2])
    with m.no_grad():
        for _ in range(3):
            logits, _ = model(idx[:, -4:])
            idx = m.cat((idx, logits[:, -1, :].argmax(-1, keepdim=True)), dim=1)
    return (losses, list(param_dict), sum(p.numel() for p in model.parameters()), idx,
            model.lm_head.weight.detach(), list(model.state_dict()))


def test_nanogpt_trains_and_generates_like_torch():
    _both(_nanogpt_program, rtol=2e-4, atol=2e-5)


# ---------------------------------------------------------------- (4) what users print

_REPR_CASES = [
    [0.0, -0.0], [1.5, -0.0, 3.25], [-0.0], [0.0, 0.0], [math.nan, 1.0], [math.inf, -math.inf, 0.0],
    [0.0, 1e-5], [1e-5, 1.0], [123456789.0, 1.0], [1e-4, 1.0], [0.1, -200.5, 3e3], [1 / 3, -2 / 3],
    [100.0, -1.0], [-1e-9, 2.0], [1e10, -1e10, 0.0], [99999.5], [0.5, 1000.5], [-0.00012, 5.0],
    [[1.0, -2.0], [3.5, 4.0]], [[1e-3, 1.0], [5.0, 1e2]], 7.0, -1e-7, 3e12, -1.5,
    0.6931471824645996,
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", range(len(_REPR_CASES)))
def test_repr_of_values(case, dtype):
    data = _REPR_CASES[case]
    g, t = _repr(lambda m: m.tensor(data, dtype=getattr(m, dtype)))
    assert g == t
    g, t = _repr(lambda m: m.tensor(data, dtype=getattr(m, dtype), requires_grad=True) * 1)
    # "graphc.float64" is one character longer than "torch.float64": the suffixes may wrap
    assert " ".join(g.split()) == " ".join(t.split())


def test_repr_of_random_matrices_losses_and_grads():
    rs = _data(3)
    arrays = [rs.randn(3, 4), rs.randn(5) * 1e-3, rs.randn(4) * 1e4, rs.randn(2, 2, 3),
              rs.randn(8, 12), rs.randn(3, 3) * np.array([1e-6, 1.0, 1e6]),
              rs.randint(-1000, 1000, size=(3, 5)), rs.randn(1001), rs.randn(40, 40)]
    for a in arrays:
        for d in ("float32", "float64"):
            g, t = _repr(lambda m, a=a, d=d: m.tensor(a, dtype=getattr(m, d)))
            assert g == t

    def training_prints(m):
        x = m.tensor(_data(4).randn(3, 2).astype(np.float32), requires_grad=True)
        loss = (x.tanh() ** 2).mean()
        loss.backward()
        return loss, x.grad, x, (x * 2).sum(1), x.detach().double(), -x.grad.sum(0)
    for gv, tv in zip(training_prints(graphc), training_prints(torch)):
        assert repr(gv) == repr(tv).replace("torch.", "graphc.")


def test_format_of_0d_tensors_is_the_python_number():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        loss = (x ** 2).mean()
        return [f"loss {loss}", f"{loss:.3f}", f"{loss:>10.2f}", format(loss), str(loss),
                f"{m.tensor(3)}", f"{m.tensor(3):d}", f"{m.tensor(True)}",
                f"{m.tensor(2.5, dtype=m.float64)}", f"{m.tensor(-0.0)}", f"{m.tensor(1e-8)}"]
    _both(run)
    g, t = (f"{m.tensor([2.5, 1.0])}" for m in LIBS)
    assert g == t
