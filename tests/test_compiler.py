"""@graphc.compile's front end: tracing, guards and retracing, implicit inputs, backward()
and in-place updates inside the traced function, dumps. Compiled results equal eager."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.ir.errors import TraceError
from graphc.testing.op_table import OPS, OpCase
from tests.test_ops import _g, _inputs, _tol


def _compiled_cases():
    for c in OPS:
        for si in range(len(c.samples)):
            for d in c.dtypes:
                yield pytest.param(c, si, d, id=f"{c.name}-{si}-{d}")


@pytest.mark.parametrize("c,si,dtype", list(_compiled_cases()))
def test_op_table_compiled_equals_eager(c: OpCase, si: int, dtype: str):
    """Every op of the table, traced into one graph, gives eager's values and gradients."""
    xs = _inputs(c, si, dtype)
    grad = c.grad and any(x.dtype.kind == "f" for x in xs)

    def program(*ts):
        out = c.fn(graphc, *ts)
        if not grad or not out.requires_grad or out.numel() == 0:
            return out
        cot = graphc.ones_like(out) * 0.5
        wrt = [t for t in ts if t.requires_grad]
        return (out, *graphc.autograd.grad((out * cot).sum(), wrt, allow_unused=True,
                                           materialize_grads=True))

    compiled = graphc.compile(program)
    args = [_g(x.copy(), requires_grad=grad and x.dtype.kind == "f") for x in xs]
    if "eager_only" in c.tags:
        with pytest.raises(TraceError, match="graphc.where|traced"):
            compiled(*args)
        return
    got = compiled(*args)
    want = program(*[_g(x.copy(), requires_grad=grad and x.dtype.kind == "f") for x in xs])
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a.numpy().astype(np.float64),
                                   b.detach().numpy().astype(np.float64), **_tol(c, dtype))


def _mlp_params(seed=0):
    graphc.manual_seed(seed)
    return [graphc.randn(8, 16, requires_grad=True), graphc.zeros(16, requires_grad=True),
            graphc.randn(16, 4, requires_grad=True), graphc.zeros(4, requires_grad=True)]


def _make_step(params, lr=0.05):
    w1, b1, w2, b2 = params

    def step(x, y):
        h = graphc.relu(x @ w1 + b1)
        loss = graphc.nn.functional.softmax(h @ w2 + b2, 1).log().neg().gather(
            1, y.reshape(-1, 1)).mean()
        loss.backward()
        with graphc.no_grad():
            for p in (w1, b1, w2, b2):
                p.sub_(lr * p.grad)
                p.grad = None
        return loss
    return step


def test_training_step_compiled_equals_eager_for_50_steps():
    graphc.manual_seed(1)
    x = graphc.randn(32, 8, dtype=graphc.float32)
    y = graphc.randint(0, 4, (32,))
    eager_params, compiled_params = _mlp_params(), _mlp_params()
    eager_step = _make_step(eager_params)
    compiled_step = graphc.compile(_make_step(compiled_params))
    for i in range(50):
        le = eager_step(x, y)
        lc = compiled_step(x, y)
        np.testing.assert_allclose(lc.item(), le.item(), rtol=1e-5, err_msg=f"step {i}")
    for pe, pc in zip(eager_params, compiled_params):
        np.testing.assert_allclose(pc.detach().numpy(), pe.detach().numpy(), rtol=1e-4,
                                   atol=1e-6)
        assert pc.grad is None and pc.requires_grad and pc.is_leaf
    assert len(compiled_step.cache) == 1


def test_captured_tensor_is_read_at_every_call_not_baked_in():
    scale = graphc.tensor([2.0])
    f = graphc.compile(lambda x: x * scale)
    np.testing.assert_allclose(f(graphc.ones(2)).numpy(), [2.0, 2.0])
    scale.mul_(5.0)  # eager in-place update between calls
    np.testing.assert_allclose(f(graphc.ones(2)).numpy(), [10.0, 10.0])
    assert "%scale" in f.ir("graph")


