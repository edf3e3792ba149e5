"""Kernels to LLVM IR for the host CPU, compiled with llvmlite's MCJIT.

Each kernel is ``void name(i8* out, i8* in0, ...)``: one flat loop over the output's
elements. An input of the output's shape is read at the loop index; a broadcast
input at the index its strides give (a stride of 0 on broadcast dims). Inputs are
C-contiguous (the runtime makes them so), so all strides are known when compiling.
"""
from __future__ import annotations

import functools

import llvmlite.binding as llvm
from llvmlite import ir

from ..ir.core import Node
from ..ir.shapes import numel
from .fusion import Kernel
from .lower import Emitter, arith, convert, extreme, llvm_type

I64 = ir.IntType(64)
I8P = ir.IntType(8).as_pointer()


@functools.cache
def _init() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


def target_machine():
    """The host's target machine (its CPU name and features: AVX-512 where there is)."""
    _init()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=3, jit=True)


def _broadcast_strides(shape: tuple, out: tuple) -> list[int]:
    """Element strides of a C-contiguous array of ``shape`` read as ``out`` (0: broadcast)."""
    strides, step = [], 1
    full = (1,) * (len(out) - len(shape)) + tuple(shape)
    for d in reversed(full):
        strides.append(0 if d == 1 else step)
        step *= d
    return list(reversed(strides))


REDUCTIONS = ("sum", "max")


def _coords(b: ir.IRBuilder, idx, dims: list[int], sizes: tuple) -> dict[int, object]:
    """Coordinates along ``dims`` (C order) of flat index ``idx``."""
    out: dict[int, object] = {}
    suffix = 1
    for d in reversed(dims):
        c = idx if suffix == 1 else b.udiv(idx, ir.Constant(I64, suffix))
        if d != dims[0]:
            c = b.urem(c, ir.Constant(I64, sizes[d]))
        out[d] = c
        suffix *= sizes[d]
    return out


class _Indexer:
    """Element offsets of the kernel's inputs at (outer, inner) loop indices.

    The domain is the loop's full shape (a reduction's input shape); ``kept`` dims are
    walked by the outer index, ``reduced`` dims by the inner one.
    """

    def __init__(self, domain: tuple, reduced: tuple) -> None:
        self.domain = domain
        self.reduced = [d for d in range(len(domain)) if d in reduced]
        self.kept = [d for d in range(len(domain)) if d not in reduced]
        self.n_inner = numel(tuple(domain[d] for d in self.reduced))
        trailing = self.reduced == list(range(len(domain) - len(self.reduced), len(domain)))
        self.contiguous = trailing  # then offset = outer * n_inner + inner for full inputs

    def offset(self, b: ir.IRBuilder, shape: tuple, outer, inner):
        if numel(shape) == 1:
            return ir.Constant(I64, 0)
        if tuple(shape) == tuple(self.domain) and self.contiguous:
            if inner is None:
                return outer
            return b.add(b.mul(outer, ir.Constant(I64, self.n_inner)), inner)
        strides = _broadcast_strides(shape, self.domain)
        coords = _coords(b, outer, self.kept, self.domain) if self.kept else {}
        if inner is not None and self.reduced:
            coords.update(_coords(b, inner, self.reduced, self.domain))
        total = None
        for d, st in enumerate(strides):
            if st:
                t = coords[d] if st == 1 else b.mul(coords[d], ir.Constant(I64, st))
                total = t if total is None else b.add(total, t)
        return total if total is not None else ir.Constant(I64, 0)


def _counted_loop(b: ir.IRBuilder, fn: ir.Function, n: int, name: str):
    """Open ``for i in range(n)``; returns (i, close) where close() ends the loop."""
    head = fn.append_basic_block(f"{name}_head")
    body = fn.append_basic_block(f"{name}_body")
    end = fn.append_basic_block(f"{name}_end")
    start = b.block
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name=name)
    i.add_incoming(ir.Constant(I64, 0), start)
    b.cbranch(b.icmp_unsigned("<", i, ir.Constant(I64, n)), body, end)
    b.position_at_end(body)

    def close() -> None:
        i.add_incoming(b.add(i, ir.Constant(I64, 1)), b.block)
        b.branch(head)
        b.position_at_end(end)
    return i, head, close


def _combine(b: ir.IRBuilder, op: str, acc, v, d):
    """One reduction step: the lowering table's add, or its max with the value first (so
    a NaN value wins, and stays: NaN compares false against everything after it)."""
    return arith(b, "add", acc, v, d) if op == "sum" else extreme(b, ">", v, acc, d)


def _identity(op: str, d):
    t = llvm_type(d)
    if op == "sum":
        return ir.Constant(t, 0.0 if d.kind == 2 else 0)
    if d.kind == 2:
        return ir.Constant(t, float("-inf"))
    bits = t.width
    return ir.Constant(t, -(1 << (bits - 1)) if d.is_signed else 0)


