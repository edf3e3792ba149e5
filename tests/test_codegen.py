"""The native back end: views read in place, the arena, the blocked matmul and its
epilogue, threads, the entry point, and the on-disk cache of object code."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphc
from graphc.codegen.kernel import View, _reshape_strides, contiguous_strides
from graphc.runtime import cache
from graphc.runtime.cpu import get_num_threads, set_num_threads


@pytest.fixture
def threads():
    before = get_num_threads()
    yield set_num_threads
    set_num_threads(before)


# ---------------------------------------------------------------- views

@pytest.mark.parametrize("old,perm,new", [
    ((2, 3, 4), (0, 1, 2), (6, 4)), ((2, 3, 4), (0, 1, 2), (2, 12)),
    ((2, 3, 4), (1, 0, 2), (6, 4)), ((2, 3, 4), (2, 1, 0), (4, 6)),
    ((4, 6), (1, 0), (3, 2, 4)), ((4, 6), (1, 0), (6, 2, 2)), ((1, 5, 1), (2, 1, 0), (5,)),
    ((3, 1, 4), (0, 1, 2), (3, 4, 1, 1)), ((0, 3), (1, 0), (3, 0)), ((2, 2), (1, 0), (4,)),
])
def test_reshape_views_match_numpy(old, perm, new):
    """A reshape of a permuted array is a view exactly when numpy can make it one, and
    then reads the same elements."""
    base = np.arange(int(np.prod(old))).reshape(old)
    x = base.transpose(perm)
    v = View(0, x.shape, tuple(s // base.itemsize for s in x.strides))
    strides = _reshape_strides(v.shape, v.strides, new)
    try:
        want = x.view()
        want.shape = new  # numpy raises when this needs a copy
    except AttributeError:
        assert strides is None
        return
    assert strides is not None
    got = np.lib.stride_tricks.as_strided(base, new, [s * base.itemsize for s in strides])
    np.testing.assert_array_equal(got, want)


def test_movement_ops_cost_no_copies():
    def f(x, y):
        a = x.t()[1:, ::2]                        # a transposed, sliced view
        return (a * y.reshape(1, -1)).exp() + x.t()[1:, ::2].sum(0, keepdim=True)
    compiled = graphc.compile(f)
    x, y = graphc.randn(6, 5), graphc.randn(3)
    np.testing.assert_allclose(compiled(x, y).numpy(), f(x, y).numpy(), rtol=1e-5)
    kernels = compiled.ir("kernels")
    assert "0 interpreted nodes" in kernels
    assert "copy" not in kernels
    assert "[4, 3] strides [1, 10] +1]" in kernels  # x.t()[1:, ::2] read in place


def test_reshape_of_a_transpose_copies_once():
    f = graphc.compile(lambda x: (x.t().reshape(-1) * 2, x.t().reshape(2, -1).sum(1)))
    x = graphc.randn(3, 4)
    for got, want in zip(f(x), (x.t().reshape(-1) * 2, x.t().reshape(2, -1).sum(1))):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    assert f.ir("kernels").count(": copy;") == 1


def test_views_returned_are_copies_not_aliases():
    f = graphc.compile(lambda x: (x.t(), x[1:], x * 1))
    x = graphc.randn(3, 4)
    a, b, c = f(x)
    np.testing.assert_array_equal(a.numpy(), x.numpy().T)
    np.testing.assert_array_equal(b.numpy(), x.numpy()[1:])
    a.add_(1.0)
    np.testing.assert_array_equal(b.numpy(), x.numpy()[1:])  # nothing shared


# ---------------------------------------------------------------- arena and fusion

def test_arena_reuses_dead_intermediates():
    def f(x):
        for _ in range(6):
            x = (x @ x.t()).tanh() * 0.5         # a chain of 64x64 intermediates
        return x
    compiled = graphc.compile(f)
    x = graphc.randn(64, 64) * 0.1
    np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-4, atol=1e-6)
    plan = compiled.last.native.plan
    arena = [b for b in plan.buffers if b.kind == "arena"]
    assert len(arena) >= 5
    assert plan.arena_bytes <= 2 * 64 * 64 * 4  # two live at a time, not six


def test_softmax_runs_row_by_row_with_no_intermediate_array(threads):
    """max, exp, sum and the division run together on each row; exp is computed once into
    a one-row buffer on the stack; the only array written is the output."""
    f = graphc.compile(lambda x: graphc.softmax(x, -1))
    for n in (1, 2):
        threads(n)
        x = graphc.randn(333, 70)
        np.testing.assert_allclose(f(x).numpy(), graphc.softmax(x, -1).numpy(), rtol=1e-5,
                                   atol=1e-7)
    kernels = f.ir("kernels")
    assert "4 kernels in 1 native segment(s)" in kernels
    assert "rows rows0_max_exp_sum_div: 4 kernels row by row over dim 0 (333 rows)" in kernels
    assert f.last.native.plan.arena_bytes == 0


def test_rows_groups_only_fuse_row_local_reads():
    """A kernel reading another row of an earlier kernel's result must wait for all rows."""
    def f(x):
        s = x.exp().sum(1)                      # [n]
        return x / s, x * s.reshape(-1, 1)       # row r reads all of s; row r reads s[r]
    compiled = graphc.compile(f)
    x = graphc.randn(9, 9)
    for got, want in zip(compiled(x), f(x)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)
    kernels = compiled.ir("kernels")
    assert "\n  kernel k0_sum reduce" in kernels  # top level: not grouped with x / s