def test_in_place_update_of_an_argument_is_written_back():
    def bump(x):
        x.add_(1.0)
        return x * 2
    f = graphc.compile(bump)
    a = graphc.zeros(3)
    before = a._version
    out = f(a)
    np.testing.assert_allclose(a.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(out.numpy(), [2.0, 2.0, 2.0])
    assert a._version > before


def test_retrace_once_per_shape_and_explain_why(monkeypatch, capsys):
    monkeypatch.setenv("GRAPHC_DEBUG", "1")
    f = graphc.compile(lambda x: (x * 2).sum())
    for _ in range(3):
        f(graphc.ones(3))
        f(graphc.ones(4, 2))
    assert len(f.cache) == 2 and f.retraces == 1
    err = capsys.readouterr().err
    assert err.count("retracing") == 1
    assert "argument x changed from float32[3] to float32[4, 2]" in err
    f(graphc.ones(3, dtype=graphc.float64))
    assert "changed from float32[4, 2] to float64[3]" in capsys.readouterr().err


def test_static_arguments_are_part_of_the_key():
    f = graphc.compile(lambda x, k: x * k)
    np.testing.assert_allclose(f(graphc.ones(2), 3).numpy(), [3.0, 3.0])
    np.testing.assert_allclose(f(graphc.ones(2), 4).numpy(), [4.0, 4.0])
    assert len(f.cache) == 2


def test_warns_after_eight_retraces():
    f = graphc.compile(lambda x: x + 1)
    with pytest.warns(UserWarning, match="retraced 8 times"):
        for n in range(1, 11):
            f(graphc.ones(n))


def test_nested_arguments_and_outputs():
    f = graphc.compile(lambda d, pair: {"s": d["a"] + pair[0], "p": (pair[1] * 2,)})
    out = f({"a": graphc.ones(2)}, (graphc.full((2,), 3.0), graphc.ones(1)))
    np.testing.assert_allclose(out["s"].numpy(), [4.0, 4.0])
    np.testing.assert_allclose(out["p"][0].numpy(), [2.0])


@pytest.mark.parametrize("body", [
    lambda x: x * 2 if x.sum() > 0 else x,
    lambda x: x * int(x[0]),
    lambda x: x * x.sum().item(),
    lambda x: graphc.tensor(x.numpy()),
])
def test_value_dependent_control_flow_is_a_clear_error(body):
    f = graphc.compile(body)
    with pytest.raises(TraceError) as info:
        f(graphc.ones(3))
    assert "graphc.where" in str(info.value)
    assert "test_compiler.py" in str(info.value)


def test_bad_shapes_raise_the_eager_error_before_running():
    f = graphc.compile(lambda a, b: a @ b)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        f(graphc.ones(2, 3), graphc.ones(4, 2))


def test_dumps_and_lower():
    def step(x, w, b):
        return graphc.tanh(x @ w + b).sum()
    args = (graphc.ones(4, 3), graphc.ones(3, 2), graphc.ones(2))
    text = graphc.dump_ir(step, *args)
    assert text.startswith("graph step(%x: f32[4,3], %w: f32[3,2], %b: f32[2])")
    assert "matmul %x, %w" in text and "tanh" in text
    lowered = graphc.compile(step).lower(*args)
    assert lowered.ir("graph") == text
    assert "no backward" in lowered.ir("grad")
    with pytest.raises(TypeError, match="unknown stage"):
        lowered.ir("sass")
    assert ".entry k0_matmul" in lowered.ir("ptx")  # any program's graph, lowered for GPUs
    w = graphc.ones(3, 1, requires_grad=True)

    def train(x):
        loss = (x @ w).sum()
        loss.backward()
        return loss
    grad_text = graphc.dump_ir(train, graphc.ones(4, 3), stage="grad")
    assert grad_text.startswith("graph backward(%grad_out: f32[]")
    assert w.grad is None  # tracing wrote nothing back


def test_grad_of_an_argument_needs_autograd_grad():
    def f(x):
        (x * x).sum().backward()
        return x.grad
    with pytest.raises(TraceError, match="autograd.grad"):
        graphc.compile(f)(graphc.ones(2, requires_grad=True))
    g = graphc.compile(lambda x: graphc.autograd.grad((x * x).sum(), x)[0])
    np.testing.assert_allclose(g(graphc.tensor([1.0, 3.0], requires_grad=True)).numpy(),
                               [2.0, 6.0])


@pytest.mark.parametrize("index", [
    lambda x, i, j: x[i],
    lambda x, i, j: x[:, i],
    lambda x, i, j: x[i, j],
    lambda x, i, j: x[:, i, 1:],
    lambda x, i, j: x[i[0]],
    lambda x, i, j: x[graphc.arange(3), j],
    lambda x, i, j: x[i.reshape(3, 1), j.reshape(1, 3)],
])
def test_traced_integer_tensor_indices(index):
    x = graphc.randn(5, 4, 3)
    i, j = graphc.tensor([0, 2, -1]), graphc.tensor([1, 3, 0])
    want = index(x, i, j)
    got = graphc.compile(index)(x, i, j)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy())


