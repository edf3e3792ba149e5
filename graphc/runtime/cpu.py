"""Runs a compiled program on the CPU.

A program is its plan (``codegen.kernel``): a pointer table with one slot per buffer,
an arena allocated once per program for the intermediates, and steps: segments of
kernels, each one native entry point called through ctypes (the GIL released), and
the nodes that still run in the numpy interpreter between them. A program made only
of kernels is one foreign call.

A program's arena is reused by every call: calls of one compiled program from several
Python threads at once are not supported.
"""
from __future__ import annotations

import ctypes
import os

import llvmlite.binding as llvm
import numpy as np

from ..codegen.cpu import build_module, target_machine
from ..codegen.kernel import ALIGN, Kernel, View, plan
from ..ir.core import Node
from ..ir.graph import Graph
from ..ir.reference import run_op
from ..ir.shapes import numel
from . import cache

SEGMENT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)
_threads = [0]


def set_num_threads(n: int) -> None:
    """How many threads large kernels use (default: ``GRAPHC_NUM_THREADS`` or all cores)."""
    if int(n) < 1:
        raise ValueError(f"set_num_threads(): expected a positive number, got {n}")
    _threads[0] = int(n)


def get_num_threads() -> int:
    if not _threads[0]:
        env = os.environ.get("GRAPHC_NUM_THREADS", "")
        _threads[0] = int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)
    return _threads[0]


class CompiledModule:
    """An LLVM module optimized at O3 for the host and JIT-compiled (or its object code
    loaded from the disk cache); ``address(name)`` gives a function for ctypes."""

    def __init__(self, module, name: str) -> None:
        self.llvm_ir = str(module)
        parsed = llvm.parse_assembly(self.llvm_ir)
        parsed.verify()
        tm = target_machine()
        self.key = cache.key(self.llvm_ir, tm)
        obj = cache.load(self.key)
        self.from_cache = obj is not None
        if obj is None:
            pto = llvm.create_pipeline_tuning_options(speed_level=3)
            pto.loop_vectorization = True
            pto.slp_vectorization = True
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(parsed, pb)
            self.optimized_ir = str(parsed)
        else:
            self.optimized_ir = cache.load_text(self.key)
        self.engine = llvm.create_mcjit_compiler(parsed, tm)
        if obj is not None:
            self.engine.set_object_cache(getbuffer_func=lambda m: obj)
        else:
            self.engine.set_object_cache(notify_func=lambda m, data: cache.store(
                self.key, data, self.optimized_ir))
        self.engine.finalize_object()

    def address(self, name: str) -> int:
        return self.engine.get_function_address(name)


