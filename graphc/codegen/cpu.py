"""Kernels to LLVM IR for the host CPU.

A program's plan (``kernel.plan``) becomes one LLVM module:

- per kernel, ``<name>_body(i64 start, i64 end, T* noalias buffers...)``: a loop nest over
  the kernel's domain (dims coalesced where every operand allows) in which each read is
  ``offset + sum(i_d * stride_d)`` of its buffer: broadcasting, transposes and slices
  are strides, never copies. ``[start, end)`` bounds the parallel dim (the outermost
  dim that is not reduced), so one kernel can run on several threads;
- per kernel, ``<name>(i8** slots, i64 start, i64 end)``, which loads the kernel's
  buffers from the program's pointer table and calls the body (inlined);
- per segment (a run of kernels with no interpreted node between them),
  ``segment<i>(i8** slots, i64 nthreads)``: the native entry point, calling each kernel
  in order, large ones split across ``nthreads`` threads (``graphc_parallel``).

Float sums accumulate with ``reassoc contract`` flags so they vectorize: the order of
additions differs from a sequential loop (pairwise-like, as numpy's), not the result's
accuracy class.
"""
from __future__ import annotations

import functools

import llvmlite.binding as llvm
from llvmlite import ir

from ..ir import dtypes as dt
from ..ir.core import Node
from ..ir.shapes import numel
from .kernel import Kernel, Plan, Rows, View, contiguous_strides
from .lower import LOWERINGS, Emitter, arith, convert, extreme, llvm_type

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
I8P = I8.as_pointer()
SLOTS = I8P.as_pointer()
VOID = ir.VoidType()
KERNEL_FN = ir.FunctionType(VOID, [SLOTS, I64, I64])
MAX_THREADS = 64
PARALLEL_WORK = 1 << 18   # kernels doing fewer element operations run on one thread
FAST = ("reassoc", "contract")


@functools.cache
def _init() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


def target_machine():
    """The host's target machine (its CPU name and features: AVX2, AVX-512 where there is)."""
    _init()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=3, jit=True)


