"""Matrix products: C[..., i, j] = sum_k A[..., i, k] * B[..., k, j], then the epilogue.

Operands are read through their views (a transposed operand costs no copy); batch dims
broadcast. The parallel dim is the rows of C. The epilogue (the elementwise nodes fused
after the product, ``relu(x @ w + b)``) rewrites each row of C while it is in cache.
"""
from __future__ import annotations

from ..ir import dtypes as dt
from ..ir.core import Node
from .kernel import contiguous_strides


def emit_matmul(em) -> None:
    """Rows [start, end) of every batch: the i-k-j order, contiguous in B and C."""
    from .cpu import Loops, const
    k, b = em.k, em.b
    mm = k.matmul
    a_node, b_node = mm.inputs
    *batch, m, n = mm.shape
    kk = a_node.shape[-1]
    batch = tuple(batch)
    d = mm.dtype
    sa = k.reads[id(a_node)].broadcast_strides(batch + (m, kk))
    sb = k.reads[id(b_node)].broadcast_strides(batch + (kk, n))
    sc = contiguous_strides(mm.shape)
    va, vb = k.reads[id(a_node)], k.reads[id(b_node)]
    out = em.ptr[k.out.slot]
    em.par_size = m
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
    b.store(_zero(d), b.gep(out, [b.add(row, j)]))
    loops.close()
    p = loops.open(const(0), const(kk), "k")
    a_val = em.load(va, em.offset(va.offset, sa, bidx + [i, p]))[0]
    j = loops.open(const(0), const(n), "j")
    at = b.gep(out, [b.add(row, j)])
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


def epilogue(em, idx: list, at) -> None:
    """Apply the fused elementwise nodes to C at domain point ``idx`` (offset ``at``)."""
    k, b = em.k, em.b
    mm = k.matmul
    needed = {id(x) for m in k.nodes for x in m.inputs
              if type(x) is Node and id(x) in k.reads and x is not mm}
    offs = {key: em.offset(k.reads[key].offset, k.reads[key].broadcast_strides(k.domain), idx)
            for key in needed}
    c = (b.load(b.gep(em.ptr[k.out.slot], [at])), mm.dtype)
    value, src = em.evaluate(offs, preset={id(mm): c})[id(k.value)]
    em.store(at, value, src)


def _zero(d):
    from llvmlite import ir

    from .lower import llvm_type
    return ir.Constant(llvm_type(d), 0.0 if d.kind == dt.FLOAT else 0)
