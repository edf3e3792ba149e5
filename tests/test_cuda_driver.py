"""The CUDA driver binding (graphc/runtime/cuda): without a driver, against a fake driver
made of host memory (tests/fake_cuda.py), against cuda.h when it is installed, and on a
real GPU (marked gpu; skipped without one)."""
from __future__ import annotations

import ctypes
import gc
import glob
import os
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import graphc
from graphc.runtime import cuda as rt
from graphc.runtime import cuda_driver
from tests.fake_cuda import ERRORS, FakeDriver

# out[i] = x[i] + value for i < n, one thread per element
ADD_SCALAR_PTX = r"""
.version 7.0
.target sm_80
.address_size 64

.visible .entry add_scalar(
    .param .u64 add_scalar_x,
    .param .u64 add_scalar_out,
    .param .u64 add_scalar_n,
    .param .f32 add_scalar_value
)
{
    .reg .pred  %p<2>;
    .reg .b32   %r<4>;
    .reg .f32   %f<4>;
    .reg .b64   %rd<9>;

    ld.param.u64        %rd1, [add_scalar_x];
    ld.param.u64        %rd2, [add_scalar_out];
    ld.param.u64        %rd3, [add_scalar_n];
    ld.param.f32        %f1, [add_scalar_value];
    mov.u32             %r1, %ctaid.x;
    mov.u32             %r2, %ntid.x;
    mov.u32             %r3, %tid.x;
    mul.wide.u32        %rd4, %r1, %r2;
    cvt.u64.u32         %rd5, %r3;
    add.s64             %rd4, %rd4, %rd5;
    setp.ge.u64         %p1, %rd4, %rd3;
    @%p1 bra            DONE;
    shl.b64             %rd5, %rd4, 2;
    cvta.to.global.u64  %rd6, %rd1;
    add.s64             %rd6, %rd6, %rd5;
    ld.global.f32       %f2, [%rd6];
    add.f32             %f3, %f2, %f1;
    cvta.to.global.u64  %rd7, %rd2;
    add.s64             %rd7, %rd7, %rd5;
    st.global.f32       [%rd7], %f3;
DONE:
    ret;
}
"""

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32,
          np.float64]


def sample(shape, dtype, rng) -> np.ndarray:
    kind = np.dtype(dtype).kind
    values = {"b": lambda: rng.random(shape) < 0.5, "u": lambda: rng.integers(0, 200, shape),
              "i": lambda: rng.integers(-100, 100, shape)}.get(
                  kind, lambda: rng.standard_normal(shape) * 50)()
    return np.asarray(values).astype(dtype)


def add_scalar_on_host(driver: FakeDriver, launch) -> None:
    """What ADD_SCALAR_PTX does, for the fake driver."""
    x, out, n, value = launch.args
    assert launch.grid[0] * launch.block[0] >= n
    driver.host_view(out, n, np.float32)[:] = driver.host_view(x, n, np.float32) + \
        np.float32(value)


@pytest.fixture
def no_driver(monkeypatch):
    """The real library search, with a path that does not exist."""
    monkeypatch.setenv("GRAPHC_CUDA_LIBRARY", "/nonexistent/libcuda.so")
    rt._set_driver_for_tests(None)
    yield
    monkeypatch.undo()
    rt._set_driver_for_tests(None)


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.delenv("GRAPHC_CUDA_ARCH", raising=False)
    driver = FakeDriver(capability=(9, 0))
    rt._set_driver_for_tests(driver)
    yield driver
    rt._set_driver_for_tests(None)


# ---------------------------------------------------------------- without a driver


def test_importing_graphc_loads_no_driver():
    code = ("import graphc\nfrom graphc.runtime import cuda_driver as d\n"
            "assert d._driver is None and d._unusable is None")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))