def test_traced_mask_index_is_a_clear_error():
    with pytest.raises(TraceError, match="graphc.where"):
        graphc.compile(lambda x, m: x[m])(graphc.ones(3), graphc.tensor([True, False, True]))


def test_autograd_grad_with_respect_to_a_captured_tensor():
    w = graphc.randn(5, 4, requires_grad=True)
    i = graphc.tensor([0, 2, -1, 2])
    compiled = graphc.compile(lambda i: graphc.autograd.grad((w[i] ** 2).sum(), w)[0])
    want = graphc.autograd.grad((w[i] ** 2).sum(), w)[0]
    np.testing.assert_allclose(compiled(i).numpy(), want.numpy(), rtol=1e-6)


def test_debug_levels_and_dump_dir(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GRAPHC_DEBUG", "3")
    monkeypatch.setenv("GRAPHC_DUMP_DIR", str(tmp_path))

    def twice(x):
        return x * 2 * 1
    graphc.compile(twice)(graphc.ones(2))
    err = capsys.readouterr().err
    assert "--- graphc.compile(twice): graph" in err
    assert "--- graphc.compile(twice): optimized" in err
    assert "--- graphc.compile(twice): kernels" in err and "define void" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "twice.graph.dot", "twice.graph.txt", "twice.kernels.txt", "twice.ll",
        "twice.optimized.dot", "twice.optimized.txt"]
    assert (tmp_path / "twice.graph.txt").read_text().count("mul") == 2
    assert (tmp_path / "twice.optimized.txt").read_text().count("mul") == 1
    assert "kernel k0_mul map [2]" in (tmp_path / "twice.kernels.txt").read_text()
    assert "define void @segment0" in (tmp_path / "twice.ll").read_text()
    monkeypatch.setenv("GRAPHC_DEBUG", "4")
    graphc.compile(twice)(graphc.ones(3))
    assert "define void @segment0" in capsys.readouterr().err


def test_llvm_rejecting_our_ir_is_a_compile_error_with_the_dump(monkeypatch, tmp_path):
    """A code generation bug (simulated: a kernel emitter writes an invalid instruction)
    becomes CompileError naming the file that holds the rejected IR, never a crash."""
    from graphc.codegen import cpu
    monkeypatch.setenv("GRAPHC_DUMP_DIR", str(tmp_path))
    real = cpu.KernelEmitter.elementwise

    def broken(self):
        real(self)
        entry, here = self.body.entry_basic_block, self.b.block
        self.b.position_before(entry.terminator)
        bad = cpu.ir.Function(self.module, cpu.ir.FunctionType(cpu.I64, [cpu.I64]),
                              name="llvm.maximum.f32")  # an intrinsic with a wrong signature
        self.b.call(bad, [cpu.const(1)])
        self.b.position_at_end(here)
    monkeypatch.setattr(cpu.KernelEmitter, "elementwise", broken)
    with pytest.raises(graphc.CompileError, match="rejected") as info:
        graphc.compile(lambda x: x + 1)(graphc.ones(2))
    assert str(tmp_path) in str(info.value)
    assert list(tmp_path.glob("*.rejected.ll"))


def test_module_like_callables_trace_per_mode():
    class Scale:
        def __init__(self):
            self.training = True
            self.w = graphc.full((3,), 2.0)

        def __call__(self, x):
            return x * self.w if self.training else x
    m = Scale()
    f = graphc.compile(m)
    np.testing.assert_allclose(f(graphc.ones(3)).numpy(), [2.0] * 3)
    m.training = False
    np.testing.assert_allclose(f(graphc.ones(3)).numpy(), [1.0] * 3)
    assert len(f.cache) == 2


SCALE = graphc.tensor([2.0])


def _uses_global(x):
    return x * SCALE


def test_rebinding_a_captured_global_retraces(monkeypatch, capsys):
    global SCALE
    monkeypatch.setenv("GRAPHC_DEBUG", "1")
    f = graphc.compile(_uses_global)
    np.testing.assert_allclose(f(graphc.ones(1)).numpy(), [2.0])
    old = SCALE
    SCALE = graphc.tensor([3.0])
    try:
        np.testing.assert_allclose(f(graphc.ones(1)).numpy(), [3.0])
        assert "captured tensor SCALE was rebound" in capsys.readouterr().err
        SCALE.data = graphc.tensor([4.0])
        np.testing.assert_allclose(f(graphc.ones(1)).numpy(), [4.0])
        assert "has new storage" in capsys.readouterr().err
    finally:
        SCALE = old


