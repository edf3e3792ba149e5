"""Runs a compiled program on the CPU.

A program is its plan (``codegen.kernel``): a pointer table with one slot per buffer,
an arena allocated once per program for the intermediates, and steps: segments of
kernels, each one native entry point called through ctypes (the GIL released), and
the nodes that still run in the numpy interpreter between them. A program made only
of kernels is one foreign call.

What a call writes (the arena, the pointer table, the error buffer) is a :class:`Frame`
taken from the program's pool and given back after the call, so calls of one program
from several Python threads at once each get their own; a single thread reuses one.
"""
from __future__ import annotations

import ctypes
import os

import llvmlite.binding as llvm
import numpy as np

from ..codegen.cpu import build_module, target_machine
from ..codegen.kernel import ALIGN, Kernel, Rows, View, check_memory, plan
from ..ir.core import Node
from ..ir.graph import Graph
from ..ir.reference import run_op
from ..ir.shapes import numel
from . import cache

SEGMENT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)
_threads = [0]


def _data_offset() -> int | None:
    """Where an ndarray object keeps its data pointer: numpy's C struct puts it right after
    the object header. Checked here on real arrays; None: ask ``.ctypes.data`` instead."""
    try:
        probes = [np.empty(n, np.uint8) for n in (1, 17, 4096)]
        off = object.__sizeof__(object())  # the object header: 16 bytes on CPython
        ok = all(ctypes.c_void_p.from_address(id(a) + off).value == a.ctypes.data
                 for a in probes)
        return off if ok else None
    except Exception:  # an unusual Python: the slow, portable way
        return None


_OFFSET = _data_offset()


def address(a: np.ndarray) -> int:
    """The address of ``a``'s first element."""
    if _OFFSET is None:
        return a.ctypes.data
    return ctypes.c_void_p.from_address(id(a) + _OFFSET).value or 0


def bounds_checked() -> bool:
    """GRAPHC_CHECK=1: programs compiled from now on check every load and store against
    the bounds of its buffer and raise IndexError instead of touching memory outside it."""
    return os.environ.get("GRAPHC_CHECK", "") not in ("", "0")


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
        try:
            parsed = llvm.parse_assembly(self.llvm_ir)
            parsed.verify()
        except RuntimeError as e:  # graphc wrote bad IR: keep it where a bug report can
            path = _dump_bad_ir(self.llvm_ir, name)
            raise RuntimeError(f"LLVM rejected the generated IR ({path}): {e}") from None
        tm = target_machine()
        self.key = cache.key(self.llvm_ir)
        obj = cache.load(self.key)
        self.from_cache = obj is not None
        if obj is None:
            pto = llvm.create_pipeline_tuning_options(speed_level=3)
            pto.loop_vectorization = True
            pto.slp_vectorization = True
            pto.loop_unrolling = False  # full unrolls of small constant loops made
            # training steps 5x slower to compile and no faster to run (loops still vectorize)
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(parsed, pb)
            self.optimized_ir = str(parsed)
        else:
            self.optimized_ir = cache.load_text(self.key)
        self.engine = llvm.create_mcjit_compiler(parsed, tm)
        made: list[bytes] = []  # (the callbacks hold no reference to self: no cycle keeps
        if obj is not None:     # the engine and its native code alive after the program)
            self.engine.set_object_cache(getbuffer_func=lambda m: obj)
        else:
            self.engine.set_object_cache(notify_func=lambda m, data: made.append(data))
        self.engine.finalize_object()
        if made:  # stored here, not in LLVM's callback, where an error could not propagate
            cache.store(self.key, made[0], self.optimized_ir)

    def address(self, name: str) -> int:
        return self.engine.get_function_address(name)