def test_this_machine_without_libcuda(monkeypatch):
    monkeypatch.delenv("GRAPHC_CUDA_LIBRARY", raising=False)
    rt._set_driver_for_tests(None)
    if rt.is_available():
        pytest.skip("a CUDA driver and device are present")
    assert rt.device_count() == 0
    assert graphc.cuda.device_count() == 0
    with pytest.raises(graphc.cuda.CudaError, match="cannot create a CUDA tensor: no usable"):
        graphc.tensor([1.0], device="cuda")


def test_missing_library_says_what_was_tried(no_driver):
    assert not graphc.cuda.is_available() and graphc.cuda.device_count() == 0
    with pytest.raises(graphc.cuda.CudaError) as info:
        graphc.tensor([1.0], device="cuda")
    message = str(info.value)
    assert "create a CUDA tensor" in message and "/nonexistent/libcuda.so" in message
    assert "GRAPHC_CUDA_LIBRARY" in message
    assert isinstance(info.value, RuntimeError)


def test_missing_library_public_api(no_driver):
    for call in (graphc.cuda.synchronize, graphc.cuda.get_device_name,
                 graphc.cuda.get_device_capability):
        with pytest.raises(graphc.cuda.CudaError, match="could not be loaded"):
            call()
    graphc.cuda.empty_cache()
    assert graphc.cuda.memory_allocated() == 0 and graphc.cuda.memory_reserved() == 0
    with pytest.raises(rt.CudaError, match="cuda:0 cannot be used"):
        rt.DeviceArray.empty((3,), np.float32)
    assert rt.target_arch() == "sm_80"


def test_library_that_is_not_a_driver(monkeypatch, no_driver):
    libc = "libc.so.6" if sys.platform.startswith("linux") else None
    if libc is None:
        pytest.skip("needs a Linux libc to stand for a library without cu* symbols")
    monkeypatch.setenv("GRAPHC_CUDA_LIBRARY", libc)
    rt._set_driver_for_tests(None)
    assert not rt.is_available()
    assert re.search(r"lacks cuInit, .* and \d+ more: not a CUDA driver", rt.unavailable_reason())


def test_target_arch_from_env(monkeypatch, no_driver):
    monkeypatch.setenv("GRAPHC_CUDA_ARCH", "sm_90a")
    assert rt.target_arch() == "sm_90a"


def test_add_scalar_ptx_assembles():
    if shutil.which("ptxas") is None:
        pytest.skip("ptxas is not on the PATH")
    # sm_90 needs PTX ISA 7.8; the kernel itself is the same
    for arch, ptx in (("sm_80", ADD_SCALAR_PTX),
                      ("sm_90", ADD_SCALAR_PTX.replace("7.0", "7.8").replace("sm_80", "sm_90"))):
        run = subprocess.run(["ptxas", f"-arch={arch}", "-o", os.devnull, "-"], input=ptx,
                             text=True, capture_output=True)
        assert run.returncode == 0, run.stderr


# ---------------------------------------------------------------- the binding against cuda.h


def _cuda_header() -> str | None:
    roots = [os.environ.get("CUDA_HOME", ""), "/usr/local/cuda", *glob.glob("/usr/local/cuda-*")]
    for root in roots:
        path = os.path.join(root, "include", "cuda.h")
        if root and os.path.exists(path):
            return path
    return None


@pytest.fixture(scope="module")
def cuda_h() -> str:
    path = _cuda_header()
    if path is None:
        pytest.skip("cuda.h not found (CUDA_HOME, /usr/local/cuda*)")
    with open(path) as f:
        return f.read()


# the ctypes a C parameter type may be bound as (CUresult and enums are int)
_C_LEAVES = {"unsigned int": {ctypes.c_uint}, "int": {ctypes.c_int}, "CUdevice": {ctypes.c_int},
             "CUresult": {ctypes.c_int}, "CUdevice_attribute": {ctypes.c_int},
             "CUjit_option": {ctypes.c_int}, "size_t": {ctypes.c_size_t},
             "CUdeviceptr": {ctypes.c_uint64}, "CUcontext": {ctypes.c_void_p},
             "CUmodule": {ctypes.c_void_p}, "CUfunction": {ctypes.c_void_p},
             "CUstream": {ctypes.c_void_p}}
