"""Property tests (hypothesis) of @graphc.compile on random programs: a random graph of
elementwise ops, broadcasting, reductions, movement ops and matmuls in float32, float64 or
both, run on contiguous, strided, permuted, broadcast and aliased arguments, gives the same
outputs compiled, eager and in numpy; its gradients compiled equal eager's."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc

# every new program shape costs an LLVM compile (50-200 ms): few examples, no deadline
SETTINGS = settings(max_examples=50, deadline=None)

# sizes 0, 1, odd sizes, and 17 to pass a vector width with a remainder; 0 is one choice
# in nine so most programs do real work
SIZES = [1, 3, 2, 5, 7, 4, 1, 0, 17]
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


# ---------------------------------------------------------------- ops
# Each op: name -> (graphc fn, numpy fn), both called as fn(operands, params).

def _np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


UNARY = {
    "neg": (lambda t: -t, np.negative),
    "abs": (graphc.abs, np.abs),
    "exp": (lambda t: graphc.clamp(t, -4.0, 4.0).exp(), lambda a: np.exp(np.clip(a, -4, 4))),
    "log": (lambda t: (t.abs() + 1).log(), lambda a: np.log(np.abs(a) + 1)),
    "tanh": (graphc.tanh, np.tanh),
    "sqrt": (lambda t: t.abs().sqrt(), lambda a: np.sqrt(np.abs(a))),
    "sin": (graphc.sin, np.sin),
    "sigmoid": (graphc.sigmoid, _np_sigmoid),
    "relu": (graphc.relu, lambda a: np.maximum(a, 0)),
    "square": (lambda t: t * t, lambda a: a * a),
    "reciprocal": (lambda t: (t.abs() + 1).reciprocal(), lambda a: 1 / (np.abs(a) + 1)),
}

# Python-scalar operands; 0 and 1 among the constants tempt algebraic simplification
SCALAR = {
    "add_s": (lambda t, c: t + c, lambda a, c: a + c),
    "radd_s": (lambda t, c: c + t, lambda a, c: c + a),
    "sub_s": (lambda t, c: t - c, lambda a, c: a - c),
    "rsub_s": (lambda t, c: c - t, lambda a, c: c - a),
    "mul_s": (lambda t, c: t * c, lambda a, c: a * c),
    "rmul_s": (lambda t, c: c * t, lambda a, c: c * a),
    "div_s": (lambda t, c: t / (c + 4.0), lambda a, c: a / (c + 4.0)),
    "rdiv_s": (lambda t, c: c / (t.abs() + 1), lambda a, c: c / (np.abs(a) + 1)),
    "pow_s": (lambda t, c: t.abs() ** c, lambda a, c: np.abs(a) ** c),
    "where_s": (lambda t, c: graphc.where(t > c, t, c), lambda a, c: np.where(a > c, a, c)),
    "clamp": (lambda t, c: graphc.clamp(t, *c), lambda a, c: np.clip(a, *c)),
}
CONSTANTS = [2.5, 0.0, 1.0, -1.0, 0.5, 2.0, -3.0]
CLAMPS = [(-1.0, 1.0), (0.0, None), (None, 0.5), (0.5, 0.5)]

COMPARISONS = {"gt", "le", "eq", "ne"}  # cast back to the first operand's dtype

BINARY = {
    "add": (lambda x, y: x + y, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / (y.abs() + 1), lambda a, b: a / (np.abs(b) + 1)),
    "maximum": (graphc.maximum, np.maximum),
    "minimum": (graphc.minimum, np.minimum),
    "where": (lambda x, y: graphc.where(x > y, x, y), lambda a, b: np.where(a > b, a, b)),
    "gt": (lambda x, y: (x > y).to(x.dtype), np.greater),
    "le": (lambda x, y: (x <= y).to(x.dtype), np.less_equal),
    "eq": (lambda x, y: (x == y).to(x.dtype), np.equal),
    "ne": (lambda x, y: (x != y).to(x.dtype), np.not_equal),
}


def _g_reduce(t, p):
    op, dim, keep = p
    if dim is None:
        return {"sum": t.sum, "mean": t.mean, "max": t.max}[op]()
    if op == "max":
        # amax takes several dims; max(dim) one, and returns (values, indices)
        return graphc.amax(t, dim, keep) if isinstance(dim, tuple) else t.max(dim, keep).values
    return {"sum": t.sum, "mean": t.mean}[op](dim, keepdim=keep)


def _np_reduce(a, p):
    op, dim, keep = p
    fn = {"sum": np.sum, "mean": np.mean, "max": np.amax}[op]
    return fn(a, axis=dim, keepdims=keep and dim is not None)


def _g_expand(t, p):
    shape, how = p
    if how == "broadcast_to":
        return graphc.broadcast_to(t, shape)
    if how == "minus_one":  # -1 keeps a dim that is already there
        lead = len(shape) - t.ndim
        shape = [s if i < lead or t.shape[i - lead] != s else -1 for i, s in enumerate(shape)]
    return t.expand(*shape)


def _slice_index(p):
    axis, start, stop, step = p
    return (slice(None),) * axis + (slice(start, stop, step),)


# graphc refuses negative slice steps as PyTorch does: flip reverses instead
MOVEMENT = {
    "permute": (lambda t, p: t.permute(*p), lambda a, p: np.transpose(a, p)),
    "transpose": (lambda t, p: t.transpose(*p), lambda a, p: np.swapaxes(a, *p)),
    "reshape": (lambda t, p: t.reshape(p), lambda a, p: a.reshape(p)),
    "flatten": (lambda t, p: t.reshape(-1), lambda a, p: a.reshape(-1)),
    "unsqueeze": (lambda t, p: t.unsqueeze(p), lambda a, p: np.expand_dims(a, p)),
    "squeeze": (lambda t, p: t.squeeze() if p is None else t.squeeze(p),
                lambda a, p: np.squeeze(a, p)),
    "expand": (_g_expand, lambda a, p: np.broadcast_to(a, p[0])),
    "slice": (lambda t, p: t[_slice_index(p)], lambda a, p: a[_slice_index(p)]),
    "select": (lambda t, p: t[(slice(None),) * p[0] + (p[1],)],
               lambda a, p: a[(slice(None),) * p[0] + (p[1],)]),
    "flip": (lambda t, p: graphc.flip(t, p), lambda a, p: np.flip(a, p)),
    "narrow": (lambda t, p: t.narrow(*p),
               lambda a, p: a[(slice(None),) * p[0] + (slice(p[1], p[1] + p[2]),)]),
}


@dataclass
class Step:
    op: str
    args: tuple[int, ...]  # indices into the pool of values
    param: object = None


@dataclass
class Program:
    tol: str  # the least precise dtype in the program sets the tolerance
    inputs: list[tuple[tuple[int, ...], str, str, object]]  # shape, dtype, layout, its param
    steps: list[Step] = field(default_factory=list)
    outputs: tuple[int, ...] = ()
    seed: int = 0


def run_graphc(prog: Program, xs):
    pool = list(xs)
    for s in prog.steps:
        pool.append(apply_graphc(s, [pool[i] for i in s.args]))
    return tuple(pool[i] for i in prog.outputs)


def apply_graphc(s: Step, args):
    if s.op in UNARY:
        return UNARY[s.op][0](*args)
    if s.op in SCALAR:
        return SCALAR[s.op][0](*args, s.param)
    if s.op in BINARY:
        return BINARY[s.op][0](*args)
    if s.op == "cast":
        return args[0].to(getattr(graphc, s.param))
    if s.op == "reduce":
        return _g_reduce(args[0], s.param)
    if s.op == "matmul":
        a, b = args
        return {None: lambda: a @ b, "T": lambda: a @ b.transpose(0, 1),
                "left": lambda: b @ a}[s.param]()
    return MOVEMENT[s.op][0](args[0], s.param)


def apply_numpy(s: Step, args) -> np.ndarray:
    """The step in numpy, in the dtype graphc's (PyTorch's) promotion gives."""
    if s.op == "cast":
        return args[0].astype(s.param)
    # PyTorch's promotion: 0-d tensors only count when every operand is 0-d; operands are
    # converted to the common dtype first, comparisons included
    common = np.result_type(*([a for a in args if a.ndim] or args))
    dtype = args[0].dtype if s.op in COMPARISONS else common
    args = [a.astype(common) for a in args]
    if s.op in UNARY:
        out = UNARY[s.op][1](*args)
    elif s.op in SCALAR:
        out = SCALAR[s.op][1](*args, s.param)
    elif s.op in BINARY:
        out = BINARY[s.op][1](*args)
    elif s.op == "reduce":
        out = _np_reduce(args[0], s.param)
    elif s.op == "matmul":
        a, b = args
        out = {None: lambda: a @ b, "T": lambda: a @ b.T, "left": lambda: b @ a}[s.param]()
    else:
        out = MOVEMENT[s.op][1](args[0], s.param)
    return np.asarray(out).astype(dtype)  # comparisons give bool, 0-d numpy math may widen


def run_numpy(prog: Program, arrays):
    pool = list(arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow to inf is compared too
        for s in prog.steps:
            pool.append(apply_numpy(s, [pool[i] for i in s.args]))
    return tuple(pool[i] for i in prog.outputs)


# ---------------------------------------------------------------- strategies

def _broadcasts(a: tuple, b: tuple) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(a[::-1], b[::-1]))


@st.composite
def factor_shape(draw, numel: int):
    """A random shape with ``numel`` elements (rank 0-3); sometimes one dim is -1."""
    if numel == 0:
        rank = draw(st.integers(1, 3))
        shape = [draw(st.sampled_from([0, 1, 2, 3])) for _ in range(rank)]
        shape[draw(st.integers(0, rank - 1))] = 0
        return tuple(shape)
    shape, left = [], numel
    for _ in range(draw(st.integers(0, 2))):
        d = draw(st.sampled_from([k for k in range(1, left + 1) if left % k == 0]))
        shape.append(d)
        left //= d
    if left != 1 or draw(st.booleans()):
        shape.append(left)
    shape = draw(st.permutations(shape))
    if shape and draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    return tuple(shape)


@st.composite
def movement_step(draw, i: int, shape: tuple):
    r = len(shape)
    ops = ["reshape", "flatten", "unsqueeze", "expand"]
    if r >= 1:
        ops += ["permute", "slice", "flip", "narrow"]
    if r >= 2:
        ops += ["transpose"]
    if 1 in shape:
        ops += ["squeeze"]
    if any(shape):
        ops += ["select"]
    op = draw(st.sampled_from(ops))
    if op == "permute":
        p = tuple(draw(st.permutations(range(r))))
    elif op == "transpose":
        p = tuple(draw(st.permutations(range(r)))[:2])
    elif op == "reshape":
        p = draw(factor_shape(int(np.prod(shape))))
    elif op == "flatten":
        p = None
    elif op == "unsqueeze":
        p = draw(st.integers(-r - 1, r))
    elif op == "squeeze":
        ones = [d for d, s in enumerate(shape) if s == 1]
        p = draw(st.sampled_from([None, *ones, *(d - r for d in ones)]))
    elif op == "expand":
        lead = tuple(draw(st.lists(st.sampled_from(SIZES), max_size=max(0, 3 - r))))
        new = tuple(draw(st.sampled_from(SIZES)) if s == 1 else s for s in shape)
        p = (lead + new, draw(st.sampled_from(["expand", "broadcast_to", "minus_one"])))
    elif op == "slice":
        axis = draw(st.integers(0, r - 1))
        n = shape[axis]
        start = draw(st.sampled_from([None, 0, 1, 2]))
        stop = draw(st.sampled_from([None, n, max(n - 1, 0), -1]))
        p = (axis, start, stop, draw(st.sampled_from([None, 1, 2, 3])))
    elif op == "select":
        axis = draw(st.sampled_from([d for d, s in enumerate(shape) if s]))
        p = (axis, draw(st.integers(-shape[axis], shape[axis] - 1)))
    elif op == "flip":
        p = tuple(sorted(draw(st.lists(st.integers(0, r - 1), min_size=1, unique=True))))
    else:  # narrow
        dim = draw(st.integers(0, r - 1))
        start = draw(st.integers(0, shape[dim]))
        p = (dim, start, draw(st.integers(0, shape[dim] - start)))
    return Step(op, (i,), p)


@st.composite
def reduce_step(draw, i: int, shape: tuple):
    r = len(shape)
    op = draw(st.sampled_from(["sum", "mean", "max"]))
    if r == 0 or draw(st.integers(0, 5)) == 0:
        dim = None
    elif draw(st.booleans()):
        dim = draw(st.integers(-r, r - 1))
    else:
        dim = tuple(draw(st.lists(st.integers(0, r - 1), min_size=1, max_size=r, unique=True)))
    reduced = range(r) if dim is None else [dim] if isinstance(dim, int) else dim
    if op != "sum" and any(shape[d] == 0 for d in reduced):
        op = "sum"  # max of nothing is an error, a mean of nothing NaN: keep programs finite
    return Step("reduce", (i,), (op, dim, draw(st.booleans())))


@st.composite
def programs(draw):
    dtype = draw(st.sampled_from(["float32", "float64"]))
    mixed = draw(st.integers(0, 3)) == 0  # one program in four mixes f32 and f64
    base = [draw(st.sampled_from(SIZES)) for _ in range(draw(st.integers(0, 3)))]
    inputs = []
    for _ in range(draw(st.integers(1, 3))):
        shape = list(base[draw(st.integers(0, len(base))):])
        for d in range(len(shape)):
            if draw(st.integers(0, 3)) == 0:
                shape[d] = 1
        shape = tuple(shape)
        layouts = ["contiguous", "strided"] if shape else ["contiguous"]
        dt = draw(st.sampled_from(["float32", "float64"])) if mixed else dtype
        if any(s == shape for s, _, _, _ in inputs):
            layouts.append("same")  # the same tensor as an earlier argument
        if len(shape) >= 2:
            layouts.append("permuted")
        if any(s != 1 for s in shape):
            layouts.append("broadcast")
        layout = draw(st.sampled_from(layouts))
        if layout == "strided":
            lp = (draw(st.integers(0, len(shape) - 1)), draw(st.integers(0, 2)),
                  draw(st.integers(1, 3)))  # axis, offset, step
        elif layout == "permuted":
            lp = tuple(draw(st.permutations(range(len(shape)))))
        elif layout == "same":
            lp = draw(st.sampled_from([k for k, (s, _, _, _) in enumerate(inputs)
                                       if s == shape]))
            dt = inputs[lp][1]
        elif layout == "broadcast":
            lp = tuple(draw(st.lists(st.sampled_from([d for d, s in enumerate(shape) if s != 1]),
                                     min_size=1, unique=True)))
        else:
            lp = None
        inputs.append((shape, dt, layout, lp))
    prog = Program("float32" if mixed else dtype, inputs, seed=draw(st.integers(0, 2**32 - 1)))
    pool = [np.zeros(s, dt) for s, dt, _, _ in inputs]  # stand-ins with the values' shape, dtype
    kinds = ["unary", "scalar", "binary", "reduce", "movement", "matmul"]
    kinds += ["cast"] if mixed else []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(kinds))
        # later steps lean on recent values so programs are chains, not only fans
        i = draw(st.one_of(st.just(len(pool) - 1), st.integers(0, len(pool) - 1)))
        shape = pool[i].shape
        shapes = [a.shape for a in pool]
        if kind == "unary":
            step = Step(draw(st.sampled_from(sorted(UNARY))), (i,))
        elif kind == "scalar":
            op = draw(st.sampled_from(sorted(SCALAR)))
            c = draw(st.sampled_from(CLAMPS if op == "clamp" else CONSTANTS))
            step = Step(op, (i,), abs(c) if op == "pow_s" else c)
        elif kind == "cast":
            step = Step("cast", (i,), draw(st.sampled_from(["float32", "float64"])))
        elif kind == "binary":
            partners = [j for j, s in enumerate(shapes) if _broadcasts(shape, s)]
            op = draw(st.sampled_from(sorted(BINARY)))
            step = Step(op, tuple(draw(st.permutations([i, draw(st.sampled_from(partners))]))))
        elif kind == "reduce":
            step = draw(reduce_step(i, shape))
        elif kind == "matmul" and len(shape) == 2:
            m, k = shape
            same = [j for j, a in enumerate(pool) if a.dtype == pool[i].dtype]  # as PyTorch
            options = [(j, None) for j in same if shapes[j][:1] == (k,) and len(shapes[j]) <= 2]
            options += [(j, "left") for j in same if shapes[j] == (m,)]
            # x @ y.T for a y with x's columns: x itself at least
            options += [(j, "T") for j in same if len(shapes[j]) == 2 and shapes[j][1] == k]
            j, how = draw(st.sampled_from(options))
            step = Step("matmul", (i, j), how)
        else:
            step = draw(movement_step(i, shape))
        prog.steps.append(step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pool.append(apply_numpy(step, [pool[j] for j in step.args]))
    last = len(pool) - 1
    extra = draw(st.lists(st.integers(0, last), max_size=2))
    prog.outputs = (last, *extra)
    return prog


# ---------------------------------------------------------------- inputs

def make_inputs(prog: Program, rng: np.random.Generator, contiguous: bool = False):
    """The program's arguments as graphc tensors laid out as the program says, and their
    logical values in numpy. ``contiguous`` gives the same values in fresh dense tensors."""
    arrays, tensors = [], []
    for shape, dtype, layout, lp in prog.inputs:
        if layout == "same":
            arrays.append(arrays[lp])
            tensors.append(tensors[lp])
            continue
        if layout == "broadcast":  # constant along the broadcast dims
            small = tuple(1 if d in lp else s for d, s in enumerate(shape))
            src = rng.uniform(-2, 2, small).astype(dtype)
            arrays.append(np.broadcast_to(src, shape))
            tensors.append(graphc.tensor(src).expand(*shape))
            continue
        a = rng.uniform(-2, 2, shape).astype(dtype)
        arrays.append(a)
        if layout == "permuted":
            tensors.append(graphc.tensor(np.array(
                np.transpose(a, np.argsort(lp)), order="C")).permute(*lp))
        elif layout == "strided":
            axis, offset, step = lp
            big_shape = list(shape)
            big_shape[axis] = offset + step * shape[axis] + 1
            big = rng.uniform(-9, 9, big_shape).astype(dtype)
            index = (slice(None),) * axis + (slice(offset, offset + step * shape[axis], step),)
            big[index] = a
            tensors.append(graphc.tensor(big)[index])
        else:
            tensors.append(graphc.tensor(a))
    for t, a in zip(tensors, arrays):
        assert t.shape == a.shape
    if contiguous:
        tensors = [graphc.tensor(np.array(a, order="C")) for a in arrays]
    return tensors, arrays


def assert_close(got, want, tol: str, what: str) -> None:
    """Same number of outputs, each of the same shape and dtype, values close at ``tol``'s
    tolerance."""
    assert len(got) == len(want), what
    for k, (a, b) in enumerate(zip(got, want)):
        b_val = b if isinstance(b, np.ndarray) else b.detach().numpy()
        assert tuple(a.shape) == b_val.shape, f"{what}: output {k} shape"
        assert a.dtype.name == b_val.dtype.name, f"{what}: output {k} dtype"
        np.testing.assert_allclose(a.detach().numpy(), b_val, **TOL[tol],
                                   err_msg=f"{what}: output {k}")


# ---------------------------------------------------------------- tests

@SETTINGS
@given(prog=programs())
def test_random_programs_compiled_equals_eager_equals_numpy(prog: Program):
    tensors, arrays = make_inputs(prog, np.random.default_rng(prog.seed))

    def fn(*xs):
        return run_graphc(prog, xs)

    eager = fn(*tensors)
    assert_close(eager, run_numpy(prog, arrays), prog.tol, "eager vs numpy")
    compiled = graphc.compile(fn)
    assert_close(compiled(*tensors), eager, prog.tol, "compiled vs eager")
    # new values, in dense tensors (a kernel must not assume the first call's strides), then
    # in the first layout again (a cached kernel must read the new buffers)
    for contiguous in (True, False):
        again, _ = make_inputs(prog, np.random.default_rng(prog.seed + 1), contiguous)
        assert_close(compiled(*again), fn(*again), prog.tol,
                     f"compiled vs eager, second call, contiguous={contiguous}")


@SETTINGS
@given(prog=programs())
def test_random_program_gradients_compiled_equal_eager(prog: Program):
    rng = np.random.default_rng(prog.seed)
    tensors, _ = make_inputs(prog, rng)
    # the inputs are outputs too, so the loss needs grad even when the program cuts it off
    outs = run_graphc(prog, tensors) + tuple(tensors)
    cotangents = [graphc.tensor(rng.uniform(-1, 1, o.shape).astype(o.dtype.name)) for o in outs]

    def loss_and_grads(*xs):
        outs = run_graphc(prog, xs) + xs
        loss = sum((o * c).sum() for o, c in zip(outs, cotangents))
        return (loss, *graphc.autograd.grad(loss, xs, allow_unused=True,
                                            materialize_grads=True))

    def leaves():
        return [t.detach().requires_grad_() for t in tensors]

    eager = loss_and_grads(*leaves())
    compiled = graphc.compile(loss_and_grads)(*leaves())
    assert_close(compiled, eager, prog.tol, "compiled vs eager gradients")