def test_module_attributes_are_named_and_guarded():
    class Affine:
        def __init__(self):
            self.w = graphc.full((2,), 2.0)

        def __call__(self, x):
            return x * self.w
    m = Affine()
    f = graphc.compile(m)
    f(graphc.ones(2))
    assert "%self_w" in f.ir("graph")
    m.w = graphc.full((2,), 5.0)
    np.testing.assert_allclose(f(graphc.ones(2)).numpy(), [5.0, 5.0])


def test_gradients_accumulate_across_compiled_calls_like_eager():
    """Without ``grad = None`` the step accumulates into .grad: compiled as eager."""
    def make():
        w = graphc.ones(3, requires_grad=True)

        def step(x):
            loss = (x * w).sum()
            loss.backward()
            return loss
        return w, step
    we, step_e = make()
    wc, step_c = make()
    compiled = graphc.compile(step_c)
    x = graphc.tensor([1.0, 2.0, 3.0])
    for _ in range(4):
        step_e(x)
        compiled(x)
        np.testing.assert_allclose(wc.grad.numpy(), we.grad.numpy())
    wc.grad = None
    we.grad = None
    step_e(x)
    compiled(x)
    np.testing.assert_allclose(wc.grad.numpy(), we.grad.numpy())
    assert len(compiled.cache) <= 2


def test_elementwise_chains_fuse_into_one_native_kernel():
    f = graphc.compile(lambda x, y: (graphc.tanh(x * 2 + y).exp() > 1.0) | (x < -1))
    x, y = graphc.randn(3, 4), graphc.randn(4)
    got = f(x, y)
    want = (graphc.tanh(x * 2 + y).exp() > 1.0) | (x < -1)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    kernels = f.ir("kernels")
    assert "1 kernels in 1 native segment(s), 0 interpreted nodes" in kernels
    assert "mul -> add -> tanh -> exp -> gt" in kernels
    llvm = f.ir("llvm")
    assert "define void @segment0" in llvm and "fmul" in llvm


def test_native_kernels_on_edge_shapes_and_strides():
    f = graphc.compile(lambda a, b: graphc.where(a > b, a * b, a - b) / (b * b + 1))
    shapes = [((0, 3), (1, 3)), ((1,), (1,)), ((5, 1), (7,)), ((), (2, 3)), ((3, 1, 2), (4, 1))]
    for sa, sb in shapes:
        a, b = graphc.randn(*sa), graphc.randn(*sb)
        want = graphc.where(a > b, a * b, a - b) / (b * b + 1)
        np.testing.assert_allclose(f(a, b).numpy(), want.numpy(), rtol=1e-6)
    a = graphc.randn(4, 6).t()  # a non-contiguous argument
    b = graphc.randn(6, 4)
    np.testing.assert_allclose(f(a, b).numpy(),
                               (graphc.where(a > b, a * b, a - b) / (b * b + 1)).numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("dims,keep", [((1,), False), ((0, 2), True), ((), False), ((2,), True),
                                       ((0,), False)])
def test_reductions_fuse_their_elementwise_producers(dims, keep):
    def f(x, y):
        s = (x * y + 1.0).sum(dims, keepdim=keep) if dims else (x * y + 1.0).sum()
        return s, (x - y).amax(dims if dims else (0, 1, 2), keepdim=keep)
    x, y = graphc.randn(3, 4, 5, dtype=graphc.float64), graphc.randn(4, 1, dtype=graphc.float64)
    compiled = graphc.compile(f)
    for got, want in zip(compiled(x, y), f(x, y)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    kernels = compiled.ir("kernels")
    assert "mul -> add -> sum" in kernels and "sub -> max" in kernels
    assert "interpreted nodes" in kernels and ", 0 interpreted nodes" in kernels


def test_integer_and_bool_reductions_native():
    f = graphc.compile(lambda a, m: (a.sum(0), (a * 2).amax(1), m.sum(), m.any(1)))
    a = graphc.randint(-50, 50, (6, 7))
    m = graphc.rand(6, 7) > 0.5
    for got, want in zip(f(a, m), (a.sum(0), (a * 2).amax(1), m.sum(), m.any(1))):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (3, 4, 2)),
                                   ((0, 3), (3, 2)), ((3, 0), (0, 2)), ((1, 1), (1, 1)),
                                   ((5,), (5, 3)), ((17, 33), (33, 9))])
