"""Kernels to PTX for NVIDIA GPUs, through llvmlite's NVPTX target.

The same plan (``kernel.plan``, without the CPU's Rows groups) and the same scalar
emitter (``lower``, ``mathlib``) as the CPU: only the mapping of the iteration space to
threads differs. Every kernel is one or two ``.entry`` functions whose parameters are the
global-memory pointers of the buffers it touches; shapes are compile-time constants.

- map, gather, random, piece kernels: a grid-stride loop over the flat domain, each
  element's multi-index recovered by division (32-bit when the domain allows);
- reduce: one warp per output when at most ``WARP_REDUCE`` elements are reduced, else one
  block of ``BLOCK`` threads: each thread accumulates a strided share, the warp combines
  with butterfly shuffles, warps through shared memory;
- matmul: ``TILE`` x ``TILE`` tiles of C per block of 16 x 16 threads, each thread 4 x 4
  outputs; A and B go through shared memory ``TK`` deep; the epilogue is applied to
  the accumulators before the one store;
- scatter_add: one entry copies the base, a second adds with atomics (float sums are
  then in no fixed order, as PyTorch's CUDA ``index_add_``).

Transcendentals are mathlib's polynomials, as on the CPU (sin and cos too, which the CPU
takes from libm), so CPU and GPU agree to ``mathlib.ACCURACY``.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import llvmlite.binding as llvm
from llvmlite import ir

from ..ir import dtypes as dt
from ..ir.core import Node
from ..ir.graph import Graph
from ..ir.shapes import numel
from . import mathlib
from .cpu import I32, I64, VOID, KernelEmitter, Loops, _combine, _entry_alloca, _identity, const
from .kernel import Kernel, Plan, contiguous_strides, plan
from .lower import LOWERINGS, Emitter, _operands_as, _polynomial, convert, llvm_type
from .mathlib import call_intrinsic

TRIPLE = "nvptx64-nvidia-cuda"
ARCHS = ("sm_80", "sm_90")
BLOCK = 256             # threads per block
MAX_BLOCKS = 1 << 15    # grid-stride loops cover the rest
WARP = 32
WARP_REDUCE = 64        # reductions of at most this many elements use one warp per output
TILE, TK = 64, 16       # matmul: C tile per block, k depth of a shared-memory stage
GLOBAL = 1              # NVPTX address spaces
SHARED = 3


@dataclass(frozen=True)
class Launch:
    """One kernel launch: entry ``name`` over ``grid`` x ``block`` threads, its parameters
    the addresses of buffers ``slots``, in order."""

    name: str
    grid: tuple
    block: tuple
    slots: tuple


def target_arch() -> str:
    """``GRAPHC_CUDA_ARCH``, else the first GPU's (when a driver is there), else sm_80."""
    env = os.environ.get("GRAPHC_CUDA_ARCH", "").strip()
    if env:
        return env
    try:
        from ..runtime import cuda
        return cuda.target_arch()
    except Exception:  # no driver binding or no device: PTX for the oldest supported arch
        return ARCHS[0]


@functools.cache
def _init() -> None:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()


# ---------------------------------------------------------------- GPU scalar helpers

def _sreg(b: ir.IRBuilder, name: str):
    """A special register (``tid.x``, ``ctaid.x``, ``ntid.x``, ``nctaid.x``...) as i32."""
    full = f"llvm.nvvm.read.ptx.sreg.{name}"
    fn = b.module.globals.get(full) or ir.Function(b.module, ir.FunctionType(I32, []), full)
    return b.call(fn, [])


def _barrier(b: ir.IRBuilder) -> None:
    fn = b.module.globals.get("llvm.nvvm.barrier0") or ir.Function(
        b.module, ir.FunctionType(VOID, []), "llvm.nvvm.barrier0")
    b.call(fn, [])