_C_BYTE_POINTERS = {"void": {ctypes.c_void_p}, "const void": {ctypes.c_void_p, ctypes.c_char_p},
                    "char": {ctypes.c_char_p}, "const char": {ctypes.c_char_p}}


def _bindings(base: str, stars: int) -> set:
    if stars == 0:
        return _C_LEAVES[base]
    if stars == 1 and base in _C_BYTE_POINTERS:
        return _C_BYTE_POINTERS[base]
    return {ctypes.POINTER(t) for t in _bindings(base, stars - 1)}


def _parameters(declaration: str) -> list[tuple[str, int]]:
    """(base type, pointer depth) of each parameter of a C declaration's parameter list."""
    if declaration.strip() in ("", "void"):
        return []
    params = [re.match(r"(.*?)\s*\w+$", p.strip()).group(1) for p in declaration.split(",")]
    return [(" ".join(p.replace("*", " ").split()), p.count("*")) for p in params]


def test_prototypes_match_cuda_h(cuda_h):
    declared = {}
    for name, params in re.findall(r"CUresult CUDAAPI (\w+)\(([^)]*)\);", cuda_h):
        declared.setdefault(name, params)   # the first: later ones are the legacy _v1 forms
    macros = {}
    for plain, target in re.findall(r"#define\s+(cu\w+)\s+(?:__CUDA_API_PT(?:DS|SZ)\()?(\w+)",
                                    cuda_h):
        macros.setdefault(plain, target)
    for name, argtypes in cuda_driver._PROTOTYPES.items():
        plain = name.removesuffix("_v2")
        # cuda.h declares the plain name; its macro picks the entry point we must bind
        assert macros.get(plain, plain) == name, (name, macros.get(plain))
        params = _parameters(declared[plain])
        assert len(params) == len(argtypes), (name, declared[plain])
        for (base, stars), argtype in zip(params, argtypes):
            assert argtype in _bindings(base, stars), (name, base, stars, argtype)


def test_constants_match_cuda_h(cuda_h):
    def value(name: str) -> int:
        return int(re.search(rf"\b{name}\s*=\s*(\d+)", cuda_h).group(1))
    for name in ("CU_JIT_INFO_LOG_BUFFER", "CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES",
                 "CU_JIT_ERROR_LOG_BUFFER", "CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES"):
        assert getattr(rt, name) == value(name)
    for name in ("CUDA_ERROR_OUT_OF_MEMORY", "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR",
                 "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR"):
        assert getattr(cuda_driver, name) == value(name)
    for code, (name, _) in ERRORS.items():  # the fake speaks the real codes
        assert value(name) == code


def test_fake_implements_every_entry_point():
    assert set(cuda_driver._PROTOTYPES) <= set(dir(FakeDriver))


# ---------------------------------------------------------------- devices and contexts


def test_devices(fake):
    assert rt.is_available() and rt.device_count() == 1
    assert graphc.cuda.is_available() and graphc.cuda.device_count() == 1
    graphc.cuda.require("do anything")
    assert graphc.cuda.get_device_name() == "graphc fake GPU"
    assert graphc.cuda.get_device_capability("cuda:0") == (9, 0)
    assert rt.device_arch(0) == "sm_90" and rt.target_arch() == "sm_90"
    assert rt.total_memory(0) == 1 << 30 and rt.mem_get_info(0) == (1 << 30, 1 << 30)
    with pytest.raises(rt.CudaError, match=r"cuda:3 does not exist: this process sees 1"):
        rt.device_arch(3)


def test_env_arch_beats_the_device(fake, monkeypatch):
    monkeypatch.setenv("GRAPHC_CUDA_ARCH", "sm_80")
    assert rt.target_arch() == "sm_80"