@pytest.mark.parametrize("act", ["relu", "tanh", "none"])
def test_matmul_epilogue_fuses_bias_and_activation(act):
    def f(x, w, b):
        y = x @ w + b
        return y.relu() if act == "relu" else y.tanh() if act == "tanh" else y * 2.0
    compiled = graphc.compile(f)
    for m, k, n in [(3, 4, 5), (70, 64, 37), (128, 96, 200)]:
        x, w, b = graphc.randn(m, k), graphc.randn(k, n), graphc.randn(n)
        np.testing.assert_allclose(compiled(x, w, b).numpy(), f(x, w, b).numpy(), rtol=1e-4,
                                   atol=1e-4)
        kernels = compiled.ir("kernels")
        assert "1 kernels in 1 native segment(s)" in kernels and "matmul -> add" in kernels


# ---------------------------------------------------------------- the blocked matmul

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sa,sb,ta,tb", [
    ((37, 64), (64, 41), False, False), ((100, 300), (300, 9), False, False),
    ((65, 257), (257, 33), True, False), ((48, 80), (80, 50), False, True),
    ((2, 40, 50), (50, 60), True, True), ((3, 1, 31, 70), (2, 70, 35), False, False),
    ((6, 2100), (2100, 2050), False, False),
])
def test_blocked_matmul(dtype, sa, sb, ta, tb):
    """Sizes around the block edges (MR=6, NR=16/8, KC=256, MC=72, NC=2048), transposed
    operands, broadcast batch dims, both dtypes."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(dtype)
    b = rng.standard_normal(sb).astype(dtype)
    ga, gb = graphc.tensor(a), graphc.tensor(b)
    if ta:
        ga = graphc.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2))).transpose(-1, -2)
    if tb:
        gb = graphc.tensor(np.ascontiguousarray(np.swapaxes(b, -1, -2))).transpose(-1, -2)
    f = graphc.compile(lambda x, y: x @ y)
    got = f(ga, gb).numpy()
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 2e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(sa[-1]))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_threads_give_the_same_numbers(threads, n):
    x = graphc.randn(300, 700)
    w = graphc.randn(700, 130)
    i = graphc.randint(0, 700, (300, 900))
    f = graphc.compile(lambda x, w, i: ((x @ w).relu().sum(1), (x * 2 + 1).tanh().sum(0),
                                        graphc.softmax(x, -1), x.gather(1, i) * 2,
                                        graphc.rand(600, 500) + 1))
    threads(1)
    graphc.manual_seed(5)
    want = [t.numpy() for t in f(x, w, i)]
    threads(n)
    graphc.manual_seed(5)
    for got, w_ in zip(f(x, w, i), want):
        np.testing.assert_array_equal(got.numpy(), w_)


def test_set_num_threads_rejects_nonsense():
    with pytest.raises(ValueError, match="positive"):
        set_num_threads(0)


# ---------------------------------------------------------------- the disk cache

_PROGRAM = textwrap.dedent("""
    import sys, time
    import numpy as np
    import graphc
    @graphc.compile
    def f(x, w):
        return (x @ w).tanh().sum(1)
    x = graphc.tensor(np.linspace(-1, 1, 64 * 48, dtype=np.float32).reshape(64, 48))
    w = graphc.tensor(np.linspace(-1, 1, 48 * 40, dtype=np.float32).reshape(48, 40))
    got = f(x, w)
    np.testing.assert_allclose(got.numpy(), (x @ w).tanh().sum(1).numpy(), rtol=1e-5)
    print("HIT" if f.last.native.compiled.from_cache else "MISS")
