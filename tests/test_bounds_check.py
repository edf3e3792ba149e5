"""GRAPHC_CHECK=1: compiled kernels check every load and store against its buffer's bounds
and raise IndexError (naming the kernel, the buffer and the element) instead of touching
memory outside it. Planted code-generator bugs show the checks fire; real programs show
they never do."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.codegen import cpu as codegen_cpu
from graphc.codegen import kernel as codegen_kernel
from graphc.codegen.kernel import BoundsCheck
from graphc.ir.errors import IndexValueError


@pytest.fixture
def checked(monkeypatch):
    monkeypatch.setenv("GRAPHC_CHECK", "1")


def _program(a, b):
    h = (a @ b).relu() + a.sum(1, keepdim=True)
    return h[:, 1:].softmax(1), h.t()[::2].amax(0), (a[:, :3] * 2).reshape(-1)


def test_checked_programs_compute_eagers_values(checked):
    a, b = graphc.randn(70, 33), graphc.randn(33, 70)
    f = graphc.compile(_program)
    for got, want in zip(f(a, b), _program(a, b)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    checks = [c for c in f.last.native.plan.checks if isinstance(c, BoundsCheck)]
    assert {c.access for c in checks} == {"read", "write"} and len(checks) > 5


def test_unchecked_programs_carry_no_bounds_checks(monkeypatch):
    monkeypatch.delenv("GRAPHC_CHECK", raising=False)
    f = graphc.compile(_program)
    f(graphc.randn(70, 33), graphc.randn(33, 70))
    assert not f.last.native.plan.checks


def test_a_read_outside_a_buffer_raises_and_reads_nothing(checked, monkeypatch):
    """A planted bug: every slice view starts 10**6 elements late."""
    real = codegen_kernel.view_of

    def off_by_a_lot(v, node):
        out = real(v, node)
        if out is not None and node.op.name == "slice":
            out = codegen_kernel.View(out.slot, out.shape, out.strides, out.offset + 10 ** 6)
        return out
    monkeypatch.setattr(codegen_kernel, "view_of", off_by_a_lot)
    f = graphc.compile(lambda x: x[1:] * 2)
    with pytest.raises(IndexError, match=r"GRAPHC_CHECK: kernel k\d+_mul would read element "
                       r"10000\d\d of buffer 0 \(input, f32\[5,3\]: 15 elements\)") as info:
        f(graphc.ones(5, 3))
    assert "test_bounds_check.py" in str(info.value)  # the traced line


def test_a_write_outside_a_buffer_raises_and_writes_nothing(checked, monkeypatch):
    """A planted bug: every store lands 10**7 elements past its place."""
    real = codegen_cpu.KernelEmitter.store

    def far(self, offset, value, src):
        return real(self, self.b.add(offset, codegen_cpu.const(10 ** 7)), value, src)
    monkeypatch.setattr(codegen_cpu.KernelEmitter, "store", far)
    x = graphc.arange(12.0).reshape(3, 4)
    with pytest.raises(IndexError, match=r"would write element 100000\d\d of buffer 1 "
                       r"\(output, f32\[3,4\]: 12 elements\)"):
        graphc.compile(lambda t: (t + 1).exp())(x)
    np.testing.assert_array_equal(x.numpy(), np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize("check", ["0", "1"])
def test_bad_indices_raise_the_same_error_eager_compiled_and_checked(check, monkeypatch):
    monkeypatch.setenv("GRAPHC_CHECK", check)
    x, bad = graphc.arange(6.0).reshape(2, 3), graphc.tensor([[0, 3], [1, -1]])
    cases = [(lambda t, i: t.gather(1, i), r"gather\(\): index (3|-1) is out of bounds for "
              r"dimension with size 3"),
             (lambda t, i: graphc.zeros(2, 3).scatter_add(1, i, t[:, :2]),
              r"scatter_add\(\): index (3|-1) is out of bounds for dimension with size 3")]
    for fn, message in cases:
        with pytest.raises(IndexValueError, match=message):
            fn(x, bad)
        with pytest.raises(IndexValueError, match=message):
            graphc.compile(fn)(x, bad)
    with pytest.raises(IndexError, match="out of bounds"):
        x[:, graphc.tensor([0, 3])]
    with pytest.raises(IndexError, match="out of bounds"):
        graphc.compile(lambda t, i: t[:, i])(x, graphc.tensor([0, 3]))
