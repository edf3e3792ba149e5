"""The PTX path without a GPU: every op of the table and a whole training step lowered to
PTX for sm_80 and sm_90, and assembled by ``ptxas`` (CUDA's assembler checks types,
registers, address spaces and the instruction set of each arch)."""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile

import pytest

import graphc
from graphc.codegen.ptx import ARCHS, PtxProgram
from graphc.testing.op_table import OpCase
from tests.test_compiler import _compiled_cases, _make_step, _mlp_params
from tests.test_ops import _g, _inputs

PTXAS = shutil.which("ptxas")
needs_ptxas = pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on the PATH")


def assemble(ptx: str, arch: str) -> subprocess.Popen:
    """Start ptxas on ``ptx`` for ``arch``; ``finish`` waits and checks."""
    fd, path = tempfile.mkstemp(suffix=".ptx")
    with os.fdopen(fd, "w") as f:
        f.write(ptx)
    proc = subprocess.Popen([PTXAS, f"-arch={arch}", path, "-o", os.devnull],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.path = path
    return proc


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=120)
    os.unlink(proc.path)
    assert proc.returncode == 0, f"ptxas rejected the PTX:\n{err}"


def assembles(lowered, every_arch: bool = True) -> None:
    """The PTX of a function lowered for CUDA assembled for its arch; with ``every_arch``,
    also PTX generated for each other arch of ``ARCHS``, assembled for it."""
    gpu = lowered.last.native
    for launch in (x for step in gpu.code.steps if isinstance(step, list) for x in step):
        assert min(launch.grid) >= 1 and max(launch.grid[1:]) <= 65535, launch  # CUDA's limits
        assert math.prod(launch.block) <= 1024, launch
    procs = [assemble(gpu.ptx, gpu.code.arch)]
    if every_arch:
        procs += [assemble(PtxProgram(lowered.last.optimized, arch).ptx, arch)
                  for arch in ARCHS if arch != gpu.code.arch]
    for p in procs:
        finish(p)


@needs_ptxas
@pytest.mark.parametrize("c,si,dtype", list(_compiled_cases()))
def test_op_table_ptx_assembles(c: OpCase, si: int, dtype: str):
    xs = _inputs(c, si, dtype)
    grad = c.grad and any(x.dtype.kind == "f" for x in xs)
    if "eager_only" in c.tags:
        pytest.skip("value-dependent: not traceable (test_compiler checks the error)")

    def program(*ts):
        out = c.fn(graphc, *ts)
        if not grad or not out.requires_grad or out.numel() == 0:
            return out
        wrt = [t for t in ts if t.requires_grad]
        return (out, *graphc.autograd.grad((out * 0.5).sum(), wrt, allow_unused=True,
                                           materialize_grads=True))

    compiled = graphc.compile(program, device="cuda")
    compiled.lower(*[_g(x.copy(), requires_grad=grad and x.dtype.kind == "f") for x in xs])
    assembles(compiled, every_arch=dtype == c.dtypes[0])  # arch-specific code once per sample


@needs_ptxas
def test_training_step_ptx_assembles_and_lowering_needs_no_gpu():
    x = graphc.randn(32, 8)
    y = graphc.randint(0, 4, (32,))
    step = graphc.compile(_make_step(_mlp_params()), device="cuda").lower(x, y)
    ptx = step.ir("ptx")
    assert ".entry" in ptx and "bar.sync" in ptx and "shfl.sync.bfly" in ptx
    assert "atom.global.add.f32" in ptx  # the gather's backward: scatter_add
    assert "launch k" in step.ir("kernels")
    assembles(step)


def test_ptx_is_kept_in_the_disk_cache(monkeypatch):
    from graphc.runtime import gpu
    made = []
    compile_ptx = gpu.compile_ptx
    monkeypatch.setattr(gpu, "compile_ptx", lambda *a: made.append(a[2]) or compile_ptx(*a))
    texts = [graphc.compile(lambda x: (x * 3).exp().sum(1), device="cuda")
             .lower(graphc.ones(5, 7)).ir("ptx") for _ in range(2)]
    assert len(made) == 1 and texts[0] == texts[1] and ".entry" in texts[0]
