"""Threads: one compiled program called from several threads at once (each call has its own
arena, pointer table and error buffer), eager training in several threads (grad mode and
the active handler are per thread), shared generators and caches under concurrent use."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import graphc
from graphc.ir import core
from graphc.runtime import eager
from tests.test_memory import training_step

THREADS = 4


def run_threads(work, n: int = THREADS) -> list:
    """``work(i)`` in ``n`` threads started together; their results, in thread order.
    An exception in any thread is raised here."""
    start = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def body(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as e:  # noqa: BLE001  (handed to the test's thread)
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def _data(i: int, *shape) -> np.ndarray:
    return np.random.default_rng(100 + i).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- compiled programs

W = _data(99, 96, 48)
CAPTURED = graphc.tensor(W)


def _with_arena(x, w):
    """Intermediates in the arena: the product, its tanh, a row reduction."""
    h = (x @ w).tanh()
    return h * h.sum(1, keepdim=True)


def _with_arena_np(x, w):
    h = np.tanh(x.astype(np.float64) @ w)
    return h * h.sum(1, keepdims=True)


def _check_threads(f, args_of, expected_of, iterations: int = 60, rtol: float = 1e-4) -> None:
    def work(i: int) -> int:
        args, want = args_of(i), expected_of(i)
        for _ in range(iterations):
            np.testing.assert_allclose(f(*args).numpy(), want, rtol=rtol, atol=1e-5)
        return iterations
    assert run_threads(work) == [iterations] * THREADS


def test_threads_calling_one_compiled_function_get_their_own_results():
    f = graphc.compile(_with_arena)
    xs = [_data(i, 64, 96) for i in range(THREADS)]
    f(graphc.tensor(xs[0]), CAPTURED)
    assert f.last.native.plan.arena_bytes > 0  # there is scratch memory to share or not
    _check_threads(f, lambda i: (graphc.tensor(xs[i]), CAPTURED),
                   lambda i: _with_arena_np(xs[i], W))
    assert f.retraces == 0


def test_threads_with_a_captured_tensor():
    f = graphc.compile(lambda x: _with_arena(x, CAPTURED))
    xs = [_data(i, 64, 96) for i in range(THREADS)]
    f(graphc.tensor(xs[0]))
    assert f.last.captured  # bound into the program once, read by every call
    _check_threads(f, lambda i: (graphc.tensor(xs[i]),), lambda i: _with_arena_np(xs[i], W))


def _interpreted_between(x):
    y = (x * 2.0).exp().sum(1)          # a native segment
    z = y.half().float() + 1.0           # float16: the numpy interpreter
    return (z.reshape(-1, 1) * x).tanh()  # another native segment


def test_threads_with_interpreted_nodes_between_native_segments():
    f = graphc.compile(_interpreted_between)
    xs = [_data(i, 32, 40) * 0.1 for i in range(THREADS)]
    f(graphc.tensor(xs[0]))
    kernels = f.ir("kernels")
    assert "2 native segment(s)" in kernels and "interpret" in kernels, kernels

    def expected(i):
        y = np.exp(xs[i] * 2.0).sum(1)
        z = y.astype(np.float16).astype(np.float32) + 1.0
        return np.tanh(z[:, None] * xs[i])
    _check_threads(f, lambda i: (graphc.tensor(xs[i]),), expected, rtol=1e-3)


def test_an_index_error_reaches_only_the_thread_that_caused_it():
    f = graphc.compile(lambda x, idx: (x[idx] * 2.0).sum(1))
    x = _data(0, 10, 8)
    good = np.arange(10)[::-1].copy()
    bad = np.array([1, 2, 10 + 3, 4])
    f(graphc.tensor(x), graphc.tensor(good[:4]))  # compiled once: every call below hits

    def work(i: int) -> int:
        errors = 0
        for _ in range(100):
            if i == 0:
                with pytest.raises(IndexError, match="index 13 is out of bounds"):
                    f(graphc.tensor(x), graphc.tensor(bad))
                errors += 1
            else:
                idx = np.roll(good, i)[:4]
                got = f(graphc.tensor(x), graphc.tensor(idx)).numpy()
                np.testing.assert_allclose(got, (x[idx] * 2.0).sum(1), rtol=1e-5)
        return errors
    assert run_threads(work) == [100, 0, 0, 0]
    assert f.retraces == 0


def test_the_first_call_from_several_threads_traces_once():
    traces = []

    def fn(x, w):
        traces.append(1)  # runs once per trace
        return _with_arena(x, w)
    f = graphc.compile(fn)
    xs = [_data(i, 16, 96) for i in range(THREADS)]
    outs = run_threads(lambda i: f(graphc.tensor(xs[i]), CAPTURED).numpy())
    for i, got in enumerate(outs):
        np.testing.assert_allclose(got, _with_arena_np(xs[i], W), rtol=1e-4, atol=1e-5)
    assert len(traces) == 1 and f.retraces == 0


def test_compiled_training_steps_in_threads_each_on_its_own_model():
    """A whole training step per thread, each on its own model: equal to one thread alone."""
    def train(steps: int) -> np.ndarray:
        model = graphc.nn.Sequential(graphc.nn.Linear(12, 16), graphc.nn.ReLU(),
                                     graphc.nn.Linear(16, 10))
        with graphc.no_grad():
            for i, p in enumerate(model.parameters()):
                p.copy_(graphc.tensor(_data(50 + i, *p.shape) * 0.3))
        step = training_step(model, (12,), compiled=True)
        for _ in range(steps):
            step()
        return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    alone = train(40)
    for got in run_threads(lambda i: train(40)):
        np.testing.assert_allclose(got, alone, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- eager mode

def test_a_new_thread_starts_with_grad_enabled_and_the_eager_handler():
    seen = []

    def look():
        seen.append((graphc.is_grad_enabled(), core.get_handler() is eager.EAGER))
    with graphc.no_grad():
        t = threading.Thread(target=look)
        t.start()
        t.join()
        assert not graphc.is_grad_enabled()
    assert seen == [(True, True)]


def _train_eager(i: int, steps: int = 30, evaluate: bool = False) -> tuple:
    """A small MLP trained eagerly; with ``evaluate``, a no_grad forward pass at every step,
    which must neither record history nor leak its mode into other threads."""
    rng = np.random.default_rng(7)
    x = graphc.tensor(rng.standard_normal((24, 10)).astype(np.float32))
    y = graphc.tensor(rng.integers(0, 4, 24))
    w1 = graphc.tensor(rng.standard_normal((10, 16)).astype(np.float32) * 0.3,
                       requires_grad=True)
    w2 = graphc.tensor(rng.standard_normal((16, 4)).astype(np.float32) * 0.3,
                       requires_grad=True)
    recorded = []
    for _ in range(steps):
        if evaluate:
            with graphc.no_grad():
                out = (x @ w1).relu() @ w2
                assert not out.requires_grad
        loss = graphc.nn.functional.cross_entropy((x @ w1).relu() @ w2, y)
        recorded.append(loss.requires_grad)
        loss.backward()
        with graphc.no_grad():
            for w in (w1, w2):
                w -= 0.1 * w.grad
                w.grad = None
    return w1.detach().numpy(), w2.detach().numpy(), all(recorded)


def test_eager_training_in_threads_with_no_grad_in_one_of_them():
    alone = _train_eager(0)
    for w1, w2, recorded in run_threads(lambda i: _train_eager(i, evaluate=i == 0)):
        assert recorded  # no other thread's no_grad() turned this one's history off
        np.testing.assert_allclose(w1, alone[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(w2, alone[1], rtol=1e-5, atol=1e-6)


def test_a_recording_handler_in_one_thread_does_not_capture_eager_ops_of_another():
    """Thread 0 records (as tracing and gradient graphs do) while the others run eagerly."""
    recording, done = threading.Event(), threading.Barrier(THREADS)
    x = graphc.tensor(_data(0, 8, 8))

    def work(i: int) -> bool:
        if i == 0:
            with core.use_handler(core.RecordingHandler()) as h:
                recording.set()
                done.wait(timeout=60)  # the others' eager ops all ran meanwhile
                out = x * 3.0  # recorded here, not evaluated
            return out._node.value is None and len(h.nodes) == 1
        recording.wait(timeout=60)
        outs = [(x * 3.0 + 1.0).sum() for _ in range(200)]
        done.wait(timeout=60)
        return all(float(o) == pytest.approx(float((x.numpy() * 3 + 1).sum()), rel=1e-5)
                   for o in outs)
    assert run_threads(work) == [True] * THREADS


def test_threads_drawing_random_numbers_get_distinct_draws():
    g = graphc.Generator().manual_seed(3)
    draws = run_threads(lambda i: [float(graphc.rand(1, generator=g)) for _ in range(300)])
    values = [v for d in draws for v in d]
    assert g.get_state().tolist()[1] == THREADS * 300  # every offset handed out once
    assert len(set(values)) == len(values)
    one = graphc.Generator().manual_seed(3)
    assert sorted(values) == sorted(float(graphc.rand(1, generator=one))
                                    for _ in range(THREADS * 300))



def test_compiled_random_draws_in_threads_take_distinct_offsets():
    g = graphc.Generator().manual_seed(5)
    f = graphc.compile(lambda x: graphc.rand(4, generator=g) + x)
    zero = graphc.zeros(4)
    first = f(zero).numpy()
    draws = run_threads(lambda i: [f(zero).numpy() for _ in range(50)])
    outs = [first] + [d for per_thread in draws for d in per_thread]
    assert g.get_state().tolist()[1] == len(outs)  # one offset per call, none lost
    assert len({o.tobytes() for o in outs}) == len(outs)
    one = graphc.Generator().manual_seed(5)  # the same numbers eager mode draws, in some order
    want = sorted(graphc.rand(4, generator=one).numpy().tobytes() for _ in outs)
    assert sorted(o.tobytes() for o in outs) == want


# ---------------------------------------------------------------- GPU programs take turns

@pytest.mark.gpu
@pytest.mark.skipif(not graphc.cuda.is_available(),
                    reason="no CUDA device (graphc.cuda.is_available())")
def test_a_gpu_program_and_eager_cuda_ops_called_from_threads():
    f = graphc.compile(_with_arena)
    w = graphc.tensor(W, device="cuda")
    xs = [_data(i, 64, 96) for i in range(THREADS)]

    def work(i: int) -> int:
        x = graphc.tensor(xs[i], device="cuda")
        for _ in range(20):
            got = f(x, w)
            assert got.is_cuda
            np.testing.assert_allclose(got.cpu().numpy(), _with_arena_np(xs[i], W),
                                       rtol=1e-4, atol=1e-5)
            eager_out = ((x * 2.0 + 1.0) @ w).sum(0)  # eager CUDA ops: cached GPU programs
            np.testing.assert_allclose(eager_out.cpu().numpy(),
                                       ((xs[i] * 2 + 1).astype(np.float64) @ W).sum(0),
                                       rtol=1e-4, atol=1e-3)
        return 20
    assert run_threads(work) == [20] * THREADS