def _shuffle_xor(b: ir.IRBuilder, v, lanes: int):
    """``v`` from the lane whose id differs in bits ``lanes`` (every lane of the warp
    active). Values wider than 32 bits go as two halves, narrower ones widened."""
    t = v.type
    if isinstance(t, ir.DoubleType) or t == I64:
        bits = b.bitcast(v, I64) if isinstance(t, ir.DoubleType) else v
        lo = _shuffle_xor(b, b.trunc(bits, I32), lanes)
        hi = _shuffle_xor(b, b.trunc(b.lshr(bits, const(32)), I32), lanes)
        joined = b.or_(b.zext(lo, I64), b.shl(b.zext(hi, I64), const(32)))
        return b.bitcast(joined, t) if isinstance(t, ir.DoubleType) else joined
    if isinstance(t, ir.IntType) and t.width < 32:
        return b.trunc(_shuffle_xor(b, b.zext(v, I32), lanes), t)
    suffix = "f32" if isinstance(t, ir.FloatType) else "i32"
    full = f"llvm.nvvm.shfl.sync.bfly.{suffix}"
    fn = b.module.globals.get(full) or ir.Function(
        b.module, ir.FunctionType(t, [I32, t, I32, I32]), full)
    return b.call(fn, [ir.Constant(I32, -1), v, ir.Constant(I32, lanes), ir.Constant(I32, 31)])


def _warp_combine(b: ir.IRBuilder, op: str, v, d: dt.DType):
    """The warp's combined value, in every lane."""
    for lanes in (16, 8, 4, 2, 1):
        v = _combine(b, op, v, _shuffle_xor(b, v, lanes), d)
    return v


def _shared(module: ir.Module, name: str, t: ir.Type, count: int) -> ir.GlobalVariable:
    g = ir.GlobalVariable(module, ir.ArrayType(t, count), name, addrspace=SHARED)
    g.linkage = "internal"
    g.align = 16
    return g


def _decompose(b: ir.IRBuilder, i, sizes: tuple) -> list:
    """The multi-index (i64 per dim) of flat index ``i`` in row-major ``sizes``."""
    idx = []
    for d in reversed(sizes[1:]):
        c = ir.Constant(i.type, d)
        idx.append(b.urem(i, c))
        i = b.udiv(i, c)
    idx.append(i)
    return [x if x.type == I64 else b.zext(x, I64) for x in reversed(idx)]


def _narrow(b: ir.IRBuilder, i, n: int):
    """``i`` (< ``n``) as i32 where that holds it: 32-bit division is much cheaper."""
    return b.trunc(i, I32) if i.type == I64 and n < 1 << 31 else i


def _pow(e: Emitter, node: Node, ops: list):
    """x ** y as exp(y log|x|) with numpy's special cases (no libm on the GPU); float32
    computes in float64, so it stays within 1 ulp."""
    b, d = e.b, node.dtype
    x, y = _operands_as(e, node.inputs, ops, d)
    wide = ir.DoubleType()
    xw, yw = (b.fpext(v, wide) if d is dt.float32 else v for v in (x, y))
    t = xw.type
    ax = call_intrinsic(b, "llvm.fabs", xw)
    r = mathlib.exp(b, e.module, b.fmul(yw, mathlib.log(b, e.module, ax)))
    half = b.fmul(yw, ir.Constant(t, 0.5))
    integer = b.fcmp_ordered("==", call_intrinsic(b, "llvm.floor", yw), yw)
    odd = b.and_(integer, b.fcmp_unordered("!=", call_intrinsic(b, "llvm.floor", half), half))
    negative = b.icmp_signed("<", b.bitcast(xw, I64), const(0))  # -0.0 too
    r = b.select(b.and_(negative, odd), b.fneg(r), r)
    one = ir.Constant(t, 1.0)
    r = b.select(b.and_(b.fcmp_ordered("<", xw, ir.Constant(t, 0.0)), b.not_(integer)),
                 ir.Constant(t, float("nan")), r)
    unit = b.or_(b.fcmp_ordered("==", yw, ir.Constant(t, 0.0)), b.fcmp_ordered("==", xw, one))
    unit = b.or_(unit, b.and_(b.fcmp_ordered("==", ax, one),
                              b.fcmp_ordered("==", call_intrinsic(b, "llvm.fabs", yw),
                                             ir.Constant(t, float("inf")))))
    r = b.select(unit, one, r)
    return b.fptrunc(r, llvm_type(d)) if d is dt.float32 else r


GPU_LOWERINGS = {**LOWERINGS, "sin": _polynomial("sin"), "cos": _polynomial("cos"),
                 "pow": _pow}


# ---------------------------------------------------------------- one kernel

