"""Memory stays flat: resident memory over a few hundred training steps (eager and compiled,
an MLP and the demo's CNN) grows by less than a small bound per step, and compiled
functions that are dropped free their native code at once. ``benchmarks/soak.py memory``
runs the long version and prints the figures."""
from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest

import graphc
from graphc.demo import make_model
from graphc.testing.memory import soak

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads resident memory from /proc")

# A leak of one small array or a few nodes per step is about 1 KiB: Python's and numpy's
# allocations (traced exactly) must grow by a quarter of that at most (numpy's small-block
# caches still fill slowly after the warm-up). RSS moves in 4 KiB pages and the heap in
# larger chunks, which a line through the samples averages out; it bounds the native
# memory (LLVM's) that tracemalloc does not see.
MAX_TRACED_BYTES_PER_STEP = 256
MAX_BYTES_PER_STEP = 1024


def training_step(model, features: tuple, compiled: bool, batch: int = 32):
    """One SGD step of ``model`` on a fixed random batch, 10 classes (compiled whole)."""
    rng = np.random.default_rng(0)
    x = graphc.tensor(rng.standard_normal((batch, *features)).astype(np.float32))
    y = graphc.tensor(rng.integers(0, 10, batch))
    opt = graphc.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad()
        loss = graphc.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return graphc.compile(step) if compiled else step


def _mlp():
    return graphc.nn.Sequential(graphc.nn.Linear(64, 128), graphc.nn.ReLU(),
                                graphc.nn.Linear(128, 128), graphc.nn.ReLU(),
                                graphc.nn.Linear(128, 10))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_mlp_training_keeps_memory_flat(compiled):
    s = soak(training_step(_mlp(), (64,), compiled), steps=200, warmup=50, samples=10, traced=True)
    assert s.traced_bytes_per_step < MAX_TRACED_BYTES_PER_STEP, s.traced
    assert s.bytes_per_step < MAX_BYTES_PER_STEP, s.rss


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_demo_cnn_training_keeps_memory_flat(compiled):
    s = soak(training_step(make_model("cnn"), (1, 8, 8), compiled, batch=16), steps=100, warmup=50,
             samples=10, traced=True)
    assert s.traced_bytes_per_step < MAX_TRACED_BYTES_PER_STEP, s.traced
    assert s.bytes_per_step < MAX_BYTES_PER_STEP, s.rss


def test_the_soak_measures_leaks():
    """The bounds above can fail: an array kept per step is measured as its size."""
    kept = []
    s = soak(lambda: kept.append(np.ones(256, np.float32)), steps=200, warmup=10, samples=10,
             traced=True)
    assert 1024 <= s.traced_bytes_per_step < 1400, s.traced  # 1 KiB of data, the object, a slot
    s = soak(lambda: kept.append(np.ones(16384, np.float32)), steps=100, warmup=10, samples=10)
    assert 60_000 < s.bytes_per_step < 72_000, s.rss  # 64 KiB: more than the heap holds free


def test_dropped_compiled_functions_free_their_native_code_at_once():
    """No reference cycle holds a program: with the garbage collector off, dropping the
    compiled function frees its LLVM execution engine (its native code) right away."""
    x = graphc.tensor(np.linspace(-1, 1, 64, dtype=np.float32))
    model = _mlp()
    engines = []
    gc.collect()
    gc.disable()
    try:
        for k in range(24):
            if k % 2:
                f = graphc.compile(lambda x, k=k: (x * (k % 4 + 1.0) + 0.5).tanh().sum())
                assert float(f(x)) == pytest.approx(
                    float(np.tanh(x.numpy() * (k % 4 + 1.0) + 0.5).sum()), rel=1e-4)
            elif k % 4:  # a module (inference)
                f = graphc.compile(model)
                with graphc.no_grad():
                    f(x[None])
            else:  # a whole training step over it
                f = training_step(model, (64,), True, batch=8)
                f()
            engines.append(weakref.ref(f.last.native.compiled.engine))
            del f
        assert [e() for e in engines] == [None] * len(engines)
    finally:
        gc.enable()


def test_compiled_functions_created_and_dropped_keep_memory_flat():
    x = graphc.tensor(np.linspace(-1, 1, 256, dtype=np.float32))
    count = [0]

    def make_and_drop():
        count[0] += 1
        f = graphc.compile(lambda x, k=count[0] % 8: ((x * (k + 1.0)).tanh() + 1.0).sum())
        return float(f(x))
    s = soak(make_and_drop, steps=60, warmup=16, samples=12)
    assert s.bytes_per_step < 8 * MAX_BYTES_PER_STEP, (s.bytes_per_step, s.rss)
