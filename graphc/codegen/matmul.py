"""Matrix products: C[..., i, j] = sum_k A[..., i, k] * B[..., k, j], then the epilogue.

Operands are read through their views (a transposed operand costs no copy); batch dims
broadcast. The parallel dim is the rows of C. The epilogue (the elementwise nodes fused
after the product, ``relu(x @ w + b)``) rewrites each block of C while it is in cache.

Float products of any real size use the blocked algorithm of BLIS/GotoBLAS: B is packed
in [KC x NR] panels and A in [MR x KC] panels (which is where strides and transposes
are absorbed), and a register-blocked micro-kernel keeps an MR x NR tile of C in
vector registers across the k loop, with one fused multiply-add per vector. The tile
follows the host (``blocking()``): 6 x 2 vectors on AVX2 (12 of its 16 ymm registers
accumulate), 12 x 2 on AVX-512 (24 of its 32 zmm). Small, integer and empty products use
the plain i-k-j loop nest.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

from ..ir import dtypes as dt
from ..ir.core import Node
from .kernel import contiguous_strides
from .mathlib import call_intrinsic

KC, NC = 256, 2048
TILED_MIN = 32 ** 3        # smaller products (m * n * k) use the simple loop nest


class Blocking(NamedTuple):
    vector_bytes: int  # one register
    mr: int            # rows of C per micro-tile (its columns: two vectors)
    mc: int            # rows of A per packed block (a multiple of mr)


@functools.cache
def blocking() -> Blocking:
    """The micro-tile for the host's vector registers: AVX-512 has twice AVX2's width and
    twice its registers (1.8x numpy's time at 2048x128x512 with AVX2's tile on Emerald
    Rapids); other hosts get AVX2's, which LLVM splits into what they have."""
    import llvmlite.binding as llvm

    from .cpu import _init
    _init()
    features = llvm.get_host_cpu_features()
    if features.get("avx512f", False):
        return Blocking(64, 12, 144)
    return Blocking(32, 6, 72)


def emit_matmul(em) -> None:
    mm = em.k.matmul
    *_, m, n = mm.shape
    kk = mm.inputs[0].shape[-1]
    if mm.dtype.kind == dt.FLOAT and m * n * kk >= TILED_MIN and min(m, n, kk) > 0:
        return emit_tiled(em)
    return emit_simple(em)


def _operands(em) -> tuple:
    """(batch dims, m, n, k, dtype, A's view, B's view, A's, B's and C's strides over the
    batched domains, C's pointer); the parallel dim is set to C's rows."""
    k = em.k
    mm = k.matmul
    a_node, b_node = mm.inputs
    *batch, m, n = mm.shape
    kk = a_node.shape[-1]
    batch = tuple(batch)
    va, vb = k.reads[id(a_node)], k.reads[id(b_node)]
    em.par_size = m
    return (batch, m, n, kk, mm.dtype, va, vb, va.broadcast_strides(batch + (m, kk)),
            vb.broadcast_strides(batch + (kk, n)), contiguous_strides(mm.shape),
            em.ptr[k.out.slot])


def emit_simple(em) -> None:
    """Rows [start, end) of every batch: the i-k-j order, contiguous in B and C."""
    from .cpu import Loops, const
    k, b = em.k, em.b
    batch, m, n, kk, d, va, vb, sa, sb, sc, out = _operands(em)
    flags = ("contract",) if d.kind == dt.FLOAT else ()

    def mul_add(acc, x, y):
        if d.kind == dt.FLOAT:
            return b.fadd(acc, b.fmul(x, y, flags=flags), flags=flags)
        return b.add(acc, b.mul(x, y))

    loops = Loops(b)
    bidx = [loops.open(const(0), const(s), f"b{i}") for i, s in enumerate(batch)]
    i = loops.open(em.start, em.end, "i")
    row = em.offset(0, sc[:-1], bidx + [i])
    j = loops.open(const(0), const(n), "j0")
    b.store(_zero(d), em.address(k.out.slot, b.add(row, j), "write"))
    loops.close()
    p = loops.open(const(0), const(kk), "k")
    a_val = em.load(va, em.offset(va.offset, sa, bidx + [i, p]))[0]
    j = loops.open(const(0), const(n), "j")
    at = em.address(k.out.slot, b.add(row, j), "write")
    b_val = em.load(vb, em.offset(vb.offset, sb, bidx + [p, j]))[0]
    b.store(mul_add(b.load(at), a_val, b_val), at)
    loops.close()
    loops.close()
    if k.nodes:
        j = loops.open(const(0), const(n), "e")
        epilogue(em, bidx + [i, j], b.add(row, j))
        loops.close()
    loops.close()
    for _ in batch:
        loops.close()