class GpuKernelEmitter(KernelEmitter):
    """Emits one kernel's entry (or entries) and records how to launch them."""

    LOWERINGS = GPU_LOWERINGS

    def __init__(self, module: ir.Module, plan: Plan, k: Kernel) -> None:
        super().__init__(module, plan, k)
        self.launches: list[Launch] = []

    def emit(self) -> list[Launch]:
        k = self.k
        if k.kind == "scatter_add":
            self.scatter_add()
            return self.launches
        self.function(k.name)
        {"matmul": self.matmul, "piece": self.pieces, "gather": self.gather,
         "random": self.random}.get(k.kind, self.elementwise)()
        self.b.ret_void()
        return self.launches

    def function(self, name: str) -> ir.Function:
        """Start entry ``name(T addrspace(1)* buffers...)``; ``launch`` sets its grid."""
        args = [self.types[s].as_pointer(GLOBAL) for s in self.slots]
        fn = ir.Function(self.module, ir.FunctionType(VOID, args), name=name)
        fn.calling_convention = "ptx_kernel"
        for a in fn.args:
            a.add_attribute("noalias")
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.ptr = dict(zip(self.slots, fn.args))
        self.name = name
        return fn

    def launch(self, grid: tuple, block: tuple) -> None:
        self.launches.append(Launch(self.name, grid, block, tuple(self.slots)))

    def points(self, domain: tuple) -> list:
        """A grid-stride loop over the flat ``domain``; the multi-index of its element."""
        b, n = self.b, numel(domain)
        self.launch((max(1, min(-(-n // BLOCK), MAX_BLOCKS)), 1, 1), (BLOCK, 1, 1))
        t = I32 if n < 1 << 30 else I64  # (i + step stays below 2^31)
        first = b.add(b.mul(_sreg(b, "ctaid.x"), _sreg(b, "ntid.x")), _sreg(b, "tid.x"))
        step = b.mul(_sreg(b, "nctaid.x"), _sreg(b, "ntid.x"))
        if t is I64:
            first, step = b.zext(first, I64), b.zext(step, I64)
        self.loops = Loops(b)
        i = self.loops.open(first, ir.Constant(t, n), "i", step)
        return _decompose(b, i, domain) if domain else []

    def end_points(self, domain: tuple) -> None:
        self.loops.close()

    # -- reductions

    def reduction(self, dims: list, strides: dict) -> None:
        """Groups of threads (a warp, or a block for long reductions) per output element;
        a group walks the outputs grid-stride, always together (its barriers need that)."""
        k, b = self.k, self.b
        kept = [i for i, (_, r) in enumerate(dims) if not r]
        red = [i for i, (_, r) in enumerate(dims) if r]
        outs = numel(tuple(dims[i][0] for i in kept))
        size = numel(tuple(dims[i][0] for i in red))
        group = WARP if size <= WARP_REDUCE else BLOCK
        per_block = BLOCK // group
        self.launch((max(1, min(-(-outs // per_block), MAX_BLOCKS)), 1, 1), (BLOCK, 1, 1))
        d, op = k.root.dtype, k.root.op.name
        t = llvm_type(d)
        tid = _sreg(b, "tid.x")
        lane = b.zext(b.urem(tid, ir.Constant(I32, group)), I64)
        first = b.add(b.mul(b.zext(_sreg(b, "ctaid.x"), I64), const(per_block)),
                      b.zext(b.udiv(tid, ir.Constant(I32, group)), I64))
        step = b.mul(b.zext(_sreg(b, "nctaid.x"), I64), const(per_block))
        acc = _entry_alloca(b, t)
        loops = Loops(b)
        o = loops.open(first, const(outs), "o", step)
        at = dict(zip(kept, _decompose(b, _narrow(b, o, outs), tuple(dims[i][0] for i in kept))))
        b.store(_identity(op, d), acc)
        r = loops.open(lane, const(size), "r", const(group))
        idx = {**at, **dict(zip(red, _decompose(b, _narrow(b, r, size),
                                                   tuple(dims[i][0] for i in red))))}
        v, vd = self.evaluate(self.point(strides, idx)[0])[id(k.value)]
        b.store(_combine(b, op, b.load(acc), convert(b, v, vd, d), d), acc)
        loops.close()
        total = _warp_combine(b, op, b.load(acc), d)
        if group > WARP:  # warps meet in shared memory
            warps = BLOCK // WARP
            smem = _shared(self.module, f"{k.name}_warps", t, warps)
            warp_lane = b.urem(tid, ir.Constant(I32, WARP))
            with b.if_then(b.icmp_unsigned("==", warp_lane, ir.Constant(I32, 0))):
                b.store(total, b.gep(smem, [ir.Constant(I32, 0),
                                            b.udiv(tid, ir.Constant(I32, WARP))]))
            _barrier(b)
            mine = b.load(b.gep(smem, [ir.Constant(I32, 0),
                                       b.urem(warp_lane, ir.Constant(I32, warps))]))
            mine = b.select(b.icmp_unsigned("<", warp_lane, ir.Constant(I32, warps)), mine,
                            _identity(op, d))
            total = _warp_combine(b, op, mine, d)
            _barrier(b)  # everyone has read before the next output's warps write
        with b.if_then(b.icmp_unsigned("==", lane, const(0))):
            self.store(self.point(strides, at)[1], total, d)
        loops.close()

    # -- matmul

    def matmul(self) -> None:
        """C tiles through shared memory (see the module doc); edges are zero-filled."""
        from .matmul import _operands, epilogue
        k, b = self.k, self.b
        batch, m, n, kk, d, va, vb, sa, sb, sc, out = _operands(self)
        nb = numel(batch)
        self.launch((max(1, -(-n // TILE)), max(1, -(-m // TILE)), max(1, min(nb, 65535))),
                    (16, 16, 1))  # (an empty product still launches: grids are never 0)
        t = llvm_type(d)
        fl = d.kind == dt.FLOAT
        zero = ir.Constant(t, 0.0 if fl else 0)
        a_s = _shared(self.module, f"{k.name}_a", t, TK * TILE)   # [k][row]
        b_s = _shared(self.module, f"{k.name}_b", t, TK * TILE)   # [k][col]
        tx, ty = (b.zext(_sreg(b, s), I64) for s in ("tid.x", "tid.y"))
        tid = b.add(b.mul(ty, const(16)), tx)
        row0 = b.mul(b.zext(_sreg(b, "ctaid.y"), I64), const(TILE))
        col0 = b.mul(b.zext(_sreg(b, "ctaid.x"), I64), const(TILE))
        accs = [[_entry_alloca(b, t) for _ in range(4)] for _ in range(4)]
        loops = Loops(b)
        z = loops.open(b.zext(_sreg(b, "ctaid.z"), I64), const(nb),
                       "z", b.zext(_sreg(b, "nctaid.z"), I64))
        bidx = _decompose(b, _narrow(b, z, nb), batch) if batch else []
        for row in accs:
            for a in row:
                b.store(zero, a)

        def stage(view, strides, rows, cols, r0, c0, smem, transpose):
            """Copy a rows x cols tile at (r0, c0) of an operand to shared memory."""
            for q in range(rows * cols // (16 * 16)):
                e = b.add(tid, const(q * 256))
                r, c = b.udiv(e, const(cols)), b.urem(e, const(cols))
                gr, gc = b.add(r0, r), b.add(c0, c)
                lim_r, lim_c = (m, kk) if transpose else (kk, n)
                inside = b.and_(b.icmp_signed("<", gr, const(lim_r)),
                                b.icmp_signed("<", gc, const(lim_c)))
                where = self.offset(view.offset, strides, bidx + [gr, gc])
                safe = b.select(inside, where, const(view.offset))
                value = b.select(inside, self.load(view, safe)[0], zero)
                slot = b.add(b.mul(c, const(TILE)), r) if transpose else \
                    b.add(b.mul(r, const(TILE)), c)
                b.store(value, b.gep(smem, [ir.Constant(I32, 0), b.trunc(slot, I32)]))

        p = loops.open(const(0), const(-(-kk // TK)), "kt")
        k0 = b.mul(p, const(TK))
        stage(va, sa, TILE, TK, row0, k0, a_s, True)
        stage(vb, sb, TK, TILE, k0, col0, b_s, False)
        _barrier(b)
        acc = [[b.load(a) for a in row] for row in accs]
        for q in range(TK):
            av = [b.load(b.gep(a_s, [ir.Constant(I32, 0), b.trunc(
                b.add(const(q * TILE), b.add(ty, const(16 * i))), I32)])) for i in range(4)]
            bv = [b.load(b.gep(b_s, [ir.Constant(I32, 0), b.trunc(
                b.add(const(q * TILE), b.add(tx, const(16 * j))), I32)])) for j in range(4)]
            acc = [[_mul_add(b, acc[i][j], av[i], bv[j], fl) for j in range(4)]
                   for i in range(4)]
        for i in range(4):
            for j in range(4):
                b.store(acc[i][j], accs[i][j])
        _barrier(b)
        loops.close()
        for i in range(4):
            for j in range(4):
                r, c = b.add(row0, b.add(ty, const(16 * i))), b.add(col0, b.add(tx, const(16 * j)))
                inside = b.and_(b.icmp_signed("<", r, const(m)), b.icmp_signed("<", c, const(n)))
                with b.if_then(inside):  # the epilogue on the register, then one store
                    epilogue(self, bidx + [r, c], self.offset(0, sc, bidx + [r, c]),
                             b.load(accs[i][j]))
        loops.close()

    # -- scatter_add

    def scatter_add(self) -> None:
        """``<name>_base`` copies the base into the output; ``<name>`` then adds every
        source element at its index, atomically."""
        k = self.k
        base, index, src = k.root.inputs
        self.function(f"{k.name}_base")
        idx = self.points(k.domain)
        vb = k.reads[id(base)]
        self.store(self.offset(0, contiguous_strides(k.domain), idx),
                   *self.load(vb, self.offset(vb.offset, vb.broadcast_strides(k.domain), idx)))
        self.end_points(k.domain)
        self.b.ret_void()
        self.function(k.name)
        b = self.b
        idx = self.points(index.shape)
        vs = k.reads[id(src)]
        value = self.load(vs, self.offset(vs.offset, list(vs.strides), idx))[0]
        coords = self._indexed(base, index, idx)
        if numel(base.shape):
            at = b.gep(self.ptr[k.out.slot], [self.offset(0, contiguous_strides(k.domain),
                                                           coords)])
            b.atomic_rmw("fadd" if k.root.dtype.kind == dt.FLOAT else "add", at, value,
                         "monotonic")
        self.end_points(index.shape)
        b.ret_void()


def _mul_add(b: ir.IRBuilder, acc, x, y, fl: bool):
    if fl:
        return b.fadd(acc, b.fmul(x, y, flags=("contract",)), flags=("contract",))
    return b.add(acc, b.mul(x, y))


# ---------------------------------------------------------------- programs

class PtxProgram:
    """A graph planned for the GPU and lowered to PTX text; needs no GPU.

    ``steps`` are, in order, lists of launches (one kernel) or nodes the host's numpy
    interpreter runs between them. ``compile_fn`` (default ``compile_ptx``) turns the
    LLVM IR into PTX: the runtime passes one that keeps results in its disk cache.
    """

    def __init__(self, graph: Graph, arch: str | None = None, compile_fn=None) -> None:
        self.graph = graph
        self.arch = arch or target_arch()
        self.plan = p = plan(graph, rows=False)
        _init()
        module = ir.Module(name=graph.name)
        module.triple = TRIPLE
        self.steps: list = []
        for step in p.steps:
            if isinstance(step, Kernel):
                self.steps.append(GpuKernelEmitter(module, p, step).emit())
            else:
                self.steps.append(step)
        self.llvm_ir = str(module)
        self.ptx = (compile_fn or compile_ptx)(self.llvm_ir, self.arch, graph.name)

    def describe(self) -> str:
        lines = [f"program {self.graph.name} for {self.arch}: "
                 f"{sum(isinstance(s, list) for s in self.steps)} kernels, "
                 f"arena {self.plan.arena_bytes} bytes"]
        for s in self.steps:
            if isinstance(s, list):
                lines += [f"  launch {x.name} grid {x.grid} block {x.block} buffers "
                          f"{list(x.slots)}" for x in s]
            else:
                lines.append(f"  interpret {s.op.name} {s.dtype.short}{list(s.shape)} on the host")
        return "\n".join(lines)


def compile_ptx(llvm_ir: str, arch: str, name: str) -> str:
    """Optimize an nvptx64 module at O3 and emit its PTX for ``arch``."""
    _init()
    tm = llvm.Target.from_triple(TRIPLE).create_target_machine(cpu=arch, opt=3)
    try:
        mod = llvm.parse_assembly(llvm_ir)
        mod.data_layout = str(tm.target_data)
        mod.verify()
    except RuntimeError as e:
        from ..runtime.cpu import _dump_bad_ir
        path = _dump_bad_ir(llvm_ir, name)
        raise RuntimeError(f"LLVM rejected the generated GPU IR ({path}): {e}") from None
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = False
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return tm.emit_assembly(mod)