def test_cuinit_failure_is_the_reason(monkeypatch):
    driver = FakeDriver()
    driver.failures["cuInit"] = 100
    try:
        rt._set_driver_for_tests(driver)
        assert not rt.is_available() and rt.device_count() == 0
        with pytest.raises(rt.CudaError, match=r"cuInit failed: CUDA_ERROR_NO_DEVICE \(no CUDA"):
            graphc.tensor([1.0], device="cuda")
    finally:
        rt._set_driver_for_tests(None)


def test_zero_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    try:
        rt._set_driver_for_tests(FakeDriver(devices=0))
        assert not rt.is_available()
        with pytest.raises(rt.CudaError, match="sees no device \\(CUDA_VISIBLE_DEVICES=''\\)"):
            graphc.cuda.synchronize()
    finally:
        rt._set_driver_for_tests(None)


def test_primary_context_retained_once_and_set_once_per_thread(fake):
    for _ in range(3):
        rt.DeviceArray.from_numpy(np.ones(4, np.float32)).to_numpy()
    rt.synchronize()
    assert fake.retained[0] == 1 and len(fake.set_current_threads) == 1
    thread = threading.Thread(target=lambda: rt.DeviceArray.from_numpy(np.ones(4, np.float32)))
    thread.start()
    thread.join()
    assert fake.retained[0] == 1 and len(set(fake.set_current_threads)) == 2
    rt.release_contexts()
    assert fake.retained[0] == 0
    rt.synchronize()             # retained and made current again
    assert fake.retained[0] == 1 and len(fake.set_current_threads) == 3


# ---------------------------------------------------------------- errors


def test_driver_error_names_the_call_and_the_error(fake):
    fake.failures["cuMemcpyHtoD_v2"] = 1
    with pytest.raises(rt.CudaDriverError) as info:
        rt.DeviceArray.from_numpy(np.zeros(8, np.float32))
    error = info.value
    assert (error.code, error.name) == (1, "CUDA_ERROR_INVALID_VALUE")
    assert str(error).startswith("cuMemcpyHtoD failed: CUDA_ERROR_INVALID_VALUE "
                                 "(invalid argument) while copying 32 bytes to cuda:0")
    assert isinstance(error, graphc.cuda.CudaError) and isinstance(error, RuntimeError)


def test_unknown_error_code(fake):
    with pytest.raises(rt.CudaDriverError, match=r"cuFoo failed: CUDA error 12345") as info:
        rt.check(12345, "cuFoo")
    assert info.value.code == 12345


def test_kernel_errors_surface_at_synchronize(fake):
    fake.sticky_error = 700
    with pytest.raises(rt.CudaDriverError, match="cuCtxSynchronize failed: "
                       "CUDA_ERROR_ILLEGAL_ADDRESS .* while waiting for cuda:0"):
        graphc.cuda.synchronize()


# ---------------------------------------------------------------- the caching allocator


@pytest.mark.parametrize("nbytes, block", [(1, 512), (512, 512), (513, 1024),
                                           (1 << 20, 1 << 20), ((1 << 20) + 1, 2 << 20),
                                           (3 << 20, 4 << 20), (4 << 20, 4 << 20)])
def test_round_size(nbytes, block):
    assert rt.round_size(nbytes) == block


def test_freed_blocks_are_reused(fake):
    a = rt.allocate(1000)
    ptr = a.ptr
    assert rt.memory_allocated() == 1024 and rt.memory_reserved() == 1024
    del a
    assert rt.memory_allocated() == 0 and rt.memory_reserved() == 1024
    b = rt.allocate(600)     # rounds to the same 1024-byte block
    assert b.ptr == ptr and fake.calls["cuMemAlloc_v2"] == 1
    c = rt.allocate(2000)    # another size: a new block
    assert c.ptr != ptr and fake.calls["cuMemAlloc_v2"] == 2
    assert graphc.cuda.memory_allocated() == 1024 + 2048