def emit_tiled(em) -> None:
    """The blocked product for rows [start, end) of every batch (see the module doc)."""
    from llvmlite import ir

    from .cpu import Loops, const
    from .lower import llvm_type
    k, b = em.k, em.b
    batch, m, n, kk, d, va, vb, sa, sb, sc, out = _operands(em)
    t = llvm_type(d)
    vector_bytes, mr, block = blocking()
    vw = vector_bytes // d.itemsize
    nr = 2 * vw
    vec = ir.VectorType(t, vw)
    kc_max, nc_max = min(KC, kk), min(NC, -(-n // nr) * nr)
    module = em.module
    malloc = module.globals.get("malloc") or ir.Function(
        module, ir.FunctionType(ir.IntType(8).as_pointer(), [ir.IntType(64)]), name="malloc")
    free = module.globals.get("free") or ir.Function(
        module, ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()]), name="free")
    zero = ir.Constant(t, 0.0)
    zvec = ir.Constant(vec, [0.0] * vw)
    loops = Loops(b)

    def smin(x, y):
        return b.select(b.icmp_signed("<", x, y), x, y)

    raw_a = b.call(malloc, [const(block * kc_max * d.itemsize)])
    raw_b = b.call(malloc, [const(kc_max * nc_max * d.itemsize)])
    ok = b.and_(b.icmp_unsigned("!=", raw_a, ir.Constant(raw_a.type, None)),
                b.icmp_unsigned("!=", raw_b, ir.Constant(raw_b.type, None)))
    with b.if_else(ok) as (tiled, fallback):
        with fallback:  # out of memory for the packed panels: the simple loops
            emit_simple(em)
        with tiled:
            ap = b.bitcast(raw_a, t.as_pointer())
            bp = b.bitcast(raw_b, t.as_pointer())
            tile = b.alloca(t, size=const(mr * nr))
            bidx = [loops.open(const(0), const(s), f"b{i}") for i, s in enumerate(batch)]
            a_base = em.offset(va.offset, sa[:-2], bidx)
            b_base = em.offset(vb.offset, sb[:-2], bidx)
            c_base = em.offset(0, sc[:-2], bidx)
            jc = _stepped(loops, b, const(0), const(n), NC, "jc")
            nc = smin(const(NC), b.sub(const(n), jc))
            pc = _stepped(loops, b, const(0), const(kk), KC, "pc")
            kc = smin(const(KC), b.sub(const(kk), pc))
            # pack B[pc:pc+kc, jc:jc+nc] as panels of nr columns, zero beyond n
            _pack(em, b, loops, bp, vb, nc, nr, kc, zero,
                  lambda q, c: b.add(b_base, b.add(b.mul(b.add(pc, q), const(sb[-2])),
                                                   b.mul(b.add(jc, c), const(sb[-1])))),
                  "b")
            ic = _stepped(loops, b, em.start, em.end, block, "ic")
            mc = smin(const(block), b.sub(em.end, ic))
            # pack A[ic:ic+mc, pc:pc+kc] as panels of mr rows, zero beyond mc
            _pack(em, b, loops, ap, va, mc, mr, kc, zero,
                  lambda q, r: b.add(a_base, b.add(b.mul(b.add(ic, r), const(sa[-2])),
                                                   b.mul(b.add(pc, q), const(sa[-1])))),
                  "a")
            first = b.icmp_signed("==", pc, const(0))
            jr = _stepped(loops, b, const(0), nc, nr, "jr")
            ir_ = _stepped(loops, b, const(0), mc, mr, "ir")
            a_panel = b.gep(ap, [b.mul(b.sdiv(ir_, const(mr)), b.mul(kc, const(mr)))])
            b_panel = b.gep(bp, [b.mul(b.sdiv(jr, const(nr)), b.mul(kc, const(nr)))])
            acc = _micro(b, loops, a_panel, b_panel, kc, vec, vw, zvec, mr)
            rows = smin(const(mr), b.sub(mc, ir_))
            cols = smin(const(nr), b.sub(nc, jr))
            full = b.and_(b.icmp_signed("==", rows, const(mr)),
                          b.icmp_signed("==", cols, const(nr)))
            c_tile = b.add(c_base, b.add(b.mul(b.add(ic, ir_), const(n)), b.add(jc, jr)))
            with b.if_else(full) as (whole, edge):
                with whole:
                    for i in range(mr):
                        for h in range(2):
                            at = b.add(c_tile, const(i * n + h * vw))
                            p = b.bitcast(em.address(k.out.slot, at, "write", vw),
                                          vec.as_pointer())
                            old = b.select(first, zvec, b.load(p, align=d.itemsize))
                            b.store(b.fadd(old, acc[i][h]), p, align=d.itemsize)
                with edge:
                    for i in range(mr):
                        for h in range(2):
                            p = b.bitcast(b.gep(tile, [const(i * nr + h * vw)]),
                                          vec.as_pointer())
                            b.store(acc[i][h], p, align=d.itemsize)
                    i = loops.open(const(0), rows, "er")
                    j = loops.open(const(0), cols, "ec")
                    at = em.address(k.out.slot, b.add(c_tile, b.add(b.mul(i, const(n)), j)),
                                    "write")
                    val = b.load(b.gep(tile, [b.add(b.mul(i, const(nr)), j)]))
                    b.store(b.fadd(b.select(first, zero, b.load(at)), val), at)
                    loops.close()
                    loops.close()
            loops.close()
            loops.close()
            if k.nodes:  # after the last k block, the fused epilogue over this block of C
                last = b.icmp_signed("==", b.add(pc, kc), const(kk))
                with b.if_then(last):
                    i = loops.open(ic, b.add(ic, mc), "ei")
                    j = loops.open(jc, b.add(jc, nc), "ej")
                    at = b.add(c_base, b.add(b.mul(i, const(n)), j))
                    epilogue(em, bidx + [i, j], at)
                    loops.close()
                    loops.close()
            loops.close()  # ic
            loops.close()  # pc
            loops.close()  # jc
            for _ in batch:
                loops.close()
            b.call(free, [raw_a])
            b.call(free, [raw_b])
    with b.if_then(b.not_(ok)):  # one of the two allocations may have succeeded
        b.call(free, [raw_a])
        b.call(free, [raw_b])


