"""Errors: PyTorch's exception types, messages that name the op, the operands and the user's line.

Every graphc error appends ``at <file>:<line>`` of the user's code (here: this
file, the line that made the bad call).
"""
from __future__ import annotations

from pathlib import Path

import pytest

import graphc

HERE = Path(__file__).resolve()


def _user_line(excinfo) -> int:
    """The line of this file where the exception left the test code (1-based)."""
    entries = [e for e in excinfo.traceback if Path(str(e.path)).resolve() == HERE]
    return entries[-1].lineno + 1


def check_message(excinfo, *words):
    msg = str(excinfo.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    assert f"{HERE.name}:{_user_line(excinfo)}" in msg, msg
    assert isinstance(excinfo.value, graphc.GraphcError)


# (name, expected builtin type, the failing call for module M, words the message names).
# The same call runs against PyTorch in test_exception_type_matches_torch.
CASES = [
    ("broadcast", RuntimeError,
     lambda M: M.ones(2, 3) + M.ones(4), ["add", "[2, 3]", "[4]"]),
    ("broadcast_mul", RuntimeError,
     lambda M: M.ones(2, 3) * M.ones(3, 2), ["mul", "[2, 3]", "[3, 2]"]),
    ("matmul_inner", RuntimeError,
     lambda M: M.ones(2, 3) @ M.ones(4, 5), ["matmul", "2x3", "4x5"]),
    ("matmul_batched", RuntimeError,
     lambda M: M.ones(2, 3, 4) @ M.ones(2, 5, 6), ["matmul", "[2, 3, 4]", "[2, 5, 6]"]),
    ("mm_1d", RuntimeError,
     lambda M: M.mm(M.ones(3), M.ones(3)), ["mm", "1-D"]),
    ("dot_size", RuntimeError,
     lambda M: M.dot(M.ones(3), M.ones(4)), ["dot", "[3]", "[4]"]),
    ("matmul_dtype", RuntimeError,
     lambda M: M.ones(2, 3) @ M.ones(3, 2, dtype=M.float64), ["matmul", "float32", "float64"]),
    ("float_index", IndexError,
     lambda M: M.ones(2, 3)[M.tensor([0.0])], ["indices", "float32"]),
    ("index_out_of_range", IndexError,
     lambda M: M.ones(2, 3)[5], ["index 5", "size 2"]),
    ("index_out_of_range_dim1", IndexError,
     lambda M: M.ones(2, 3)[0, -4], ["index -4", "dimension 1", "size 3"]),
    ("tensor_index_out_of_range", IndexError,
     lambda M: M.ones(2, 3)[M.tensor([0, 7])], ["index 7", "size 2"]),
    ("too_many_indices", IndexError,
     lambda M: M.ones(2, 3)[0, 0, 0], ["too many indices", "2"]),
    ("mean_int", RuntimeError,
     lambda M: M.tensor([1, 2]).mean(), ["mean", "int64"]),
    ("view_noncontiguous", RuntimeError,
     lambda M: M.ones(2, 3).t().view(6), ["view", "[3, 2]", "reshape"]),
    ("cat_shape", RuntimeError,
     lambda M: M.cat([M.ones(2, 3), M.ones(2, 4)]), ["cat", "[2,3]", "[2,4]"]),
    ("stack_shape", RuntimeError,
     lambda M: M.stack([M.ones(2), M.ones(3)]), ["stack", "[2]", "[3]"]),
    ("reshape_size", RuntimeError,
     lambda M: M.ones(2, 3).reshape(4, 2), ["reshape", "[4, 2]", "6"]),
    ("view_size", RuntimeError,
     lambda M: M.ones(2, 3).view(5, -1), ["[5, -1]", "6"]),
    ("expand", RuntimeError,
     lambda M: M.ones(2, 3).expand(4, 3), ["expand", "4", "2"]),
    ("sum_dim", IndexError,
     lambda M: M.ones(2, 3).sum(3), ["sum", "range", "3"]),
    ("requires_grad_int", RuntimeError,
     lambda M: M.tensor([1, 2], requires_grad=True), ["floating point", "int64"]),
    ("inplace_leaf", RuntimeError,
     lambda M: M.ones(2, requires_grad=True).add_(1), ["leaf", "in-place"]),
    ("inplace_shape", RuntimeError,
     lambda M: M.zeros(3).add_(M.ones(2, 3)), ["[3]", "[2, 3]"]),
    ("inplace_dtype", RuntimeError,
     lambda M: M.tensor([1, 2]).add_(0.5), ["add_", "float32", "int64"]),
    ("nonscalar_backward", RuntimeError,
     lambda M: (M.ones(2, requires_grad=True) * 2).backward(), ["scalar", "[2]"]),
    ("item_many", RuntimeError,
     lambda M: M.ones(2, 3).item(), ["6 elements"]),
    ("bool_many", RuntimeError,
     lambda M: bool(M.ones(2)), ["ambiguous"]),
    ("float_many", ValueError,
     lambda M: float(M.ones(2)), ["one element"]),
    ("neg_bool", RuntimeError,
     lambda M: -M.tensor([True, False]), ["bool"]),
    ("zeros_negative", RuntimeError,
     lambda M: M.zeros(2, -1), ["-1"]),
    ("split_size_zero", RuntimeError,
     lambda M: M.ones(2, 3).split(0), ["split", "0"]),
    ("setitem_shape", RuntimeError,
     lambda M: M.ones(2, 3).__setitem__(0, M.ones(2)), ["[2]", "[2, 3]"]),
]


@pytest.mark.parametrize("name, exc, call, words", CASES, ids=[c[0] for c in CASES])
def test_error_type_and_message(name, exc, call, words):
    with pytest.raises(exc) as excinfo:
        call(graphc)
    check_message(excinfo, *words)


@pytest.mark.parametrize("name, exc, call, words", CASES, ids=[c[0] for c in CASES])
def test_exception_type_matches_torch(name, exc, call, words):
    torch = pytest.importorskip("torch")
    with pytest.raises(exc):
        call(torch)


def test_gather_index_out_of_range():
    x = graphc.ones(2, 3)
    with pytest.raises(IndexError) as excinfo:
        x.gather(1, graphc.tensor([[0, 3]]))
    check_message(excinfo, "gather", "index 3", "size 3")
    with pytest.raises(IndexError) as excinfo:
        graphc.gather(x, 0, graphc.tensor([[-5, 0, 0]]))
    check_message(excinfo, "gather", "-5")


def test_scatter_add_index_out_of_range():
    with pytest.raises(IndexError) as excinfo:
        graphc.zeros(3).scatter_add(0, graphc.tensor([5]), graphc.ones(1))
    check_message(excinfo, "scatter_add", "index 5", "size 3")


def test_backward_twice():
    x = graphc.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as excinfo:
        y.backward()
    check_message(excinfo, "second time", "retain_graph=True")


def test_inplace_on_saved_value():
    x = graphc.ones(3, requires_grad=True)
    c = graphc.ones(3)
    y = x * c
    c.add_(1)
    with pytest.raises(RuntimeError) as excinfo:
        y.sum().backward()
    check_message(excinfo, "modified by an inplace operation", "[3]", "version 1",
                  "expected version 0")


def test_inplace_on_saved_value_names_the_forward_line():
    x = graphc.ones(3, requires_grad=True)
    y = x.exp()
    forward_line = _this_line() - 1
    z = y.sum()
    y.mul_(2)
    with pytest.raises(RuntimeError) as excinfo:
        z.backward()
    check_message(excinfo, "exp", f"{HERE.name}:{forward_line}")


def _this_line() -> int:
    import sys
    return sys._getframe(1).f_lineno


def test_backward_twice_names_where_the_graph_was_built():
    x = graphc.ones(2, requires_grad=True)
    y = (x.exp() * 2).sum()
    built = _this_line() - 1
    y.backward()
    with pytest.raises(RuntimeError) as excinfo:
        y.backward()
    check_message(excinfo, f"{HERE.name}:{built}")


def test_except_runtime_error_catches_shape_errors():
    caught = None
    try:
        graphc.ones(2, 3) + graphc.ones(4)
    except RuntimeError as e:  # the way ported PyTorch code catches it
        caught = e
    assert caught is not None
    assert issubclass(type(caught), RuntimeError)
    assert not isinstance(caught, ValueError)
    from graphc.ir.errors import ShapeError
    assert issubclass(ShapeError, RuntimeError)


def test_index_errors_are_index_errors_and_graphc_errors():
    try:
        graphc.arange(3)[3]
    except IndexError as e:
        assert isinstance(e, graphc.GraphcError)
        assert "size 3" in str(e)
    else:
        pytest.fail("no IndexError")


def test_error_location_points_into_helper_functions():
    def helper(a, b):
        return a @ b  # the innermost user frame is this line

    line = _this_line() - 2
    with pytest.raises(RuntimeError) as excinfo:
        helper(graphc.ones(2, 3), graphc.ones(2, 3))
    assert f"{HERE.name}:{line}" in str(excinfo.value)


def test_no_grad_leaf_inplace_allowed_then_errors_only_when_recording():
    w = graphc.ones(2, requires_grad=True)
    with graphc.no_grad():
        w.add_(1)  # fine: not recording
    with pytest.raises(RuntimeError) as excinfo:
        w.mul_(2)
    check_message(excinfo, "mul_", "leaf")


@pytest.mark.parametrize("call", [
    lambda: graphc.nn.functional.one_hot(graphc.tensor([0, 7]), 3),
    lambda: graphc.gather(graphc.zeros(2, 3), 1, graphc.tensor([[0, 3]])),
    lambda: graphc.zeros(3).scatter_add(0, graphc.tensor([5]), graphc.ones(1)),
])
def test_index_values_out_of_range_are_runtime_and_index_errors(call):
    """PyTorch raises RuntimeError here; graphc's error is an IndexError as well."""
    with pytest.raises(RuntimeError) as info:
        call()
    assert isinstance(info.value, IndexError)
    assert "out of bounds" in str(info.value) or "must be in" in str(info.value)
    assert "test_errors.py" in str(info.value)