def test_empty_cache_frees_to_the_driver(fake):
    live = rt.allocate(100)
    rt.allocate(5000)        # dropped at once: cached
    assert len(fake.buffers) == 2
    graphc.cuda.empty_cache()
    assert list(fake.buffers) == [live.ptr] and fake.calls["cuMemFree_v2"] == 1
    assert rt.memory_reserved() == rt.memory_allocated() == 512


def test_out_of_memory_frees_the_cache_and_retries(fake):
    fake.memory_bytes = 4096
    rt.allocate(2048)        # cached after this line
    a = rt.allocate(3072)    # the driver has 2048 left: the cache goes back, then it fits
    assert a.ptr in fake.buffers and fake.calls["cuMemAlloc_v2"] == 3
    assert rt.memory_reserved() == 3072


def test_out_of_memory_message(fake):
    fake.memory_bytes = 4 << 30
    with pytest.raises(rt.CudaDriverError) as info:
        rt.allocate(5 << 30)
    assert info.value.name == "CUDA_ERROR_OUT_OF_MEMORY"
    assert str(info.value).startswith("cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY "
                                      "(out of memory) while allocating 5.0 GiB on cuda:0")


def test_zero_bytes_never_reach_the_driver(fake):
    empty = rt.DeviceArray.empty((0, 3), np.float32)
    assert empty.ptr == 0 and empty.size == 0 and empty.is_contiguous
    assert rt.DeviceArray.from_numpy(np.zeros((2, 0), np.int64)).to_numpy().shape == (2, 0)
    assert empty.to_numpy().shape == (0, 3)
    assert fake.calls["cuMemAlloc_v2"] == 0 and fake.calls["cuMemcpyDtoH_v2"] == 0


def test_bytes_format():
    assert [rt.format_bytes(n) for n in (32, 2048, 3 << 20, 4 << 30)] == [
        "32 bytes", "2.0 KiB", "3.0 MiB", "4.0 GiB"]


# ---------------------------------------------------------------- arrays


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_every_dtype(fake, rng, dtype):
    for shape in [(), (1,), (7,), (3, 5), (2, 3, 4)]:
        host = sample(shape, dtype, rng)
        device = rt.DeviceArray.from_numpy(host)
        assert device.shape == host.shape and device.dtype == host.dtype
        assert device.nbytes == host.nbytes and device.ndim == host.ndim
        back = device.to_numpy()
        assert back.dtype == host.dtype
        np.testing.assert_array_equal(back, host)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_strided_views(fake, rng, dtype):
    host = sample((4, 6), dtype, rng)
    base = rt.DeviceArray.from_numpy(host)
    flat = host.reshape(-1)
    cases = {  # view (shape, strides, offset) -> the numpy equivalent
        ((6, 4), (1, 6), 0): host.T,
        ((2, 3), (6, 2), 7): host[1:3, 1::2],
        ((5,), (-1,), 11): flat[11:6:-1],
        ((3, 4), (0, 1), 4): np.broadcast_to(flat[4:8], (3, 4)),
        ((4,), (6,), 5): host[:, 5],
        ((2, 2), (-6, -1), 23): host[::-1, ::-1][:2, :2],
    }
    for (shape, strides, offset), expected in cases.items():
        view = base.view(shape, strides, offset)
        assert view.ptr == base.ptr + offset * view.itemsize
        assert not view.is_contiguous
        np.testing.assert_array_equal(view.to_numpy(), expected)


def test_contiguous_views_with_offset(fake, rng):
    host = sample((4, 6), np.float32, rng)
    base = rt.DeviceArray.from_numpy(host)
    row = base.view((6,), offset=12)
    assert row.is_contiguous and row.strides == (1,)
    np.testing.assert_array_equal(row.to_numpy(), host[2])
    np.testing.assert_array_equal(base.view((1, 6), (99, 1), 18).to_numpy(), host[3:])
    assert base.view((1, 6), (99, 1), 18).is_contiguous   # a size-1 dim's stride is moot