def _pack(em, b, loops, dst, view, size, width: int, kc, zero, source, name: str) -> None:
    """Copy ``size`` lines (columns of B, rows of A) of an operand into panels of ``width``
    lines: ``dst[(panel * kc + q) * width + w] = element(q, panel * width + w)``, written in
    order. Whole panels are plain loads (which vectorize where the operand is contiguous);
    the last, partial one is padded with zeros."""
    from .cpu import const
    whole = b.sdiv(size, const(width))
    p = loops.open(const(0), whole, f"p{name}")
    q = loops.open(const(0), kc, f"q{name}")
    base = b.mul(b.add(b.mul(p, kc), q), const(width))
    w = loops.open(const(0), const(width), f"w{name}")
    at = source(q, b.add(b.mul(p, const(width)), w))
    b.store(em.load(view, at)[0], b.gep(dst, [b.add(base, w)]))
    loops.close()
    loops.close()
    loops.close()
    rest = b.sub(size, b.mul(whole, const(width)))
    with b.if_then(b.icmp_signed(">", rest, const(0))):
        q = loops.open(const(0), kc, f"r{name}")
        base = b.mul(b.add(b.mul(whole, kc), q), const(width))
        w = loops.open(const(0), const(width), f"v{name}")
        inside = b.icmp_signed("<", w, rest)
        at = b.select(inside, source(q, b.add(b.mul(whole, const(width)), w)),
                      const(view.offset))
        b.store(b.select(inside, em.load(view, at)[0], zero), b.gep(dst, [b.add(base, w)]))
        loops.close()
        loops.close()