def emit_matmul(module: ir.Module, k: Kernel) -> None:
    """C[..., i, :] = sum_k A[..., i, k] * B[..., k, :], the j loop innermost: contiguous in
    B and C, so it vectorizes. (Tiling and register blocking come next.)"""
    mm = k.root
    a_node, b_node = mm.inputs
    *batch, m, n = mm.shape
    kk = a_node.shape[-1]
    d = mm.dtype
    t = llvm_type(d)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I8P] * 3), name=k.name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    c_ptr, a_ptr, b_ptr = (b.bitcast(arg, t.as_pointer()) for arg in fn.args)
    batch = tuple(batch)
    a_batch = _Indexer(batch, ())
    zero = ir.Constant(t, 0.0 if d.kind == 2 else 0)

    def const(v):
        return ir.Constant(I64, v)

    p, _, close_batch = _counted_loop(b, fn, numel(batch), "batch")
    a_base = b.mul(a_batch.offset(b, a_node.shape[:-2], p, None), const(m * kk)) \
        if batch else const(0)
    b_base = b.mul(a_batch.offset(b, b_node.shape[:-2], p, None), const(kk * n)) \
        if batch else const(0)
    c_base = b.mul(p, const(m * n))
    i, _, close_i = _counted_loop(b, fn, m, "i")
    c_row = b.add(c_base, b.mul(i, const(n)))
    j0, _, close_j0 = _counted_loop(b, fn, n, "j0")
    b.store(zero, b.gep(c_ptr, [b.add(c_row, j0)]))
    close_j0()
    q, _, close_k = _counted_loop(b, fn, kk, "k")
    a_val = b.load(b.gep(a_ptr, [b.add(a_base, b.add(b.mul(i, const(kk)), q))]))
    b_row = b.add(b_base, b.mul(q, const(n)))
    j, _, close_j = _counted_loop(b, fn, n, "j")
    c_at = b.gep(c_ptr, [b.add(c_row, j)])
    prod = arith(b, "mul", a_val, b.load(b.gep(b_ptr, [b.add(b_row, j)])), d)
    b.store(arith(b, "add", b.load(c_at), prod, d), c_at)
    close_j()
    close_k()
    close_i()
    close_batch()
    b.ret_void()


def emit_kernel(module: ir.Module, k: Kernel) -> None:
    if k.root.op.name == "matmul":
        return emit_matmul(module, k)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I8P] * (1 + len(k.inputs))),
                     name=k.name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ptrs = {id(x): b.bitcast(a, llvm_type(x.dtype, memory=True).as_pointer())
            for x, a in zip(k.inputs, fn.args[1:])}
    out_ptr = b.bitcast(fn.args[0], llvm_type(k.root.dtype, memory=True).as_pointer())
    reduce = k.root if k.root.op.name in REDUCTIONS else None
    domain = reduce.inputs[0].shape if reduce else k.shape
    axes = tuple(a for a in reduce.attrs["axes"] if a < len(domain)) if reduce else ()
    index = _Indexer(domain, axes)
    e = Emitter(b, module)

    def element(outer, inner) -> dict[int, tuple]:
        values: dict[int, tuple] = {}
        for x in k.inputs:
            v = b.load(b.gep(ptrs[id(x)], [index.offset(b, x.shape, outer, inner)]))
            values[id(x)] = (b.trunc(v, ir.IntType(1)) if x.dtype.name == "bool" else v,
                             x.dtype)
        for m in k.nodes:
            if m is reduce:
                continue
            ops = [values[id(x)] if type(x) is Node else (None, None) for x in m.inputs]
            values[id(m)] = (e.emit(m, ops), m.dtype)
        return values

    o, _, close_outer = _counted_loop(b, fn, numel(k.shape), "o")
    if reduce is None:
        result, d = element(o, None)[id(k.root)]
    else:
        d = reduce.dtype
        pre = b.block
        i, head, close_inner = _counted_loop(b, fn, index.n_inner, "r")
        at_head = ir.IRBuilder()
        at_head.position_at_start(head)  # the accumulator is carried by the inner loop
        acc = at_head.phi(llvm_type(d), name="acc")
        acc.add_incoming(_identity(reduce.op.name, d), pre)
        v, src = element(o, i)[id(reduce.inputs[0])]
        new = _combine(b, reduce.op.name, acc, convert(b, v, src, d), d)
        acc.add_incoming(new, b.block)
        close_inner()
        result = acc
    if d.name == "bool":
        result = b.zext(result, ir.IntType(8))
    b.store(result, b.gep(out_ptr, [o]))
    close_outer()
    b.ret_void()


class CompiledKernels:
    """One LLVM module holding a program's kernels, compiled; ``address(name)`` for ctypes."""

    def __init__(self, kernels: list[Kernel], name: str = "graphc") -> None:
        _init()
        module = ir.Module(name=name)
        module.triple = llvm.get_process_triple()
        for k in kernels:
            emit_kernel(module, k)
        self.llvm_ir = str(module)
        parsed = llvm.parse_assembly(self.llvm_ir)
        parsed.verify()
        tm = target_machine()
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(parsed, pb)
        self.optimized_ir = str(parsed)
        self.engine = llvm.create_mcjit_compiler(parsed, tm)
        self.engine.finalize_object()

    def address(self, name: str) -> int:
        return self.engine.get_function_address(name)