def test_views_past_the_allocation_are_refused(fake):
    base = rt.DeviceArray.empty((4, 6), np.float32)
    for shape, strides, offset in [((25,), None, 0), ((6,), (1,), 19), ((5,), (-1,), 3),
                                   ((2, 2), (1,), 0)]:
        with pytest.raises(ValueError):
            base.view(shape, strides, offset)
    base.view((0,), (1,), 100)  # addresses nothing


def test_from_numpy_of_a_strided_host_array(fake, rng):
    host = sample((5, 3), np.float64, rng)
    for arr in (host.T, host[::2], host[:, 1], host.astype(">f8")):
        device = rt.DeviceArray.from_numpy(arr)
        assert device.is_contiguous and device.dtype.isnative
        np.testing.assert_array_equal(device.to_numpy(), arr)
    with pytest.raises(TypeError):
        rt.DeviceArray.from_numpy(np.array(["a"], dtype=object))


def test_a_view_keeps_its_allocation_alive(fake, rng):
    host = sample((8,), np.int32, rng)
    view = rt.DeviceArray.from_numpy(host).view((4,), (2,), 0)
    gc.collect()
    assert rt.memory_allocated() == 512
    np.testing.assert_array_equal(view.to_numpy(), host[::2])
    del view
    gc.collect()
    assert rt.memory_allocated() == 0


def test_copy_from(fake, rng):
    host = sample((3, 4), np.float32, rng)
    src = rt.DeviceArray.from_numpy(host)
    dst = rt.DeviceArray.empty((12,), np.float32)
    dst.copy_from(src)
    np.testing.assert_array_equal(dst.to_numpy(), host.reshape(-1))
    assert fake.calls["cuMemcpyDtoD_v2"] == 1
    with pytest.raises(ValueError, match="cannot copy 12 float32 elements into 6"):
        rt.DeviceArray.empty((6,), np.float32).copy_from(src)
    with pytest.raises(ValueError, match="contiguous"):
        dst.copy_from(src.view((4, 3), (1, 4), 0))


# ---------------------------------------------------------------- modules and launches


def test_module_load_failure_carries_the_jit_log(fake):
    fake.jit_error_log = "ptxas application ptx input, line 9; error : Unknown symbol 'x'"
    with pytest.raises(rt.CudaDriverError) as info:
        rt.load_module(ADD_SCALAR_PTX)
    assert info.value.name == "CUDA_ERROR_INVALID_PTX"
    assert str(info.value).startswith("cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX "
                                      "(a PTX JIT compilation failed) while loading PTX")
    assert "JIT error log:\nptxas application ptx input, line 9; error : Unknown symbol 'x'" \
        in str(info.value)


def test_module_load_passes_log_buffers(fake):
    module = rt.load_module(ADD_SCALAR_PTX)
    assert module.info_log == "fake JIT: compiled"
    options = fake.jit_options
    assert sorted(options) == [3, 4, 5, 6]
    assert options[4] == options[6] == rt.JIT_LOG_BYTES
    assert options[3] != options[5]   # two distinct buffers


def test_functions_are_looked_up_once(fake):
    module = rt.load_module(ADD_SCALAR_PTX)
    assert module.function("add_scalar") is module.function("add_scalar")
    assert fake.calls["cuModuleGetFunction"] == 1
    with pytest.raises(rt.CudaDriverError, match="CUDA_ERROR_NOT_FOUND .* kernel 'nope'"):
        module.function("nope")
    module.unload()
    assert not fake.modules and fake.calls["cuCtxSynchronize"] == 1


def test_launch_packs_pointers_and_scalars(fake, rng):
    fake.kernels["add_scalar"] = add_scalar_on_host
    host = sample((1000,), np.float32, rng)
    x = rt.DeviceArray.from_numpy(host)
    out = rt.DeviceArray.empty((1000,), np.float32)
    fn = rt.load_module(ADD_SCALAR_PTX).function("add_scalar")
    rt.launch(fn, (4, 1, 1), (256, 1, 1), [x, out.alloc, ctypes.c_int64(1000),
                                           ctypes.c_float(1.5)], shared_bytes=64)
    (launch,) = fake.launches
    assert launch.args == [x.ptr, out.ptr, 1000, 1.5]
    assert (launch.grid, launch.block, launch.shared_bytes) == ((4, 1, 1), (256, 1, 1), 64)
    assert launch.stream is None
    rt.synchronize()
    np.testing.assert_array_equal(out.to_numpy(), host + np.float32(1.5))