def _stepped(loops, b, lo, hi, step: int, name: str):
    """``for v in range(lo, hi, step)``: an index ``i`` counting blocks, returned as v."""
    from .cpu import const
    count = b.sdiv(b.add(b.sub(hi, lo), const(step - 1)), const(step))
    i = loops.open(const(0), count, name)
    return b.add(lo, b.mul(i, const(step)))


def _micro(b, loops, a_panel, b_panel, kc, vec, vw: int, zvec, mr: int) -> list:
    """The mr x 2 vectors of A-panel x B-panel over kc steps, kept in registers (phis)."""
    from llvmlite import ir

    from .cpu import const
    nr = 2 * vw
    entry = b.block
    fn = b.function
    head, body, end = (fn.append_basic_block(f"mk_{s}") for s in ("head", "body", "end"))
    b.branch(head)
    b.position_at_end(head)
    q = b.phi(ir.IntType(64), name="mk")
    q.add_incoming(const(0), entry)
    acc = [[b.phi(vec) for _ in range(2)] for _ in range(mr)]
    for row in acc:
        for v in row:
            v.add_incoming(zvec, entry)
    b.cbranch(b.icmp_signed("<", q, kc), body, end)
    b.position_at_end(body)
    bv = [b.load(b.bitcast(b.gep(b_panel, [b.add(b.mul(q, const(nr)), const(h * vw))]),
                           vec.as_pointer()), align=4) for h in range(2)]
    new = []
    for i in range(mr):
        a = b.load(b.gep(a_panel, [b.add(b.mul(q, const(mr)), const(i))]))
        splat = b.insert_element(ir.Constant(vec, ir.Undefined), a, ir.Constant(ir.IntType(32), 0))
        splat = b.shuffle_vector(splat, ir.Constant(vec, ir.Undefined),
                                 ir.Constant(ir.VectorType(ir.IntType(32), vw), [0] * vw))
        new.append([call_intrinsic(b, "llvm.fma", splat, bv[h], acc[i][h]) for h in range(2)])
    q.add_incoming(b.add(q, const(1)), b.block)
    for i in range(mr):
        for h in range(2):
            acc[i][h].add_incoming(new[i][h], b.block)
    b.branch(head)
    b.position_at_end(end)
    return acc


def epilogue(em, idx: list, at, value=None) -> None:
    """Apply the fused elementwise nodes to C at domain point ``idx`` (offset ``at``): to
    ``value`` when given (a GPU's register), else to the element stored there."""
    k, b = em.k, em.b
    mm = k.matmul
    if value is None:
        value = b.load(em.address(k.out.slot, at, "read"))
    if not k.nodes:
        em.store(at, value, mm.dtype)
        return
    needed = {id(x) for m in k.nodes for x in m.inputs
              if type(x) is Node and id(x) in k.reads and x is not mm}
    offs = {key: em.offset(k.reads[key].offset, k.reads[key].broadcast_strides(k.domain), idx)
            for key in needed}
    em.store(at, *em.evaluate(offs, preset={id(mm): (value, mm.dtype)})[id(k.value)])


def _zero(d):
    from llvmlite import ir

    from .lower import llvm_type
    return ir.Constant(llvm_type(d), 0.0 if d.kind == dt.FLOAT else 0)
