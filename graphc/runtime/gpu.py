"""Runs a compiled program on a CUDA GPU.

The program's PTX (``codegen.ptx``) is made when it is traced, with no GPU needed, so
``.lower(...).ir("ptx")`` works anywhere; the module is loaded through the driver
(``runtime.cuda``) at the first call. A call launches the kernels in order on the
default stream: the arena (one allocation per program, planned by liveness like the
CPU's) is reused by every call, so calls from several threads take turns (a lock);
outputs are fresh device arrays. Nodes the kernels do not
cover run in numpy on the host between launches, their operands copied over and back.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from ..codegen.kernel import View, check_memory
from ..codegen.ptx import TRIPLE, PtxProgram, compile_ptx
from ..ir.core import Node
from ..ir.graph import Graph
from ..ir.reference import run_op
from ..ir.shapes import numel
from . import cache


def cached_ptx(llvm_ir: str, arch: str, name: str) -> str:
    """``compile_ptx`` through the disk cache (``GRAPHC_CACHE_DIR``): eager CUDA ops compile
    one small program per signature, so a second run of a script compiles none."""
    k = cache.key(f"{llvm_ir}\0{TRIPLE}\0{arch}")
    hit = cache.load(k)
    if hit is not None:
        return hit.decode()
    ptx = compile_ptx(llvm_ir, arch, name)
    cache.store(k, ptx.encode(), "; the PTX is the cached payload")
    return ptx


class GpuProgram:
    """The GPU counterpart of ``runtime.cpu.NativeProgram``: ``run(inputs) -> outputs``."""

    simple = False
    compiled = None

    def __init__(self, graph: Graph, arch: str | None = None) -> None:
        self.graph = graph
        self.code = PtxProgram(graph, arch, cached_ptx)
        self.plan = p = self.code.plan
        self.ptx = self.code.ptx
        self.llvm_ir = self.code.llvm_ir
        self.input_slots, self.out_specs = p.call_slots()
        self.loaded = False
        self.lock = threading.Lock()  # one arena: one call at a time

    def describe(self) -> str:
        return self.code.describe()

    def bind(self, index: int, x) -> bool:
        return False  # every input is passed at each call

    def _load(self) -> None:
        """Load the module, allocate the arena and upload the constants: once."""
        from . import cuda
        module = cuda.load_module(self.ptx)
        self.functions = {x.name: module.function(x.name)
                          for s in self.code.steps if isinstance(s, list) for x in s}
        p = self.plan
        check_memory(p)
        self.arena = cuda.allocate(p.arena_bytes) if p.arena_bytes else None
        self.arrays: list = [None] * len(p.buffers)
        for b in p.buffers:
            if b.kind == "arena":
                self.arrays[b.slot] = cuda.DeviceArray(
                    self.arena, b.shape, b.dtype.np, offset=b.offset // b.dtype.itemsize) \
                    if b.nbytes else cuda.DeviceArray.empty(b.shape, b.dtype.np)
            elif b.kind == "const":
                self.arrays[b.slot] = cuda.DeviceArray.from_numpy(b.value)
        self.errors = self.arrays[p.error_slot] if p.error_slot is not None else None
        self.loaded = True

    def run(self, inputs: list) -> list:
        with self.lock:
            return self._run(inputs)

    def _run(self, inputs: list) -> list:
        from . import cuda
        if not self.loaded:
            self._load()
        arrays = self.arrays
        for slot, x in zip(self.input_slots, inputs):
            if slot >= 0:
                arrays[slot] = x if isinstance(x, cuda.DeviceArray) else \
                    cuda.DeviceArray.from_numpy(x)
        for slot, shape, dtype in self.out_specs:
            arrays[slot] = cuda.DeviceArray.empty(shape, dtype)
        for step in self.code.steps:
            if type(step) is Node:
                self._interpret(step)
                continue
            for launch in step:
                params = [ctypes.c_uint64(arrays[s].ptr) for s in launch.slots]
                cuda.launch(self.functions[launch.name], launch.grid, launch.block, params)
        if self.errors is not None:
            bad = self.errors.to_numpy()
            if bad[0]:
                self.errors.copy_from(cuda.DeviceArray.from_numpy(np.zeros(2, np.int64)))
                from .cpu import raise_check_error
                raise_check_error(self.plan, bad)
        results = []
        for kind, v in self.plan.outputs:
            if kind == "own":
                results.append(arrays[v.slot])
            elif kind == "copy":
                results.append(self._copy(v))
            else:
                results.append(v)
        return results

    def array(self, v: View):
        """View ``v`` of its buffer as a device array (sharing memory)."""
        base = self.arrays[v.slot]
        return base.view(v.shape, v.strides, base.offset + v.offset)

    def _copy(self, v: View):
        """A fresh device array holding view ``v`` (outputs never alias the arena)."""
        from . import cuda
        src = self.array(v)
        if src.is_contiguous:
            out = cuda.DeviceArray.empty(v.shape, src.dtype)
            if numel(v.shape):
                out.copy_from(src)
            return out
        return cuda.DeviceArray.from_numpy(src.to_numpy())

    def _interpret(self, n: Node) -> None:
        from . import cuda
        loc = self.plan.loc
        vals = [self.array(loc[id(x)]).to_numpy() if type(x) is Node else x for x in n.inputs]
        r = np.asarray(run_op(n.op, n.attrs, vals, n.dtype))
        self.arrays[loc[id(n)].slot] = cuda.DeviceArray.from_numpy(r)