def test_native_matmul(sa, sb):
    a, b = graphc.randn(*sa, dtype=graphc.float64), graphc.randn(*sb, dtype=graphc.float64)
    f = graphc.compile(lambda a, b: a @ b)
    np.testing.assert_allclose(f(a, b).numpy(), (a @ b).numpy(), rtol=1e-12, atol=1e-12)
    assert "matmul" in f.ir("kernels") and ", 0 interpreted nodes" in f.ir("kernels") or \
        len(sa) == 1
    ai, bi = graphc.randint(-5, 5, sa), graphc.randint(-5, 5, sb)
    np.testing.assert_array_equal(f(ai, bi).numpy(), (ai @ bi).numpy())


def test_random_ops_draw_anew_at_each_call_like_eager():
    """A compiled function's random numbers come from the generator at each call (not
    baked in at trace time), and advance it as eager does: the same seed gives eager's
    numbers, call after call."""
    def f(x):
        return x * (graphc.rand(3, 4) > 0.5) + graphc.randn(3, 4)
    compiled = graphc.compile(f)
    x = graphc.randn(3, 4)
    g = graphc.Generator().manual_seed(7)
    k = graphc.compile(lambda x: x + graphc.rand(3, 4, generator=g))
    for seed in (3, 2**64 - 5):
        graphc.manual_seed(seed)
        got = [compiled(x).numpy() for _ in range(3)]
        after = graphc.get_rng_state().tolist()
        graphc.manual_seed(seed)
        want = [f(x).numpy() for _ in range(3)]
        assert graphc.get_rng_state().tolist() == after
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        assert np.abs(got[0] - got[1]).max() > 0.1
    first, second = k(x), k(x)
    assert g._offset == 2 and not np.allclose(first.numpy(), second.numpy())
    assert len(compiled.cache) == 1
    assert "0 interpreted nodes" in compiled.ir("kernels")  # Philox runs natively


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(), (1,), (7, 3), (2, 3, 5), (0, 4)])
def test_native_uniform_numbers_are_eagers_bit_for_bit(dtype, shape):
    f = graphc.compile(lambda: graphc.rand(*shape, dtype=getattr(graphc, dtype)))
    for seed in (0, 12345, 2**63 + 11):
        graphc.manual_seed(seed)
        got = [f().numpy() for _ in range(2)]
        graphc.manual_seed(seed)
        want = [graphc.rand(*shape, dtype=getattr(graphc, dtype)).numpy() for _ in range(2)]
        for a, b in zip(got, want):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
            assert a.size == 0 or (a.min() >= 0 and a.max() < 1)


def test_list_index_of_a_captured_tensor_reads_its_current_value():
    w = graphc.arange(6.0)
    f = graphc.compile(lambda: w[[0, 2]] * 1)
    assert f().tolist() == [0.0, 2.0]
    w.add_(10)  # in place: the compiled program must see it, not a value baked at trace time
    assert f().tolist() == [10.0, 12.0]


def test_a_compiled_module_whose_outputs_need_gradients_runs_eagerly_and_says_so():
    graphc.manual_seed(0)
    m = graphc.nn.Linear(3, 2)
    cm = graphc.compile(m)
    x = graphc.randn(4, 3)
    with pytest.warns(UserWarning, match="Compile the whole training step"):
        out = cm(x)
    assert out.requires_grad and out.grad_fn is not None  # PyTorch code training it works
    out.sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), np.tile(x.numpy().sum(0), (2, 1)),
                               rtol=1e-6)
    with graphc.no_grad():  # inference: the native program
        got = cm(x)
    assert not got.requires_grad
    np.testing.assert_allclose(got.numpy(), m(x).detach().numpy(), rtol=1e-6)
    assert cm.last.native is not None and not cm.last.needs_autograd


def test_module_parameters_are_named_in_the_ir():
    model = graphc.nn.Sequential(graphc.nn.Linear(3, 2))
    compiled = graphc.compile(model)
    with graphc.no_grad():
        compiled(graphc.ones(4, 3))
    head = compiled.ir("graph").splitlines()[0]
    assert "%self_0_weight: f32[2,3] param" in head and "%self_0_bias: f32[2] param" in head
    step = graphc.compile(lambda x: model(x).sum())
    with graphc.no_grad():
        step(graphc.ones(4, 3))
    assert "%model_0_weight: f32[2,3] param" in step.ir("graph").splitlines()[0]