class NativeProgram:
    """A graph planned, compiled to native code once, and run by ``run(inputs)``."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.plan = p = plan(graph)
        segments: list[list[Kernel]] = []
        self.steps: list = []
        for step in p.steps:
            if isinstance(step, Kernel):
                if not self.steps or not isinstance(self.steps[-1], int):
                    segments.append([])
                    self.steps.append(len(segments) - 1)
                segments[-1].append(step)
            else:
                self.steps.append(step)
        self.segments = segments
        self.compiled = None
        if segments:
            self.compiled = CompiledModule(build_module(p, segments, graph.name), graph.name)
            calls = [SEGMENT(self.compiled.address(f"segment{i}")) for i in range(len(segments))]
            self.steps = [calls[s] if isinstance(s, int) else s for s in self.steps]
        self.slots = np.zeros(max(1, len(p.buffers)), dtype=np.uint64)
        self.slots_ptr = self.slots.ctypes.data
        self.arena = np.empty(p.arena_bytes + ALIGN, dtype=np.uint8)
        base = -self.arena.ctypes.data % ALIGN
        self.arrays: list = [None] * len(p.buffers)
        for b in p.buffers:
            if b.kind in ("arena", "scratch"):
                raw = self.arena[base + b.offset: base + b.offset + b.nbytes]
                self.arrays[b.slot] = raw.view(b.dtype.np).reshape(b.shape)
                self.slots[b.slot] = self.arena.ctypes.data + base + b.offset
            elif b.kind == "const":
                self.arrays[b.slot] = b.value
                self.slots[b.slot] = b.value.ctypes.data
        self.inputs = [(b.slot, b.dtype.np) for b in p.buffers if b.kind == "input"]
        self.outputs = [(b.slot, b.shape, b.dtype.np) for b in p.buffers if b.kind == "output"]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """The graph's outputs for ``inputs`` (in graph input order): fresh arrays, never
        aliasing an input or each other."""
        arrays, slots = self.arrays, self.slots
        for (slot, _), x in zip(self.inputs, inputs):
            x = np.ascontiguousarray(x)
            arrays[slot] = x
            slots[slot] = x.ctypes.data
        for slot, shape, dtype in self.outputs:
            out = arrays[slot] = np.empty(shape, dtype)
            slots[slot] = out.ctypes.data
        threads = _threads[0] or get_num_threads()
        for step in self.steps:
            if type(step) is Node:
                self._interpret(step)
            else:
                step(self.slots_ptr, threads)
        results = []
        for kind, v in self.plan.outputs:
            if kind == "own":
                results.append(arrays[v.slot])
            elif kind == "copy":
                results.append(np.array(self.array(v), copy=True))
            else:
                results.append(v)
        return results

    def array(self, v: View) -> np.ndarray:
        """View ``v`` as a numpy array over its buffer's memory."""
        base = self.arrays[v.slot]
        if numel(v.shape) == 0:
            return np.empty(v.shape, base.dtype)
        flat = base.reshape(-1)[v.offset:]
        item = base.itemsize
        return np.lib.stride_tricks.as_strided(flat, v.shape, [s * item for s in v.strides])

    def _interpret(self, n: Node) -> None:
        loc = self.plan.loc
        vals = [self.array(loc[id(x)]) if type(x) is Node else x for x in n.inputs]
        r = np.ascontiguousarray(run_op(n.op, n.attrs, vals, n.dtype))
        if not r.flags.owndata:
            r = r.copy()  # never alias a buffer the arena reuses
        slot = loc[id(n)].slot
        self.arrays[slot] = r
        self.slots[slot] = r.ctypes.data

    def describe(self) -> str:
        """The ``kernels`` stage: buffers, then each step (kernels with what they fuse)."""
        p = self.plan
        n_k = sum(len(s) for s in self.segments)
        lines = [f"program {self.graph.name}: {n_k} kernels in {len(self.segments)} native "
                 f"segment(s), {len(p.steps) - n_k} interpreted nodes, arena "
                 f"{p.arena_bytes} bytes"]
        for b in p.buffers:
            where = f" @{b.offset}" if b.kind in ("arena", "scratch") else ""
            lines.append(f"  buffer {b.slot}: {b.kind}{where} {b.dtype.short}{list(b.shape)}")
        for s in p.steps:
            if isinstance(s, Kernel):
                ops = " -> ".join(m.op.name for m in s.nodes) or "copy"
                if s.kind == "reduce":
                    ops = f"{ops if s.nodes else 'load'} -> {s.root.op.name} axes={s.reduced}"
                if s.matmul is not None:
                    ops = "matmul" + (f" -> {ops}" if s.nodes else "")
                reads = ", ".join(f"{_view(v)}" for v in s.reads.values())
                lines.append(f"  kernel {s.name} {s.kind} {list(s.domain)} -> buffer "
                             f"{s.out.slot}: {ops}; reads {reads}")
            else:
                lines.append(f"  interpret {s.op.name} {s.dtype.short}{list(s.shape)}")
        return "\n".join(lines)


def _view(v: View) -> str:
    if v.contiguous and v.offset == 0:
        return f"%{v.slot}"
    return f"%{v.slot}[{list(v.shape)} strides {list(v.strides)} +{v.offset}]"