def test_launch_of_a_view_passes_its_first_element(fake, rng):
    fn = rt.load_module(ADD_SCALAR_PTX).function("add_scalar")
    base = rt.DeviceArray.empty((10,), np.float32)
    rt.launch(fn, (1, 1, 1), (32, 1, 1), [base.view((4,), offset=6), base, ctypes.c_uint64(0),
                                          ctypes.c_float(0)])
    assert fake.launches[0].args[0] == base.alloc.ptr + 24


def test_launch_rejects_what_it_cannot_pack(fake):
    fn = rt.load_module(ADD_SCALAR_PTX).function("add_scalar")
    with pytest.raises(TypeError, match="not int"):
        rt.launch(fn, (1, 1, 1), (1, 1, 1), [3])
    with pytest.raises(ValueError, match="grid must be three positive sizes"):
        rt.launch(fn, (0, 1, 1), (1, 1, 1), [])
    assert not fake.launches


def test_launch_failure(fake):
    fn = rt.load_module(ADD_SCALAR_PTX).function("add_scalar")
    fake.failures["cuLaunchKernel"] = 1
    with pytest.raises(rt.CudaDriverError, match=r"cuLaunchKernel failed: "
                       r"CUDA_ERROR_INVALID_VALUE .* launching add_scalar \(grid \(1, 1, 1\)"):
        rt.launch(fn, (1, 1, 1), (2048, 1, 1), [])


# ---------------------------------------------------------------- on a GPU

gpu = pytest.mark.gpu


@pytest.fixture
def real_driver(monkeypatch):
    monkeypatch.delenv("GRAPHC_CUDA_LIBRARY", raising=False)
    rt._set_driver_for_tests(None)
    if not rt.is_available():
        pytest.skip(f"no usable CUDA device: {rt.unavailable_reason()}")
    yield
    rt.empty_cache()


@gpu
def test_gpu_round_trip_and_cache(real_driver, rng):
    host = sample((3, 1000), np.float32, rng)
    device = rt.DeviceArray.from_numpy(host)
    np.testing.assert_array_equal(device.to_numpy(), host)
    np.testing.assert_array_equal(device.view((1000, 3), (1, 1000), 0).to_numpy(), host.T)
    ptr = device.alloc.ptr
    del device
    assert rt.allocate(12000).ptr == ptr
    print(graphc.cuda.get_device_name(), rt.device_arch())


@gpu
def test_gpu_launch_add_scalar(real_driver, rng):
    n = 100_003
    host = sample((n,), np.float32, rng)
    x = rt.DeviceArray.from_numpy(host)
    out = rt.DeviceArray.empty((n,), np.float32)
    module = rt.load_module(ADD_SCALAR_PTX)
    rt.launch(module.function("add_scalar"), ((n + 255) // 256, 1, 1), (256, 1, 1),
              [x, out, ctypes.c_int64(n), ctypes.c_float(1.0)])
    rt.synchronize()
    np.testing.assert_array_equal(out.to_numpy(), host + np.float32(1.0))


@gpu
def test_gpu_bad_ptx_and_oom(real_driver):
    with pytest.raises(rt.CudaDriverError, match="JIT error log") as info:
        rt.load_module(ADD_SCALAR_PTX.replace("add.f32", "add.nonsense"))
    assert info.value.name == "CUDA_ERROR_INVALID_PTX"
    with pytest.raises(rt.CudaDriverError, match="CUDA_ERROR_OUT_OF_MEMORY .* 1.0 TiB"):
        rt.allocate(1 << 40)
