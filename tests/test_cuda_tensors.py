"""CUDA tensors without a GPU: the driver is tests/fake_cuda.py (device memory on the
host) and each GPU program, after its PTX is generated as for a real device, runs its
graph through the CPU back end on the downloaded inputs. This checks everything around the
kernels: devices of results, transfers, views sharing device memory, in-place updates,
per-signature program caching, mixed-device errors, autograd, modules, optimizers and
compiled steps on CUDA tensors. The kernels themselves are checked by ptxas
(test_ptx.py) and, on a GPU, by the gpu-marked tests."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
import graphc.nn.functional as F
from graphc.runtime import cuda as rt
from graphc.runtime import gpu_eager
from graphc.runtime.cpu import NativeProgram
from graphc.runtime.gpu import GpuProgram
from tests.custom_functions import functions
from tests.fake_cuda import FakeDriver
from tests.test_compiler import _compiled_cases
from tests.test_ops import _inputs, _tol


@pytest.fixture
def emulated(monkeypatch):
    monkeypatch.delenv("GRAPHC_CUDA_ARCH", raising=False)
    rt._set_driver_for_tests(FakeDriver(capability=(9, 0)))
    ran = []

    def run(self, inputs):
        if not hasattr(self, "cpu"):
            self.cpu = NativeProgram(self.graph)
        assert ".entry" in self.ptx or not self.code.steps or \
            all(not isinstance(s, list) for s in self.code.steps)
        ran.append(self.graph.name)
        host = [x.to_numpy() if gpu_eager.is_device_array(x) else x for x in inputs]
        return [rt.DeviceArray.from_numpy(o) if isinstance(o, np.ndarray)
                else o for o in self.cpu.run(host)]

    monkeypatch.setattr(GpuProgram, "run", run)
    gpu_eager._programs.clear()
    yield ran
    gpu_eager._programs.clear()
    rt._set_driver_for_tests(None)


def _pair(*shape, seed=0, **kw):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return graphc.tensor(x, **kw), graphc.tensor(x, device="cuda", **kw)


def test_creation_transfer_and_printing(emulated):
    c, g = _pair(2, 3)
    assert g.device == graphc.device("cuda:0") and g.is_cuda and not c.is_cuda
    assert g.device.type == "cuda" and str(g.device) == "cuda:0"
    assert "device='cuda:0'" in repr(g)
    np.testing.assert_array_equal(g.cpu().numpy(), c.numpy())
    np.testing.assert_array_equal(c.cuda().cpu().numpy(), c.numpy())
    assert c.to("cuda").is_cuda and g.to("cpu").device == "cpu" and g.cuda() is g
    with pytest.raises(TypeError, match="Use Tensor.cpu"):
        g.numpy()
    assert graphc.tensor(2.5, device="cuda").item() == 2.5
    assert graphc.zeros(2, 2, device="cuda").is_cuda
    assert graphc.arange(5, device="cuda").tolist() == [0, 1, 2, 3, 4]
    assert graphc.randn(3, device="cuda").is_cuda


def test_eager_ops_run_as_cached_gpu_programs(emulated):
    (c, g), (cw, gw) = _pair(4, 8), _pair(8, 3, seed=1)
    for fn in (lambda x, w: (x * 2 + 1).tanh(), lambda x, w: x @ w,
               lambda x, w: F.softmax(x @ w, 1), lambda x, w: x.sum(0),
               lambda x, w: x.t()[1:5], lambda x, w: x.reshape(2, 16).max(1).values,
               lambda x, w: x.mean(), lambda x, w: x.var(0), lambda x, w: x.argmax(1),
               lambda x, w: graphc.cat([x, x.sort(1).values]),
               lambda x, w: x[graphc.tensor([3, 0, 3]).to(x.device)], lambda x, w: x[[1, 2], 2:],
               lambda x, w: F.conv2d(x.reshape(1, 2, 4, 4), w.t().reshape(3, 2, 2, 2))):
        got, want = fn(g, gw), fn(c, cw)
        assert got.is_cuda and got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    before = len(gpu_eager._programs)
    (g * 2 + 1).tanh()
    assert len(gpu_eager._programs) == before  # same signatures: compiled once


def test_views_share_device_memory_and_see_in_place_writes(emulated):
    c, g = _pair(3, 4)
    n = len(emulated)
    v = g.t()
    r = g.reshape(12)
    assert len(emulated) == n  # views launch nothing
    g.add_(1.0)
    np.testing.assert_allclose(v.cpu().numpy(), (c + 1).t().numpy())
    np.testing.assert_allclose(r.cpu().numpy(), (c + 1).reshape(12).numpy())
    with pytest.raises(RuntimeError, match=r"mul_\(\): in-place write into a non-contiguous "
                                           r"CUDA view \(shape \[4, 3\], strides \[1, 4\]\)"):
        g.t().mul_(2.0)


def test_setitem_on_cuda(emulated):
    c, g = _pair(3, 4)
    for t in (c, g):
        t[0] = 5.0
        t[:, 1] = graphc.tensor([7.0, 8.0, 9.0])
        t[[2, 2], [3, 0]] = -1.0
    assert g.is_cuda
    np.testing.assert_array_equal(g.cpu().numpy(), c.numpy())


def test_mixing_devices_raises_like_pytorch(emulated):
    c, g = _pair(3)
    with pytest.raises(RuntimeError, match="same device, but found at least two devices, "
                                           "cuda:0 and cpu"):
        g + c
    np.testing.assert_allclose((g * graphc.tensor(2.0)).cpu().numpy(), c.numpy() * 2)


def test_autograd_on_cuda(emulated):
    c, g = _pair(5, 3, requires_grad=True)
    for t in (c, g):
        (t.tanh() * t).sum().backward()
    assert g.grad.is_cuda
    np.testing.assert_allclose(g.grad.cpu().numpy(), c.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_gradients_flow_across_devices(emulated):
    c, _ = _pair(4, 3, requires_grad=True)
    moved = c.cuda()
    assert moved.is_cuda and moved.grad_fn.name() == "ToCopyBackward0"
    loss = (moved.tanh() * 2).cpu().sum()  # cpu -> cuda -> cpu
    loss.backward()
    assert not c.grad.is_cuda
    np.testing.assert_allclose(c.grad.numpy(), 2 * (1 - np.tanh(c.detach().numpy()) ** 2),
                               rtol=1e-5)


def _train(device: str, steps: int, compiled: bool):
    graphc.manual_seed(0)
    model = graphc.nn.Sequential(graphc.nn.Linear(8, 16), graphc.nn.ReLU(),
                                 graphc.nn.Linear(16, 4)).to(device)
    opt = graphc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = graphc.randn(32, 8, device=device)
    y = graphc.randint(0, 4, (32,)).to(device)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    run = graphc.compile(step) if compiled else step
    losses = [run(x, y).item() for _ in range(steps)]
    return losses, [p.detach().cpu().numpy() for p in model.parameters()]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_training_on_cuda_equals_cpu(emulated, compiled):
    want_losses, want = _train("cpu", 4, compiled)
    got_losses, got = _train("cuda", 4, compiled)
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- on a real GPU

gpu = pytest.mark.gpu


def _real_gpu() -> bool:
    return rt.is_available()


@gpu
@pytest.mark.skipif(not _real_gpu(), reason="no CUDA device (graphc.cuda.is_available())")
@pytest.mark.parametrize("c,si,dtype", [p for p in _compiled_cases()
                                         if "eager_only" not in p.values[0].tags])
def test_op_table_on_the_gpu_equals_cpu(c, si, dtype):
    xs = _inputs(c, si, dtype)
    want = c.fn(graphc, *[graphc.tensor(x) for x in xs])
    got = graphc.compile(lambda *ts: c.fn(graphc, *ts))(
        *[graphc.tensor(x, device="cuda") for x in xs])
    assert got.is_cuda and got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got.cpu().numpy().astype(np.float64),
                               want.numpy().astype(np.float64), **_tol(c, dtype))


@gpu
@pytest.mark.skipif(not _real_gpu(), reason="no CUDA device (graphc.cuda.is_available())")
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_training_on_the_gpu_equals_cpu(compiled):
    want_losses, want = _train("cpu", 4, compiled)
    got_losses, got = _train("cuda", 4, compiled)
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-4)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_numpy_subclasses_stay_host_tensors(tmp_path):
    m = np.memmap(tmp_path / "a.bin", dtype=np.float32, mode="w+", shape=(4,))
    m[:] = 2.0
    t = graphc.from_numpy(m)
    assert t.device == "cpu" and not t.is_cuda
    np.testing.assert_array_equal((t + 1).numpy(), np.full(4, 3.0, np.float32))
    np.testing.assert_array_equal(t[[0, 3]].numpy(), [2.0, 2.0])


def test_cuda_with_a_device_index(emulated):
    model = graphc.nn.Linear(3, 2)
    want = model.weight.detach().numpy().copy()
    model.cuda(0)
    assert model.weight.device == "cuda:0" and model.bias.is_cuda
    assert graphc.ones(2).cuda(0).device == graphc.device("cuda", 0)
    np.testing.assert_array_equal(model.cpu().weight.detach().numpy(), want)
    assert model.weight.device == "cpu"


def test_custom_function_and_hooks_on_cuda_tensors(emulated):
    sin_cos = functions(graphc)["SinCos"]  # its backward checks the gradients' devices
    grads = []
    for t in _pair(2, 3, requires_grad=True):
        s, _ = sin_cos.apply(t)
        assert s.is_cuda == t.is_cuda
        h = s * 2
        h.register_hook(lambda g: g * 3)
        h.sum().backward()
        assert t.grad.device == t.device
        grads.append(t.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)
    np.testing.assert_allclose(grads[0], 6 * np.cos(_pair(2, 3)[0].numpy()), rtol=1e-6)
