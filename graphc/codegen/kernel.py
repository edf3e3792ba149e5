"""Kernel IR: an optimized graph planned as buffers, views and kernels.

Every array the native code touches is a :class:`Buffer`, one slot of the pointer table
that the program's entry point receives: graph inputs, constants, the planned arena of
intermediates (offsets reused by liveness), outputs, and values still computed by the
numpy interpreter. Movement ops (reshape, permute, expand, slice, detach) are
:class:`View` s of a buffer (shape, element strides, offset): kernels read through them,
so they cost no copies. A :class:`Kernel` computes one value into a buffer:

- ``map``: elementwise over the value's shape;
- ``reduce``: a sum or max over some axes of its input's shape (the domain);
- ``matmul``: a (batched) matrix product, with an optional elementwise epilogue
  (``relu(x @ w + b)`` is one kernel).

Elementwise producers are inlined into the kernels that consume them, and recomputed
in each consumer when they are cheap and used more than once (softmax reads its input
three times and writes once, with no intermediate array).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import dtypes as dt
from ..ir.core import Node
from ..ir.errors import annotate, format_loc
from ..ir.graph import Graph
from ..ir.reference import run_op
from ..ir.shapes import PHYSICAL_MEMORY, numel, out_of_memory
from .lower import lowerable

MOVEMENT = ("reshape", "permute", "expand", "slice")  # and ops that pass input 0 through
SOURCES = ("constant", "arange")
RECOMPUTE_COST = 8   # an elementwise value used twice is recomputed if it costs <= this
OP_COST = {"exp": 8, "log": 8, "tanh": 8, "sin": 8, "cos": 8, "pow": 8}  # others cost 1
ROW_BYTES = 1 << 16  # a Rows group keeps intermediates of rows up to this size on the stack
ALIGN = 64           # arena offsets are multiples of this many bytes


# ---------------------------------------------------------------- views

def contiguous_strides(shape: tuple) -> tuple:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


@dataclass(frozen=True)
class View:
    """Elements ``offset + sum(i_d * strides[d])`` of buffer ``slot``, for i in ``shape``."""

    slot: int
    shape: tuple
    strides: tuple
    offset: int = 0

    def broadcast_strides(self, domain: tuple) -> tuple:
        """Strides when read over ``domain`` (numpy broadcasting: 0 on broadcast dims)."""
        lead = len(domain) - len(self.shape)
        return (0,) * lead + tuple(0 if s == 1 else st
                                   for s, st in zip(self.shape, self.strides))

    @property
    def contiguous(self) -> bool:
        return self.strides == contiguous_strides(self.shape) or numel(self.shape) <= 1


def view_of(v: View, node: Node) -> View | None:
    """The view that movement node ``node`` makes of its input's view ``v`` (None: the
    input must be copied first, e.g. reshaping a transposed array)."""
    name, a = node.op.name, node.attrs
    if node.op.passthrough == 0:  # detach, a custom Function's output: the value itself
        return v
    if name == "permute":
        perm = a["perm"]
        return View(v.slot, node.shape, tuple(v.strides[p] for p in perm), v.offset)
    if name == "expand":
        return View(v.slot, node.shape, v.broadcast_strides(node.shape), v.offset)
    if name == "slice":
        offset = v.offset + sum(s * st for s, st in zip(a["starts"], v.strides))
        return View(v.slot, node.shape, tuple(st * k for st, k in zip(v.strides, a["steps"])),
                    offset)
    strides = _reshape_strides(v.shape, v.strides, node.shape)
    return None if strides is None else View(v.slot, node.shape, strides, v.offset)


def _reshape_strides(old: tuple, strides: tuple, new: tuple) -> tuple | None:
    """Strides that read shape ``new`` from the array (``old``, ``strides``) with no copy,
    or None. Dims of size 1 are dropped; the rest are grouped into runs of equal
    products on both sides, and each old run must be contiguous within itself."""
    if numel(old) == 0:
        return contiguous_strides(new)
    olds = [(d, s) for d, s in zip(old, strides) if d != 1]
    news = [d for d in new if d != 1]
    out: list[int] = []
    o = n = 0
    while n < len(news):
        group, po, pn, first = [olds[o]], olds[o][0], news[n], n
        o, n = o + 1, n + 1
        while po != pn:
            if po < pn:
                group.append(olds[o])
                po *= olds[o][0]
                o += 1
            else:
                pn *= news[n]
                n += 1
        if any(a[1] != b[1] * b[0] for a, b in zip(group, group[1:])):
            return None
        step, inner = group[-1][1], []
        for d in reversed(news[first:n]):
            inner.append(step)
            step *= d
        out.extend(reversed(inner))
    it = iter(out)
    return tuple(0 if d == 1 else next(it) for d in new)


# ---------------------------------------------------------------- buffers and kernels

@dataclass
class Buffer:
    """One slot of the pointer table. ``kind``: input (graph input ``index``), const (a
    value computed once, ``value``), arena (``offset`` in the arena), output (graph output
    ``index``, allocated per call), interp (computed by numpy at each call), row (an
    intermediate of a Rows group
    that only the group reads: one row of it, on the stack of the thread running it)."""

    slot: int
    kind: str
    shape: tuple
    dtype: dt.DType
    index: int = 0
    offset: int = 0
    value: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return numel(self.shape) * self.dtype.itemsize


@dataclass
class Kernel:
    """Computes ``root`` over ``domain`` into ``out``.

    ``nodes`` are the inlined elementwise nodes, each after its inputs; ``reads`` maps
    every other value the kernel uses to the view it is loaded from. A reduce kernel's
    ``reduced`` axes are axes of the domain (its input's shape); a matmul kernel's
    ``matmul`` node computes into ``out`` first, then the epilogue ``nodes`` (if any)
    rewrite ``out`` in place. ``value`` is the node whose value is stored (the root, a
    reduction's input, or for a copy the node copied).
    """

    name: str
    kind: str
    root: Node
    out: View
    domain: tuple
    value: Node
    nodes: list[Node] = field(default_factory=list)
    reads: dict[int, View] = field(default_factory=dict)
    read_nodes: dict[int, Node] = field(default_factory=dict)
    reduced: tuple = ()
    matmul: Node | None = None
    rows: bool = False
    checks: dict = field(default_factory=dict)   # id(node that can fail) -> check number
    pieces: list = field(default_factory=list)  # piece kernels: (id(input), lo, hi) boxes
    fill: float = 0.0                            # their value outside every box

    @property
    def work(self) -> int:
        """About how many element operations one call does (decides threading)."""
        if self.matmul is not None:
            return 2 * numel(self.matmul.shape) * self.matmul.inputs[0].shape[-1]
        return numel(self.domain) * max(1, len(self.nodes))


@dataclass
class Rows:
    """Kernels run row by row together: for each index r of their common dim 0, every
    kernel's row r in order. A kernel reads what an earlier one wrote only in the same
    row, so softmax's max, sum and scaling touch a row while it is in cache."""

    name: str
    kernels: list[Kernel]

    @property
    def reads(self) -> dict[int, View]:
        return {k: v for kern in self.kernels for k, v in kern.reads.items()}

    @property
    def work(self) -> int:
        return sum(k.work for k in self.kernels)


@dataclass(frozen=True)
class BoundsCheck:
    """Under GRAPHC_CHECK: kernel ``kernel`` (computing ``node``) reached for an element
    outside buffer ``buffer`` (its ``access``: "read" or "write"); the value reported is the
    element's offset."""

    kernel: str
    access: str
    buffer: Buffer
    node: Node

    def failure(self, value: int) -> tuple:
        from ..ir.errors import IndexOutOfRange
        b = self.buffer
        return IndexOutOfRange, (
            f"GRAPHC_CHECK: kernel {self.kernel} would {self.access} element {value} of buffer "
            f"{b.slot} ({b.kind}, {b.dtype.short}[{','.join(map(str, b.shape))}]: "
            f"{numel(b.shape)} elements); "
            "nothing was touched. This is a bug in graphc's code generator: please report it")


@dataclass
class Plan:
    graph: Graph
    buffers: list[Buffer]
    steps: list            # Kernel, Rows, or Node run by the numpy interpreter
    loc: dict[int, View]   # id(node) -> where its value lives
    outputs: list          # per graph output: ("own"|"copy", View) or ("literal", value)
    arena_bytes: int = 0
    error_slot: int | None = None  # int64[2]: (check number, bad value) set by kernels
    # check number - 1 -> the node whose op failed, or a BoundsCheck (GRAPHC_CHECK)
    checks: list = field(default_factory=list)
    checked: bool = False  # GRAPHC_CHECK: every load and store checks its offset

    def call_slots(self) -> tuple[list[int], list[tuple]]:
        """The slot of each graph input, and (slot, shape, numpy dtype) of each output the
        kernels write, in output order (allocated per call)."""
        inputs = [-1] * len(self.graph.inputs)
        for b in self.buffers:
            if b.kind == "input":
                inputs[b.index] = b.slot
        return inputs, [(v.slot, v.shape, self.buffers[v.slot].dtype.np)
                        for kind, v in self.outputs if kind == "own"]


def check_memory(p: Plan) -> None:
    """OutOfMemory before a program allocates more than this machine has (its arena and the
    outputs of one call, those copied out of views included), naming the op of the largest
    value and its traced line."""
    outputs = [n for n, (kind, _) in zip(p.graph.outputs, p.outputs) if kind != "literal"]
    total = p.arena_bytes + sum(numel(n.shape) * n.dtype.itemsize for n in outputs)
    if not PHYSICAL_MEMORY or total <= PHYSICAL_MEMORY:
        return
    held = outputs + [n for n in p.graph.nodes if id(n) in p.loc and
                      p.buffers[p.loc[id(n)].slot].kind == "arena"]
    big = max(held, key=lambda n: numel(n.shape) * n.dtype.itemsize)
    e = out_of_memory(big.op.name, big.shape, big.dtype)
    annotate(e, f"(traced at {format_loc(big.loc)})")
    raise e


def category(n: Node) -> str:
    """How the back end computes ``n``: view, const, map, reduce, matmul or interp."""
    name = n.op.name
    if n.dtype is dt.float16 or any(type(x) is Node and x.dtype is dt.float16
                                   for x in n.inputs):
        return "interp"
    if name in MOVEMENT or n.op.passthrough == 0:
        return "view"
    if name in SOURCES:
        return "const"
    if name in ("pad", "concat") and n.dtype is not dt.bool_:
        return "piece"
    if name == "gather" or name == "scatter_add" and n.dtype is not dt.bool_:
        return name
    if name == "random":
        return "random"
    if lowerable(n):
        return "map"
    if name in ("sum", "max"):
        return "reduce"
    if name == "matmul" and n.dtype is not dt.bool_:
        return "matmul"
    return "interp"


def plan(graph: Graph, rows: bool = True, checked: bool = False) -> Plan:
    """Decide where every value lives and which kernels compute them, in graph order.
    ``rows``: group kernels into Rows (the CPU's cache blocking; a GPU runs every kernel
    over the whole domain). ``checked``: kernels check every offset they load or store
    (GRAPHC_CHECK)."""
    consumers: dict[int, list[Node]] = {}
    for n in graph.nodes:
        for x in n.inputs:
            if type(x) is Node:
                consumers.setdefault(id(x), []).append(n)
    out_ids = {id(o) for o in graph.outputs if type(o) is Node}
    cats = {id(n): category(n) for n in graph.nodes}
    inlined = _inline_decisions(graph, consumers, out_ids, cats)
    epilogue = _epilogues(graph, consumers, out_ids, cats, inlined)

    p = Plan(graph, [], [], {}, [], checked=checked)

    def new_buffer(kind: str, node: Node, **kw) -> View:
        b = Buffer(len(p.buffers), kind, tuple(node.shape), node.dtype, **kw)
        p.buffers.append(b)
        return View(b.slot, b.shape, contiguous_strides(b.shape))

    for i, n in enumerate(graph.inputs):
        p.loc[id(n)] = new_buffer("input", n, index=i)
    fused_matmuls = {id(mm) for mm in epilogue.values()}
    copies: dict[int, View] = {}
    for n in graph.nodes:
        c = cats[id(n)]
        if id(n) in inlined or id(n) in fused_matmuls:
            continue
        kind = "output" if id(n) in out_ids else "arena"
        if c == "const":
            p.loc[id(n)] = new_buffer("const", n, value=np.ascontiguousarray(
                run_op(n.op, n.attrs, list(n.inputs), n.dtype)))
        elif c == "view":
            src = n.inputs[0]
            v = view_of(p.loc[id(src)], n)
            if v is None:  # e.g. reshape of a transposed array: copy the input once
                if id(src) not in copies:
                    copies[id(src)] = new_buffer("arena", src)
                    p.steps.append(_kernel(p, "map", n, copies[id(src)], src.shape, src))
                v = view_of(copies[id(src)], n)
            p.loc[id(n)] = v
        elif c == "interp":
            p.loc[id(n)] = new_buffer("interp", n)
            p.steps.append(n)
        else:
            out = new_buffer(kind, n)
            p.loc[id(n)] = out
            p.steps.append(_build(p, n, c, out, inlined, epilogue.get(id(n))))
    claimed: set[int] = set()
    for o in graph.outputs:
        if type(o) is not Node:
            p.outputs.append(("literal", o))
            continue
        v = p.loc[id(o)]
        b = p.buffers[v.slot]
        if b.kind == "output" and v.slot not in claimed and v.contiguous and v.offset == 0 \
                and b.shape == v.shape:
            claimed.add(v.slot)
            p.outputs.append(("own", v))
        else:  # an input, a constant, a view, or a value returned twice: copied
            p.outputs.append(("copy", v))
    for b in p.buffers:
        if b.kind == "output" and b.slot not in claimed:
            b.kind = "arena"
    if checked:
        _error_buffer(p)
    if rows:
        p.steps = _group_rows(p)
        _contract_rows(p)
    _plan_arena(p)
    return p


def _contract_rows(p: Plan) -> None:
    """Intermediates written and read only inside one Rows group need one row, not all."""
    readers: dict[int, set[int]] = {}
    for s, step in enumerate(p.steps):
        views = step.reads.values() if isinstance(step, (Kernel, Rows)) else \
            [p.loc[id(x)] for x in step.inputs if type(x) is Node]
        for v in views:
            readers.setdefault(v.slot, set()).add(s)
    kept = {v.slot for kind, v in p.outputs if kind == "copy"}
    for s, step in enumerate(p.steps):
        if not isinstance(step, Rows):
            continue
        for k in step.kernels:
            b = p.buffers[k.out.slot]
            row = (1,) + b.shape[1:]
            if b.kind == "arena" and readers.get(b.slot, set()) <= {s} \
                    and b.slot not in kept and numel(row) * b.dtype.itemsize <= ROW_BYTES:
                b.kind, b.shape = "row", row


def _row_kernel(k) -> bool:
    return isinstance(k, Kernel) and k.kind in ("map", "reduce") and len(k.domain) >= 2 \
        and k.domain[0] >= 2 and 0 not in k.reduced and numel(k.domain) > 0


def _row_local(p: Plan, v: View, producer: Kernel, domain: tuple) -> bool:
    """Whether reading ``v`` over ``domain`` at row r touches only row r of what
    ``producer`` wrote."""
    rows = domain[0]
    size = numel(p.buffers[producer.out.slot].shape) // rows
    strides = v.broadcast_strides(domain)
    span = sum((d - 1) * st for d, st in zip(domain[1:], strides[1:]))
    return v.offset == 0 and strides[0] == size and span < size


def _group_rows(p: Plan) -> list:
    """Runs of consecutive kernels over the same rows, fused into Rows groups."""
    steps: list = []
    run: list[Kernel] = []

    def flush() -> None:
        if len(run) > 1:
            for k in run:
                k.rows = True
            steps.append(Rows(f"rows{len(steps)}_" + "_".join(k.root.op.name for k in run),
                              list(run)))
        else:
            steps.extend(run)
        run.clear()

    for step in p.steps:
        if not _row_kernel(step):
            flush()
            steps.append(step)
            continue
        if run and step.domain[0] == run[0].domain[0]:
            made = {k.out.slot: k for k in run}
            if all(_row_local(p, v, made[v.slot], step.domain)
                   for v in step.reads.values() if v.slot in made):
                run.append(step)
                continue
        flush()
        run.append(step)
    flush()
    return steps


def _inline_decisions(graph: Graph, consumers: dict, out_ids: set, cats: dict) -> set[int]:
    """The elementwise nodes computed inside their consumers' kernels, not stored."""
    inlined: set[int] = set()
    cost: dict[int, int] = {}
    for n in graph.nodes:
        if cats[id(n)] != "map":
            continue
        cost[id(n)] = OP_COST.get(n.op.name, 1) + sum(cost[id(x)] for x in n.inputs
                              if type(x) is Node and id(x) in inlined)
        users = consumers.get(id(n), [])
        if id(n) in out_ids or not users:
            continue
        if len(users) > 1 and cost[id(n)] > RECOMPUTE_COST:
            continue
        if all(_domain(u, cats) == n.shape for u in users):
            inlined.add(id(n))
    return inlined


def _domain(u: Node, cats: dict) -> tuple | None:
    c = cats[id(u)]
    if c == "map":
        return u.shape
    if c == "reduce":
        return u.inputs[0].shape
    return None


def _epilogues(graph: Graph, consumers: dict, out_ids: set, cats: dict,
               inlined: set) -> dict[int, Node]:
    """Matmuls computed inside the kernel of the one elementwise value they feed (through
    inlined nodes only): id(epilogue root) -> matmul."""
    owners: dict[int, set[int]] = {}  # inlined node -> the stored values computing it
    by_id = {id(n): n for n in graph.nodes}
    for n in reversed(graph.nodes):
        if id(n) in inlined:
            owners[id(n)] = set().union(*(owners[id(u)] if id(u) in inlined else {id(u)}
                                          for u in consumers[id(n)]))
    found: dict[int, Node] = {}
    for mm in graph.nodes:
        users = consumers.get(id(mm), [])
        if cats[id(mm)] != "matmul" or id(mm) in out_ids or mm.dtype.kind != dt.FLOAT \
                or not users:
            continue
        roots = set().union(*(owners[id(u)] if id(u) in inlined else {id(u)} for u in users))
        if len(roots) != 1:
            continue
        root = by_id[roots.pop()]
        if cats[id(root)] == "map" and root.shape == mm.shape and root.dtype is mm.dtype \
                and id(root) not in found:
            found[id(root)] = mm
    return found


def _build(p: Plan, n: Node, c: str, out: View, inlined: set, mm: Node | None) -> Kernel:
    if c == "reduce":
        x = n.inputs[0]
        axes = tuple(a for a in n.attrs["axes"] if a < len(x.shape))
        nodes = _tree(x, inlined) if id(x) in inlined else []
        return _kernel(p, "reduce", n, out, x.shape, x, nodes, axes)
    if c == "matmul":
        return _kernel(p, "matmul", n, out, n.shape, n, matmul=n)
    if c == "piece":
        return _pieces(p, n, out)
    if c == "gather":
        x, index = n.inputs
        k = Kernel(f"k{len(p.steps)}_gather", "gather", n, out, tuple(n.shape), n)
        for v in (x, index):
            _read(p, k, v)
        k.checks[id(n)] = _check(p, n)
        return k
    if c == "random":
        k = Kernel(f"k{len(p.steps)}_random", "random", n, out, tuple(n.shape), n)
        for v in n.inputs:
            if type(v) is Node:
                _read(p, k, v)
        return k
    if c == "scatter_add":
        base, index, src = n.inputs
        k = Kernel(f"k{len(p.steps)}_scatter_add", "scatter_add", n, out, tuple(n.shape), n)
        for v in (base, index, src):
            _read(p, k, v)
        k.checks[id(n)] = _check(p, n)
        return k
    if mm is None:
        return _kernel(p, "map", n, out, n.shape, n, _tree(n, inlined))
    return _kernel(p, "matmul", n, out, n.shape, n, _tree(n, inlined, stop=mm), matmul=mm)


def _kernel(p: Plan, kind: str, root: Node, out: View, domain: tuple, value: Node,
            nodes: list[Node] = (), reduced: tuple = (), matmul: Node | None = None) -> Kernel:
    k = Kernel(f"k{len(p.steps)}_{root.op.name}", kind, root, out, tuple(domain), value,
               list(nodes), reduced=reduced, matmul=matmul)
    inside = {id(m) for m in nodes}
    if matmul is not None:
        inside.add(id(matmul))
        k.reads[id(matmul)], k.read_nodes[id(matmul)] = out, matmul  # the epilogue's input
        for x in matmul.inputs:
            _read(p, k, x)
    for m in nodes:
        for x in m.inputs:
            if type(x) is Node and id(x) not in inside:
                _read(p, k, x)
        if m.op.failure is not None:
            k.checks[id(m)] = _check(p, m)
    if value is not root or not nodes:
        if id(value) not in inside:
            _read(p, k, value)
    return k


def _pieces(p: Plan, n: Node, out: View) -> Kernel:
    """pad and concat: the output is its inputs placed in boxes (over a fill value)."""
    k = Kernel(f"k{len(p.steps)}_{n.op.name}", "piece", n, out, tuple(n.shape), n)
    if n.op.name == "pad":
        (x,) = n.inputs
        lo = tuple(a for a, _ in n.attrs["widths"])
        k.pieces.append((id(x), lo, tuple(a + d for a, d in zip(lo, x.shape))))
        k.fill = n.attrs["value"]
    else:
        axis, pos = n.attrs["axis"], 0
        for x in n.inputs:
            lo = tuple(pos if i == axis else 0 for i in range(len(n.shape)))
            hi = tuple(pos + x.shape[axis] if i == axis else d for i, d in enumerate(n.shape))
            k.pieces.append((id(x), lo, hi))
            pos += x.shape[axis]
    for x in n.inputs:
        _read(p, k, x)
    return k


def _check(p: Plan, n: Node) -> int:
    """Register a check of node ``n`` (an op with a ``failure``): a kernel that finds a bad
    value writes (the check's number, the value) to the program's error buffer, and the
    runtime raises ``n.op.failure``'s error after the call."""
    _error_buffer(p)
    p.checks.append(n)
    return len(p.checks)


def _error_buffer(p: Plan) -> None:
    if p.error_slot is None:
        b = Buffer(len(p.buffers), "const", (2,), dt.int64, value=np.zeros(2, np.int64))
        p.buffers.append(b)
        p.error_slot = b.slot


def _read(p: Plan, k: Kernel, x: Node) -> None:
    if id(x) not in k.reads:
        k.reads[id(x)] = p.loc[id(x)]
        k.read_nodes[id(x)] = x


def _tree(top: Node, inlined: set, stop: Node | None = None) -> list[Node]:
    """``top`` and the inlined nodes it is computed from, each after its inputs."""
    order: list[Node] = []
    seen: set[int] = set()

    def visit(n: Node) -> None:
        seen.add(id(n))
        for x in n.inputs:
            if type(x) is Node and id(x) not in seen and id(x) in inlined and x is not stop:
                visit(x)
        order.append(n)
    visit(top)
    return order


# ---------------------------------------------------------------- the arena

def _plan_arena(p: Plan) -> None:
    """Give each arena buffer an offset; buffers whose lifetimes do not overlap share."""
    last: dict[int, int] = {}
    end = len(p.steps)
    for s, step in enumerate(p.steps):
        views = step.reads.values() if isinstance(step, (Kernel, Rows)) else \
            [p.loc[id(x)] for x in step.inputs if type(x) is Node]
        for v in views:
            last[v.slot] = s
    for kind, v in p.outputs:
        if kind == "copy":
            last[v.slot] = end
    free: list[tuple[int, int]] = []  # (offset, size), sorted, coalesced
    top = 0

    def alloc(size: int) -> int:
        nonlocal top
        size = -(-size // ALIGN) * ALIGN
        for i, (off, sz) in enumerate(free):
            if sz >= size:
                free[i:i + 1] = [(off + size, sz - size)] if sz > size else []
                return off
        off, top = top, top + size
        return off

    def release(off: int, size: int) -> None:
        size = -(-size // ALIGN) * ALIGN
        free.append((off, size))
        free.sort()
        merged: list[tuple[int, int]] = []
        for o, s in free:
            if merged and merged[-1][0] + merged[-1][1] == o:
                merged[-1] = (merged[-1][0], merged[-1][1] + s)
            else:
                merged.append((o, s))
        free[:] = merged

    dying: dict[int, list[Buffer]] = {}
    for s, step in enumerate(p.steps):
        kernels = step.kernels if isinstance(step, Rows) else [step] \
            if isinstance(step, Kernel) else []
        for k in kernels:  # a group's buffers are all live while any of its rows run
            b = p.buffers[k.out.slot]
            if b.kind == "arena":
                b.offset = alloc(b.nbytes)
                dying.setdefault(max(last.get(b.slot, s), s), []).append(b)
        for b in dying.pop(s, []):
            release(b.offset, b.nbytes)
    p.arena_bytes = top