def _dump_bad_ir(text: str, name: str) -> str:
    """Write IR that LLVM rejected to GRAPHC_DUMP_DIR (or a temporary file); its path."""
    import tempfile
    folder = os.environ.get("GRAPHC_DUMP_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{name}.rejected.ll")
        with open(path, "w") as f:
            f.write(text)
        return path
    fd, path = tempfile.mkstemp(prefix=f"graphc-{name}-", suffix=".ll")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class NativeProgram:
    """A graph planned, compiled to native code once, and run by ``run(inputs)``."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.plan = p = plan(graph, checked=bounds_checked())
        segments: list[list[Kernel | Rows]] = []
        steps: list = []
        for step in p.steps:
            if isinstance(step, (Kernel, Rows)):
                if not steps or not isinstance(steps[-1], int):
                    segments.append([])
                    steps.append(len(segments) - 1)
                segments[-1].append(step)
            else:
                steps.append(step)
        self.segments = segments
        self.input_slots, self.out_specs = p.call_slots()
        self.simple = len(steps) == 1 and isinstance(steps[0], int) and \
            all(kind == "own" for kind, _ in p.outputs)
        # what every frame starts from: constants and bound inputs (arena slots per frame)
        self.slots = np.zeros(max(1, len(p.buffers)), dtype=np.uint64)
        check_memory(p)  # before compiling: a program larger than memory raises
        self.arrays: list = [None] * len(p.buffers)
        for b in p.buffers:
            if b.kind == "const":
                self.arrays[b.slot] = b.value
                self.slots[b.slot] = b.value.ctypes.data
        self.free: list[Frame] = []  # frames no call is using (list.pop/append: atomic)
        self.compiled = None
        self.steps = steps
        self.prologue = False
        if segments:
            # segment0 stores the data pointers of the inputs and outputs passed to it
            self.prologue = _OFFSET is not None and isinstance(steps[0], int)
            pro = ([s for s in self.input_slots if s >= 0] + [s for s, _, _ in self.out_specs]
                   if self.prologue else [])
            self.compiled = CompiledModule(build_module(p, segments, graph.name, pro,
                                                       _OFFSET or 0), graph.name)
            calls = []
            for i in range(len(segments)):
                extra = [ctypes.py_object] * len(pro) if i == 0 else []
                proto = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, *extra)
                calls.append(proto(self.compiled.address(f"segment{i}")))
            self.steps = [calls[s] if isinstance(s, int) else s for s in steps]
        self.simple = self.simple and self.prologue

    def bind(self, index: int, x: np.ndarray) -> bool:
        """Read input ``index`` from ``x`` at every later call (its current contents: in-place
        updates are seen). False when it cannot (``x`` is not contiguous, or the entry
        point receives this input at each call): pass it to ``run`` then."""
        slot = self.input_slots[index]
        if self.prologue or not x.flags.c_contiguous or \
                x.dtype != self.plan.buffers[slot].dtype.np:
            return False
        self.arrays[slot] = x
        self.slots[slot] = address(x)
        self.input_slots[index] = -1
        self.free.clear()  # frames made from now on have it
        return True

    def run(self, inputs: list) -> list[np.ndarray]:
        """The graph's outputs for ``inputs`` (in graph input order; None for the bound
        ones): fresh arrays, never aliasing an input or each other."""
        ins = [x if x.flags.c_contiguous else np.ascontiguousarray(x)
               for x in inputs if x is not None]
        outs = [np.empty(shape, dtype) for _, shape, dtype in self.out_specs]
        threads = _threads[0] or get_num_threads()
        try:
            frame = self.free.pop()
        except IndexError:  # the first call, or every frame is in use by another thread
            frame = Frame(self)
        try:
            if self.simple:  # one native call that receives every input and output
                self.steps[0](frame.slots_ptr, threads, *ins, *outs)
                if frame.errors is not None and frame.errors[0]:
                    frame.raise_error()
                return outs
            return self._run_steps(frame, ins, outs, threads)
        finally:
            self.free.append(frame)

    def _run_steps(self, frame: Frame, ins: list, outs: list, threads: int) -> list:
        arrays, slots = frame.arrays, frame.slots
        for slot, x in zip([s for s in self.input_slots if s >= 0], ins):
            arrays[slot] = x
            slots[slot] = address(x)
        for (slot, _, _), out in zip(self.out_specs, outs):
            arrays[slot] = out
            slots[slot] = address(out)
        first = self.prologue
        for step in self.steps:
            if type(step) is Node:
                frame.interpret(step)
            else:
                if first:
                    step(frame.slots_ptr, threads, *ins, *outs)
                    first = False
                else:
                    step(frame.slots_ptr, threads)
                if frame.errors is not None and frame.errors[0]:
                    frame.raise_error()
        results = []
        fixed = frame.fixed_views
        for i, (kind, v) in enumerate(self.plan.outputs):
            if kind == "own":
                results.append(arrays[v.slot])
            elif kind == "copy":
                view = fixed.get(i)
                results.append(np.array(frame.array(v) if view is None else view, copy=True))
            else:
                results.append(v)
        return results

    def describe(self) -> str:
        """The ``kernels`` stage: buffers, then each step (kernels with what they fuse)."""
        p = self.plan
        kernels = [k for seg in self.segments for s in seg
                   for k in (s.kernels if isinstance(s, Rows) else [s])]
        n_k = len(kernels)
        lines = [f"program {self.graph.name}: {n_k} kernels in {len(self.segments)} native "
                 f"segment(s), {len(self.steps) - len(self.segments)} interpreted nodes, "
                 f"arena {p.arena_bytes} bytes"]
        for b in p.buffers:
            where = f" @{b.offset}" if b.kind == "arena" else \
                " (one row per thread, on its stack)" if b.kind == "row" else ""
            lines.append(f"  buffer {b.slot}: {b.kind}{where} {b.dtype.short}{list(b.shape)}")
        for s in p.steps:
            if isinstance(s, Rows):
                lines.append(f"  rows {s.name}: {len(s.kernels)} kernels row by row over dim 0 "
                             f"({s.kernels[0].domain[0]} rows)")
                lines += ["  " + _describe_kernel(k) for k in s.kernels]
            elif isinstance(s, Kernel):
                lines.append(_describe_kernel(s))
            else:
                lines.append(f"  interpret {s.op.name} {s.dtype.short}{list(s.shape)}")
        return "\n".join(lines)


class Frame:
    """What one call of a program writes: its arena, its pointer table (the program's,
    with the arena's addresses), the arrays behind each slot and its error buffer."""

    __slots__ = ("plan", "arena", "slots", "slots_ptr", "arrays", "errors", "fixed_views")

    def __init__(self, program: NativeProgram) -> None:
        p = self.plan = program.plan
        self.arena = np.empty(p.arena_bytes + ALIGN, dtype=np.uint8)
        base = -self.arena.ctypes.data % ALIGN
        self.slots = program.slots.copy()
        self.slots_ptr = self.slots.ctypes.data
        self.arrays = list(program.arrays)
        for b in p.buffers:
            if b.kind == "arena":
                raw = self.arena[base + b.offset: base + b.offset + b.nbytes]
                self.arrays[b.slot] = raw.view(b.dtype.np).reshape(b.shape)
                self.slots[b.slot] = self.arena.ctypes.data + base + b.offset
        self.errors = None
        if p.error_slot is not None:  # kernels write it: each frame has its own
            self.errors = self.arrays[p.error_slot] = np.zeros_like(p.buffers[p.error_slot].value)
            self.slots[p.error_slot] = self.errors.ctypes.data
        # outputs copied out of memory that never moves (the arena, constants): their numpy
        # views are made once per frame, not per call
        self.fixed_views = {i: self.array(v) for i, (kind, v) in enumerate(p.outputs)
                            if kind == "copy" and p.buffers[v.slot].kind in ("arena", "const")}

    def raise_error(self) -> None:
        bad = [int(v) for v in self.errors]
        self.errors[:] = 0
        raise_check_error(self.plan, bad)

    def array(self, v: View) -> np.ndarray:
        """View ``v`` as a numpy array over its buffer's memory."""
        base = self.arrays[v.slot]
        if numel(v.shape) == 0:
            return np.empty(v.shape, base.dtype)
        flat = base.reshape(-1)[v.offset:]
        item = base.itemsize
        return np.lib.stride_tricks.as_strided(flat, v.shape, [s * item for s in v.strides])

    def interpret(self, n: Node) -> None:
        """Run ``n`` in the numpy interpreter; its value becomes its slot's."""
        loc = self.plan.loc
        vals = [self.array(loc[id(x)]) if type(x) is Node else x for x in n.inputs]
        r = np.ascontiguousarray(run_op(n.op, n.attrs, vals, n.dtype))
        if not r.flags.owndata:
            r = r.copy()  # never alias a buffer the arena reuses
        slot = loc[id(n)].slot
        self.arrays[slot] = r
        self.slots[slot] = address(r)


def raise_check_error(p, bad) -> None:
    """A kernel found a bad value (``bad``: the error buffer's check number and value):
    the error eager mode gives for it, and the traced line."""
    from ..ir.errors import format_loc
    number, value = (int(v) for v in bad)
    check = p.checks[number - 1]
    if isinstance(check, Node):
        error, message = check.op.failure(check, value)
    else:  # a BoundsCheck
        error, message = check.failure(value)
        check = check.node
    raise error(f"{message} (traced at {format_loc(check.loc)})")


def _describe_kernel(s: Kernel) -> str:
    ops = " -> ".join(m.op.name for m in s.nodes) or \
        (s.root.op.name if s.kind in ("piece", "gather", "scatter_add", "random") else "copy")
    if s.kind == "reduce":
        ops = f"{ops if s.nodes else 'load'} -> {s.root.op.name} axes={s.reduced}"
    if s.matmul is not None:
        ops = "matmul" + (f" -> {ops}" if s.nodes else "")
    reads = ", ".join(_view(v) for key, v in s.reads.items()
                      if s.matmul is None or key != id(s.matmul))
    return f"  kernel {s.name} {s.kind} {list(s.domain)} -> buffer {s.out.slot}: {ops}; " \
           f"reads {reads}"


def _view(v: View) -> str:
    if v.contiguous and v.offset == 0:
        return f"%{v.slot}"
    return f"%{v.slot}[{list(v.shape)} strides {list(v.strides)} +{v.offset}]"
