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
from .lower import Emitter, llvm_type

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


def _offset(b: ir.IRBuilder, i, shape: tuple, out: tuple):
    """The element offset of input ``shape`` at flat output index ``i``."""
    if tuple(shape) == tuple(out):
        return i
    if numel(shape) == 1:
        return ir.Constant(I64, 0)
    strides = _broadcast_strides(shape, out)
    total, suffix = None, 1
    terms = []
    for d in reversed(range(len(out))):
        if strides[d]:
            coord = b.urem(b.udiv(i, ir.Constant(I64, suffix)), ir.Constant(I64, out[d]))
            terms.append(b.mul(coord, ir.Constant(I64, strides[d])))
        suffix *= out[d]
    for t in terms:
        total = t if total is None else b.add(total, t)
    return total if total is not None else ir.Constant(I64, 0)


def emit_kernel(module: ir.Module, k: Kernel) -> None:
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [I8P] * (1 + len(k.inputs))),
                     name=k.name)
    out_arg, in_args = fn.args[0], fn.args[1:]
    entry, loop, body, done = (fn.append_basic_block(n) for n in
                               ("entry", "loop", "body", "done"))
    b = ir.IRBuilder(entry)
    n = ir.Constant(I64, numel(k.shape))
    ptrs = {id(x): b.bitcast(a, llvm_type(x.dtype, memory=True).as_pointer())
            for x, a in zip(k.inputs, in_args)}
    out_ptr = b.bitcast(out_arg, llvm_type(k.root.dtype, memory=True).as_pointer())
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(I64, name="i")
    i.add_incoming(ir.Constant(I64, 0), entry)
    b.cbranch(b.icmp_unsigned("<", i, n), body, done)
    b.position_at_end(body)
    values: dict[int, tuple] = {}
    for x in k.inputs:
        v = b.load(b.gep(ptrs[id(x)], [_offset(b, i, x.shape, k.shape)]))
        values[id(x)] = (b.trunc(v, ir.IntType(1)) if x.dtype.name == "bool" else v, x.dtype)
    e = Emitter(b, module)
    for m in k.nodes:
        ops = [values[id(x)] if type(x) is Node else (None, None) for x in m.inputs]
        values[id(m)] = (e.emit(m, ops), m.dtype)
    result, d = values[id(k.root)]
    if d.name == "bool":
        result = b.zext(result, ir.IntType(8))
    b.store(result, b.gep(out_ptr, [i]))
    i.add_incoming(b.add(i, ir.Constant(I64, 1)), b.block)
    b.branch(loop)
    b.position_at_end(done)
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