def const(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


# ---------------------------------------------------------------- loops

class Loops:
    """Nested counted loops: ``open(lo, hi)`` returns the index; ``close()`` ends the
    innermost open loop."""

    def __init__(self, b: ir.IRBuilder) -> None:
        self.b = b
        self.stack: list = []

    def open(self, lo, hi, name: str = "i", step=None):
        b = self.b
        fn = b.function
        head, body, end = (fn.append_basic_block(f"{name}_{s}") for s in ("head", "body", "end"))
        before = b.block
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(lo.type, name=name)
        i.add_incoming(lo, before)
        b.cbranch(b.icmp_signed("<", i, hi), body, end)
        b.position_at_end(body)
        self.stack.append((i, head, end, step if step is not None else ir.Constant(i.type, 1)))
        return i

    def close(self) -> None:
        i, head, end, step = self.stack.pop()
        i.add_incoming(self.b.add(i, step), self.b.block)
        self.b.branch(head)
        self.b.position_at_end(end)


def _coalesce(domain: tuple, reduced: tuple, operands: dict,
              rows: bool = False) -> tuple[list, dict]:
    """Drop size-1 dims and merge neighbours that every operand walks contiguously.

    ``operands`` maps a key to its strides over ``domain``; returns [(size, reduced)]
    and the strides per key over the remaining dims. With ``rows``, dim 0 stays whole
    and apart (a Rows group walks it).
    """
    dims = [(d, i in reduced) for i, d in enumerate(domain)]
    keep = [i for i, (d, _) in enumerate(dims) if d != 1 or (rows and i == 0)]
    dims = [dims[i] for i in keep]
    strides = {k: [s[i] for i in keep] for k, s in operands.items()}
    i = len(dims) - 2
    while i >= (1 if rows else 0):
        (d0, r0), (d1, r1) = dims[i], dims[i + 1]
        if r0 == r1 and all(s[i] == s[i + 1] * d1 for s in strides.values()):
            dims[i:i + 2] = [(d0 * d1, r0)]
            for s in strides.values():
                s[i:i + 2] = [s[i + 1]]
        i -= 1
    return dims, strides


# ---------------------------------------------------------------- one kernel

class KernelEmitter:
    """Emits one kernel's body and wrapper into ``module``."""

    LOWERINGS = LOWERINGS  # op name -> rule emitting one element (lower.py)

    def __init__(self, module: ir.Module, plan: Plan, k: Kernel,
                 bodies: dict | None = None) -> None:
        self.module, self.plan, self.k = module, plan, k
        self.bodies = bodies  # body text -> [function, uses]: identical bodies emitted once
        slots = sorted({v.slot for v in k.reads.values()} | {k.out.slot} |
                       ({plan.error_slot} if k.checks or plan.checked else set()))
        self.slots = slots
        self.bounds: dict[tuple, int] = {}  # (slot, access) -> its bounds check's number
        self.scratch: dict[tuple, ir.Value] = {}
        self.types = {s: llvm_type(plan.buffers[s].dtype, memory=True) for s in slots}
        self.par_size = 1

    def function(self, name: str) -> ir.Function:
        """Start function ``name(i64 start, i64 end, T* noalias buffers...)``, the kernel's
        body, and emit into it from now on."""
        args = [I64, I64] + [self.types[s].as_pointer() for s in self.slots]
        fn = ir.Function(self.module, ir.FunctionType(VOID, args), name=name)
        fn.attributes.add("alwaysinline")  # (on the CPU, build_module keeps bodies apart)
        fn.linkage = "internal"
        for a in fn.args[2:]:
            a.add_attribute("noalias")
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.start, self.end = fn.args[:2]
        self.ptr = dict(zip(self.slots, fn.args[2:]))
        return fn

    def points(self, domain: tuple) -> list:
        """Open a loop nest over ``domain`` (dim 0 bounded by [start, end), the parallel
        dim); returns the index per dim. ``end_points`` closes it."""
        self.loops = Loops(self.b)
        self.par_size = domain[0] if domain else 1
        return [self.loops.open(self.start, self.end, "d0") if i == 0 else
                self.loops.open(const(0), const(d), f"d{i}") for i, d in enumerate(domain)]

    def end_points(self, domain: tuple) -> None:
        for _ in domain:
            self.loops.close()

    def emit(self) -> int:
        """Emit the kernel; returns the size of its parallel dim."""
        k = self.k
        self.body = self.function(f"{k.name}_body")
        if k.kind == "matmul":
            from .matmul import emit_matmul
            emit_matmul(self)
        elif k.kind == "piece":
            self.pieces()
        elif k.kind == "gather":
            self.gather()
        elif k.kind == "scatter_add":
            self.scatter_add()
        elif k.kind == "random":
            self.random()
        else:
            self.elementwise()
        self.b.ret_void()
        if self.bodies is not None:
            self.body = share_body(self.module, self.body, self.bodies)
        self._wrapper()
        return self.par_size

    def _wrapper(self) -> None:
        fn = ir.Function(self.module, KERNEL_FN, name=self.k.name)
        fn.linkage = "internal"  # only segment entry points are looked up by name
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        slots, start, end = fn.args
        ptrs = [b.bitcast(b.load(b.gep(slots, [const(s)])), self.types[s].as_pointer())
                for s in self.slots]
        b.call(self.body, [start, end] + ptrs)
        b.ret_void()

    # -- loads and the expression

    def address(self, slot: int, offset, access: str, width: int = 1):
        """The address of element ``offset`` of buffer ``slot`` (``width`` elements from
        there are read or written). Under GRAPHC_CHECK an offset whose elements are not all
        inside the buffer is reported to the error buffer and the address of a scratch
        slot on the stack returned instead: nothing outside the buffer is touched."""
        b = self.b
        ptr = b.gep(self.ptr[slot], [offset])
        if not self.plan.checked:
            return ptr
        buf = self.plan.buffers[slot]
        bad = b.or_(b.icmp_signed("<", offset, const(0)),
                    b.icmp_signed(">", b.add(offset, const(width)), const(numel(buf.shape))))
        number = self.bounds.get((slot, access))
        if number is None:
            from .kernel import BoundsCheck
            self.plan.checks.append(BoundsCheck(self.k.name, access, buf, self.k.root))
            number = self.bounds[(slot, access)] = len(self.plan.checks)
        self._report(number, bad, offset)
        key = (str(ptr.type), width)
        if key not in self.scratch:
            here = b.block
            b.position_at_start(b.function.entry_basic_block)
            cell = b.alloca(ir.ArrayType(ptr.type.pointee, width))
            self.scratch[key] = b.bitcast(cell, ptr.type)
            b.position_at_end(here)
        return b.select(bad, self.scratch[key], ptr)

    def load(self, v: View, offset) -> tuple:
        """The element at ``offset`` of view ``v``'s buffer, as (value, dtype)."""
        d = self.plan.buffers[v.slot].dtype
        x = self.b.load(self.address(v.slot, offset, "read"))
        return (self.b.trunc(x, I1) if d is dt.bool_ else x), d

    def offset(self, base: int, strides: list, idx: list):
        total = const(base)
        for st, i in zip(strides, idx):
            if st:
                total = self.b.add(total, i if st == 1 else self.b.mul(i, const(st)))
        return total

    def evaluate(self, offsets: dict, preset: dict | None = None) -> dict[int, tuple]:
        """Values of the kernel's reads (at their ``offsets``) and inlined nodes."""
        k, values = self.k, dict(preset or {})
        for key, off in offsets.items():
            if key not in values:
                values[key] = self.load(k.reads[key], off)
        e = Emitter(self.b, self.module, self.LOWERINGS, self.fail)
        for m in k.nodes:
            ops = [values[id(x)] if type(x) is Node else (None, None) for x in m.inputs]
            values[id(m)] = (e.emit(m, ops), m.dtype)
        return values

    def fail(self, node: Node, bad, value) -> None:
        """Where ``bad`` (i1) holds, record ``node``'s check and the i64 ``value`` in the
        error buffer: the runtime raises the node's error after the call."""
        self._report(self.k.checks[id(node)], bad, value)

    def _report(self, number: int, bad, value) -> None:
        b = self.b
        with b.if_then(bad, likely=False):
            err = self.ptr[self.plan.error_slot]
            # the first failure is kept, as eager mode raises at the first failing op: a
            # check inlined before a gather (check_range on its index) reports, not the gather
            with b.if_then(b.icmp_signed("==", b.load(err), const(0))):
                b.store(const(number), err)
                b.store(value, b.gep(err, [const(1)]))

    def store(self, offset, value, src: dt.DType) -> None:
        d = self.plan.buffers[self.k.out.slot].dtype
        v = convert(self.b, value, src, d)
        if d is dt.bool_:
            v = self.b.zext(v, I8)
        self.b.store(v, self.address(self.k.out.slot, offset, "write"))

    # -- map and reduce kernels

    def elementwise(self) -> None:
        k = self.k
        domain = k.domain
        out_strides = _out_strides(domain, k.reduced)
        operands = {key: v.broadcast_strides(domain) for key, v in k.reads.items()}
        operands["out"] = out_strides
        if k.rows:  # a Rows group keeps one row of its private intermediates: row 0
            slots = {key: v.slot for key, v in k.reads.items()}
            slots["out"] = k.out.slot
            for key, slot in slots.items():
                if self.plan.buffers[slot].kind == "row":
                    operands[key] = (0,) + tuple(operands[key][1:])
        dims, strides = _coalesce(domain, k.reduced, operands, rows=k.rows)
        if k.kind != "reduce":
            sizes = tuple(size for size, _ in dims)
            offs, out = self.point(strides, dict(enumerate(self.points(sizes))))
            self.store(out, *self.evaluate(offs)[id(k.value)])
            self.end_points(sizes)
        else:
            self.reduction(dims, strides)

    def point(self, strides: dict, idx: dict) -> tuple[dict, object]:
        """The offsets of every read and of the output at index ``idx`` (dim -> index) of
        the coalesced domain whose per-operand strides are ``strides``."""
        k = self.k
        order = sorted(idx)
        at = [idx[i] for i in order]
        offs = {key: self.offset(k.reads[key].offset, [strides[key][i] for i in order], at)
                for key in k.reads}
        return offs, self.offset(0, [strides["out"][i] for i in order], at)

    def reduction(self, dims: list, strides: dict) -> None:
        """A sum or max over the reduced dims of the coalesced domain ``dims``."""
        k, b = self.k, self.b
        kept = [i for i, (_, r) in enumerate(dims) if not r]
        par = kept[0] if kept else None
        self.par_size = dims[par][0] if par is not None else 1
        loops = Loops(b)

        def bounds(i):
            return (self.start, self.end) if i == par else (const(0), const(dims[i][0]))

        d = k.root.dtype
        op = k.root.op.name
        if dims and dims[-1][1]:
            acc = _entry_alloca(b, llvm_type(d))
            idx = {i: loops.open(*bounds(i), f"d{i}") for i in kept}
            b.store(_identity(op, d), acc)
            reduced = [i for i in range(len(dims)) if dims[i][1]]
            idx.update({i: loops.open(*bounds(i), f"r{i}") for i in reduced})
            offs, _ = self.point(strides, idx)
            v, vd = self.evaluate(offs)[id(k.value)]
            b.store(_combine(b, op, b.load(acc), convert(b, v, vd, d), d), acc)
            for _ in reduced:
                loops.close()
            _, out = self.point(strides, {i: idx[i] for i in kept})
            self.store(out, b.load(acc), d)
            for _ in kept:
                loops.close()
            return
        # the innermost dim is kept: accumulate in the output, walking memory in order
        idx = {i: loops.open(*bounds(i), f"z{i}") for i in kept}
        self.store(self.point(strides, idx)[1], _identity(op, d), d)
        for _ in kept:
            loops.close()
        idx = {i: loops.open(*bounds(i), f"d{i}") for i in range(len(dims))}
        offs, out = self.point(strides, idx)
        v, vd = self.evaluate(offs)[id(k.value)]
        at = self.address(k.out.slot, out, "write")
        b.store(_combine(b, op, b.load(at), convert(b, v, vd, d), d, fast=False), at)
        for _ in dims:
            loops.close()

    def gather(self) -> None:
        """out[c] = x[c with c[axis] replaced by index[c]]."""
        k = self.k
        x, index = k.root.inputs
        domain = k.domain
        idx = self.points(domain)
        vx, coords = k.reads[id(x)], self._indexed(x, index, idx)
        out = self.offset(0, contiguous_strides(domain), idx)
        if numel(x.shape) == 0:  # every index is out of bounds: record it, read nothing
            self.store(out, _identity("sum", x.dtype), x.dtype)
        else:
            self.store(out, *self.load(vx, self.offset(vx.offset, list(vx.strides), coords)))
        self.end_points(domain)

    def scatter_add(self) -> None:
        """out = base, then out[c with c[axis] replaced by index[c]] += src[c] for every c
        of index's shape, in order (one thread: two indices may name one element)."""
        k, b = self.k, self.b
        base, index, src = k.root.inputs
        with b.if_then(b.icmp_signed("<", self.start, self.end)):
            loops = Loops(b)
            idx = [loops.open(const(0), const(d), f"c{i}") for i, d in enumerate(k.domain)]
            vb = k.reads[id(base)]
            self.store(self.offset(0, contiguous_strides(k.domain), idx),
                       *self.load(vb, self.offset(vb.offset, vb.broadcast_strides(k.domain),
                                                  idx)))
            for _ in k.domain:
                loops.close()
            idx = [loops.open(const(0), const(d), f"s{i}") for i, d in enumerate(index.shape)]
            vs = k.reads[id(src)]
            value = self.load(vs, self.offset(vs.offset, list(vs.strides), idx))[0]
            coords = self._indexed(base, index, idx)
            if numel(base.shape):  # (an empty base: every index is recorded as bad)
                at = self.address(k.out.slot, self.offset(
                    0, contiguous_strides(k.domain), coords), "write")
                b.store(arith(b, "add", b.load(at), value, k.root.dtype), at)
            for _ in index.shape:
                loops.close()

    def random(self) -> None:
        """Uniform [0, 1) numbers: Philox-4x32-10 of (element number, offset) under seed,
        bit for bit as ``ir/random.py`` (32-bit words held in i64 lanes)."""
        from ..ir import random as R
        k, b = self.k, self.b
        n = k.root

        def scalar(x):
            if type(x) is Node:
                return self.load(k.reads[id(x)], const(k.reads[id(x)].offset))[0]
            return const(int(x) & 0xFFFFFFFFFFFFFFFF)
        seed, offset = (scalar(x) for x in n.inputs)
        mask, s32 = const(R.MASK32), const(32)
        domain = k.domain
        idx = self.points(domain)
        i = self.offset(0, contiguous_strides(domain), idx)
        c = [b.and_(i, mask), b.lshr(i, s32), b.and_(offset, mask), b.lshr(offset, s32)]
        k0, k1 = b.and_(seed, mask), b.lshr(seed, s32)
        for _ in range(R.ROUNDS):
            p0, p1 = b.mul(c[0], const(R.M0)), b.mul(c[2], const(R.M1))
            c = [b.xor(b.xor(b.lshr(p1, s32), c[1]), k0), b.and_(p1, mask),
                 b.xor(b.xor(b.lshr(p0, s32), c[3]), k1), b.and_(p0, mask)]
            k0 = b.and_(b.add(k0, const(R.W0)), mask)
            k1 = b.and_(b.add(k1, const(R.W1)), mask)
        t = llvm_type(n.dtype)
        if n.dtype is dt.float64:
            hi = b.uitofp(b.lshr(c[0], const(5)), t)
            lo = b.uitofp(b.lshr(c[1], const(6)), t)
            u = b.fmul(b.fadd(b.fmul(hi, ir.Constant(t, 67108864.0)), lo),
                       ir.Constant(t, 1.0 / 9007199254740992.0))
        else:
            u = b.fmul(b.uitofp(b.lshr(c[0], const(8)), t), ir.Constant(t, 1.0 / (1 << 24)))
        self.store(i, u, n.dtype)
        self.end_points(domain)

    def _indexed(self, x: Node, index: Node, idx: list) -> list:
        """``idx`` with its ``axis`` coordinate replaced by the index read at ``idx``. An
        index outside the dim is recorded in the error buffer (the runtime raises after the
        call) and 0 used instead, so nothing is read or written out of bounds."""
        b, k = self.b, self.k
        axis = k.root.attrs["axis"]
        vi = k.reads[id(index)]
        i = self.load(vi, self.offset(vi.offset, list(vi.strides), idx))[0]
        size = x.shape[axis] if x.shape else 1
        bad = b.icmp_unsigned(">=", i, const(size))  # negative indices are huge unsigned
        self.fail(k.root, bad, i)
        coords = list(idx)
        if x.shape:
            coords[axis] = b.select(bad, const(0), i)
        return coords

    def pieces(self) -> None:
        """Each output element is the fill value or the element of the input whose box
        holds it; loads are clamped to the input's first element outside its box, so
        they never leave the buffer."""
        k, b = self.k, self.b
        domain = k.domain
        idx = self.points(domain)
        d = k.root.dtype
        from .lower import literal
        result = literal(k.fill, d)
        for key, lo, hi in k.pieces:
            v = k.reads[key]
            if any(a >= z for a, z in zip(lo, hi)):
                continue  # an empty input: never read
            inside = ir.Constant(I1, 1)
            at = const(v.offset)
            for i, st, a, z in zip(idx, v.broadcast_strides(domain), lo, hi):
                inside = b.and_(inside, b.and_(b.icmp_signed(">=", i, const(a)),
                                               b.icmp_signed("<", i, const(z))))
                if st:
                    at = b.add(at, b.mul(b.sub(i, const(a)), const(st)))
            value, src = self.load(v, b.select(inside, at, const(v.offset)))
            result = b.select(inside, convert(b, value, src, d), result)
        self.store(self.offset(0, contiguous_strides(domain), idx), result, d)
        self.end_points(domain)


def share_body(module: ir.Module, fn: ir.Function, bodies: dict) -> ir.Function:
    """``fn``, or the body emitted before whose IR is the same but for its name (an
    unrolled loop's steps, a model's identical layers): ``fn`` is then dropped from the
    module, so LLVM optimizes and compiles that code once. The text is the whole function,
    so two bodies share only when they are the same code."""
    text = str(fn).replace(f'@"{fn.name}"', "@BODY", 1)
    seen = bodies.get(text)
    if seen is None:
        bodies[text] = [fn, 1]
        return fn
    del module.globals[fn.name]
    seen[1] += 1
    return seen[0]


def _compiled_apart(bodies: dict) -> None:
    """Bodies stay functions of their own, called by their wrappers: a shared body is then
    compiled once, and LLVM optimizes many small functions, not one giant segment (the
    inlined training step of an unrolled LSTM was 5x slower to compile; a call per kernel
    costs nothing measurable)."""
    for fn, _ in bodies.values():
        fn.attributes.discard("alwaysinline")
        fn.attributes.add("noinline")


def _out_strides(domain: tuple, reduced: tuple) -> tuple:
    """Strides of a reduction's contiguous output over its input's domain (0 on reduced
    axes), or of a map kernel's output."""
    kept = [d for i, d in enumerate(domain) if i not in reduced]
    it = iter(contiguous_strides(tuple(kept)))
    return tuple(0 if i in reduced else next(it) for i in range(len(domain)))


def _entry_alloca(b: ir.IRBuilder, t: ir.Type):
    """A stack slot in the function's entry block (promoted to a register by LLVM)."""
    here = b.block
    b.position_at_start(b.function.entry_basic_block)
    slot = b.alloca(t)
    b.position_at_end(here)
    return slot


def _combine(b: ir.IRBuilder, op: str, acc, v, d: dt.DType, fast: bool = True):
    """One reduction step: an add (reassociable for floats, so it vectorizes), or a max
    with the value first (a NaN value wins, and stays: NaN compares false afterwards)."""
    if op == "sum":
        if d.kind == dt.FLOAT:
            return b.fadd(acc, v, flags=FAST if fast else ())
        return arith(b, "add", acc, v, d)
    return extreme(b, ">", v, acc, d)


def _identity(op: str, d: dt.DType):
    t = llvm_type(d)
    if op == "sum":
        return ir.Constant(t, 0.0 if d.kind == dt.FLOAT else 0)
    if d.kind == dt.FLOAT:
        return ir.Constant(t, float("-inf"))
    if d is dt.bool_:
        return ir.Constant(t, 0)
    return ir.Constant(t, -(1 << (t.width - 1)) if d.is_signed else 0)


# ---------------------------------------------------------------- threads

def _emit_parallel(module: ir.Module) -> ir.Function:
    """``graphc_parallel(kernel, slots, n, nthreads)``: runs ``kernel`` over [0, n) split
    in ``nthreads`` chunks, chunk 0 on the calling thread and the others on POSIX threads
    started and joined here. A thread that cannot start runs its chunk inline."""
    task = ir.LiteralStructType([KERNEL_FN.as_pointer(), SLOTS, I64, I64])
    tramp_t = ir.FunctionType(I8P, [I8P])
    create = ir.Function(module, ir.FunctionType(I32, [I64.as_pointer(), I8P,
                                                       tramp_t.as_pointer(), I8P]),
                         name="pthread_create")
    join = ir.Function(module, ir.FunctionType(I32, [I64, I8P.as_pointer()]),
                       name="pthread_join")

    tramp = ir.Function(module, tramp_t, name="graphc_trampoline")
    tramp.linkage = "internal"
    b = ir.IRBuilder(tramp.append_basic_block("entry"))
    t = b.bitcast(tramp.args[0], task.as_pointer())
    fields = [b.load(b.gep(t, [ir.Constant(I32, 0), ir.Constant(I32, i)])) for i in range(4)]
    b.call(fields[0], fields[1:])
    b.ret(ir.Constant(I8P, None))

    fn = ir.Function(module, ir.FunctionType(VOID, [KERNEL_FN.as_pointer(), SLOTS, I64, I64]),
                     name="graphc_parallel")
    fn.linkage = "internal"
    kern, slots, n, nt = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    tasks = b.alloca(task, size=const(MAX_THREADS))
    tids = b.alloca(I64, size=const(MAX_THREADS))
    started = b.alloca(I1, size=const(MAX_THREADS))
    nt = b.select(b.icmp_signed(">", nt, const(MAX_THREADS)), const(MAX_THREADS), nt)
    chunk = b.sdiv(b.add(n, b.sub(nt, const(1))), nt)

    def clamp(v):
        return b.select(b.icmp_signed("<", v, n), v, n)
    loops = Loops(b)
    i = loops.open(const(1), nt, "t")
    lo = clamp(b.mul(i, chunk))
    hi = clamp(b.add(lo, chunk))
    slot = b.gep(tasks, [i])
    for f, v in enumerate((kern, slots, lo, hi)):
        b.store(v, b.gep(slot, [ir.Constant(I32, 0), ir.Constant(I32, f)]))
    rc = b.call(create, [b.gep(tids, [i]), ir.Constant(I8P, None), tramp,
                         b.bitcast(slot, I8P)])
    ok = b.icmp_signed("==", rc, ir.Constant(I32, 0))
    b.store(ok, b.gep(started, [i]))
    with b.if_then(b.not_(ok)):
        b.call(kern, [slots, lo, hi])
    loops.close()
    b.call(kern, [slots, const(0), clamp(chunk)])
    i = loops.open(const(1), nt, "j")
    with b.if_then(b.load(b.gep(started, [i]))):
        b.call(join, [b.load(b.gep(tids, [i])), ir.Constant(I8P.as_pointer(), None)])
    loops.close()
    b.ret_void()
    return fn


def _emit_rows(module: ir.Module, plan: Plan, g: Rows) -> int:
    """``<group>(slots, start, end)``: rows [start, end), each through every kernel of the
    group in order (the kernels are inlined, so this is one loop nest). The group's
    private intermediates ("row" buffers) live on this call's stack, one row each, in a
    copy of the pointer table: threads running other rows have their own."""
    fn = ir.Function(module, KERNEL_FN, name=g.name)
    fn.linkage = "internal"
    slots, start, end = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    private = [plan.buffers[k.out.slot] for k in g.kernels
               if plan.buffers[k.out.slot].kind == "row"]
    if private:
        n = len(plan.buffers)
        table = b.alloca(I8P, size=const(n))
        for i in range(n):
            b.store(b.load(b.gep(slots, [const(i)])), b.gep(table, [const(i)]))
        for buf in private:
            row = b.alloca(ir.ArrayType(I8, max(1, buf.nbytes)))
            row.align = 64
            b.store(b.bitcast(row, I8P), b.gep(table, [const(buf.slot)]))
        slots = table
    loops = Loops(b)
    r = loops.open(start, end, "row")
    nxt = b.add(r, const(1))
    for k in g.kernels:
        b.call(module.get_global(k.name), [slots, r, nxt])
    loops.close()
    b.ret_void()
    return g.kernels[0].domain[0]


# ---------------------------------------------------------------- the module

def build_module(plan: Plan, segments: list[list[Kernel]], name: str,
                 prologue: list[int] = (), data_offset: int = 0) -> ir.Module:
    """The LLVM module of a program: its kernels and one entry point per segment.

    ``segment0`` also takes one numpy array object per slot in ``prologue`` and stores
    its data pointer (at ``data_offset`` in the object) in that slot first, which
    saves the caller finding each address in Python.
    """
    _init()
    module = ir.Module(name=name)
    module.triple = llvm.get_process_triple()
    parallel = _emit_parallel(module)
    sizes = {}
    bodies: dict = {}
    for seg in segments:
        for step in seg:
            for k in step.kernels if isinstance(step, Rows) else [step]:
                sizes[k.name] = KernelEmitter(module, plan, k, bodies).emit()
            if isinstance(step, Rows):
                sizes[step.name] = _emit_rows(module, plan, step)
    _compiled_apart(bodies)
    for s, seg in enumerate(segments):
        extra = list(prologue) if s == 0 else []
        fn = ir.Function(module, ir.FunctionType(VOID, [SLOTS, I64] + [I8P] * len(extra)),
                         name=f"segment{s}")
        slots, nthreads = fn.args[:2]
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        for slot, obj in zip(extra, fn.args[2:]):
            data = b.bitcast(b.gep(obj, [const(data_offset)]), SLOTS)
            b.store(b.load(data), b.gep(slots, [const(slot)]))
        for k in seg:
            kern = module.get_global(k.name)
            size = const(sizes[k.name])
            if k.work >= PARALLEL_WORK and sizes[k.name] > 1:
                many = b.icmp_signed(">", nthreads, const(1))
                with b.if_else(many) as (threads, alone):
                    with threads:
                        b.call(parallel, [kern, slots, size, nthreads])
                    with alone:
                        b.call(kern, [slots, const(0), size])
            else:
                b.call(kern, [slots, const(0), size])
        b.ret_void()
    return module