""")


def _run(folder) -> str:
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(folder))
    done = subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_disk_cache_is_hit_by_a_second_process(tmp_path):
    assert _run(tmp_path) == "MISS"
    assert len(list(tmp_path.glob("*.o"))) == 1
    assert _run(tmp_path) == "HIT"


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign", "empty"])
def test_corrupt_cache_files_are_rebuilt(tmp_path, damage):
    assert _run(tmp_path) == "MISS"
    (obj,) = tmp_path.glob("*.o")
    data = obj.read_bytes()
    if damage == "truncate":
        obj.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        obj.write_bytes(data[:-10] + bytes(b ^ 0xFF for b in data[-10:]))
    elif damage == "foreign":  # a valid entry of another key under this name
        other = cache.MAGIC + b"0" * 64 + data[len(cache.MAGIC) + 64:]
        obj.write_bytes(other)
    else:
        obj.write_bytes(b"")
    assert _run(tmp_path) == "MISS"   # ignored and rebuilt, never loaded
    assert _run(tmp_path) == "HIT"


def test_cache_folder_defaults_to_the_user_cache_and_0_turns_it_off(monkeypatch, tmp_path):
    monkeypatch.delenv("GRAPHC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.folder() == str(tmp_path / "graphc")
    monkeypatch.setenv("GRAPHC_CACHE_DIR", "0")
    assert cache.folder() is None
    assert cache.load("0" * 64) is None
    cache.store("0" * 64, b"x", "")  # a no-op, not an error
    assert not (tmp_path / "0").exists() and not (tmp_path / "graphc").exists()


def test_contiguous_strides():
    assert contiguous_strides((2, 3, 4)) == (12, 4, 1)
    assert contiguous_strides(()) == ()


# ---------------------------------------------------------------- found by the property tests

def test_comparisons_promote_like_pytorch_eager_and_compiled():
    a = graphc.tensor(np.array([0.1], np.float32))
    x = graphc.tensor(np.float64(0.1))  # 0-d: does not promote a dimensioned float32
    for f in (lambda a, x: (a == x, a > x, a != x), graphc.compile(lambda a, x: (a == x, a > x,
                                                                                  a != x))):
        eq, gt, ne = f(a, x)
        assert eq.tolist() == [True] and gt.tolist() == [False] and ne.tolist() == [False]


def test_pow_of_negative_infinity_is_nan_compiled():
    x = graphc.tensor([-float("inf"), -2.0, 4.0, -float("inf")])
    f = graphc.compile(lambda x: (x ** 0.5, x ** 2.0, x ** 3.0))
    for got, want in zip(f(x), (x ** 0.5, x ** 2.0, x ** 3.0)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert np.isnan(f(x)[0].numpy()[0]) and f(x)[2].numpy()[0] == -np.inf


def test_relu_keeps_nan():
    x = graphc.tensor([float("nan"), -1.0, 0.0, 2.0])
    for f in (graphc.relu, graphc.compile(graphc.relu)):
        np.testing.assert_array_equal(f(x).numpy(), [np.nan, 0.0, 0.0, 2.0])


@pytest.mark.parametrize("sx,sy", [((3, 4), (3, 2)), ((0, 4), (0, 2)), ((1, 1), (1, 0)),
                                   ((2, 3, 5), (2, 3, 1))])
def test_pad_and_concat_run_natively(sx, sy):
    def f(x, y):
        return (graphc.nn.functional.pad(x, (1, 2), value=3.0), graphc.cat([x, y * 2], -1),
                graphc.cat([x.transpose(0, -1), y.transpose(0, -1)], 0),
                graphc.cat([x.int(), y.double()], -1))
    x, y = graphc.randn(*sx), graphc.randn(*sy)
    compiled = graphc.compile(f)
    for got, want in zip(compiled(x, y), f(x, y)):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert "0 interpreted nodes" in compiled.ir("kernels")


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_gather_runs_natively_and_checks_indices(dtype):
    x = graphc.tensor(np.arange(20).reshape(4, 5) % 3).to(getattr(graphc, dtype))
    i = graphc.tensor([[0, 4, 2], [1, 1, 3]])
    def f(x, i):
        return x.gather(1, i[:, :2]), x.t().gather(0, i), x.gather(0, i[:, :1] * 0)
    compiled = graphc.compile(f)
    for got, want in zip(compiled(x, i), f(x, i)):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert "0 interpreted nodes" in compiled.ir("kernels")
    for bad in (5, -1):
        j = graphc.tensor([[0, bad, 2], [1, 1, 3]])
        with pytest.raises(IndexError, match=f"gather\\(\\): index {bad} is out of bounds for "
                                             "dimension with size 5 \\(traced at"):
            compiled(x, j)
    np.testing.assert_array_equal(compiled(x, i)[0].numpy(), f(x, i)[0].numpy())  # recovers


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_scatter_add_runs_natively_and_checks_indices(dtype):
    base = graphc.tensor(np.arange(20).reshape(4, 5) % 7).to(getattr(graphc, dtype))
    src = graphc.tensor(np.arange(12).reshape(3, 4) - 5).to(getattr(graphc, dtype))
    i = graphc.tensor([[0, 4, 2], [1, 1, 1], [4, 4, 4]])  # repeated targets accumulate
    def f(b, i, s):
        return b.scatter_add(1, i, s), b.t().scatter_add(0, i[:, :2].t(), s.t())
    compiled = graphc.compile(f)
    for got, want in zip(compiled(base, i, src), f(base, i, src)):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert "0 interpreted nodes" in compiled.ir("kernels")
    with pytest.raises(IndexError, match="scatter_add\\(\\): index 5 is out of bounds"):
        compiled(base, graphc.tensor([[0, 5, 2], [1, 1, 1], [4, 4, 4]]), src)


def test_cross_entropy_step_is_one_native_call():
    """gather forward, scatter_add backward: a classifier's training step with no
    interpreted node."""
    w = graphc.randn(6, 3, requires_grad=True)
    x, y = graphc.randn(8, 6), graphc.tensor([0, 2, 1, 1, 0, 2, 2, 1])

    def step(x, y):
        logp = graphc.log_softmax(x @ w, 1)
        loss = -logp.gather(1, y.reshape(-1, 1)).mean()
        return (loss, *graphc.autograd.grad(loss, [w]))
    compiled = graphc.compile(step)
    for got, want in zip(compiled(x, y), step(x, y)):
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert "1 native segment(s), 0 interpreted nodes" in compiled.ir("kernels")


def test_indexing_into_empty_dims_raises_and_touches_nothing():
    x = graphc.randn(3, 0)
    i = graphc.tensor([[0], [0], [0]])
    g = graphc.compile(lambda x, i: x.gather(1, i))
    s = graphc.compile(lambda x, i: x.scatter_add(1, i, graphc.ones(3, 1)))
    for f in (g, s):
        with pytest.raises(IndexError, match="index 0 is out of bounds for dimension with "
                                             "size 0"):
            f(x, i)
    empty = graphc.tensor(np.zeros((3, 0), np.int64))
    assert g(graphc.randn(3, 4), empty).shape == (3, 0)
    np.testing.assert_array_equal(s(graphc.ones(3, 2), empty).numpy(), np.ones((3, 2)))
