"""Tests generated from the op table's error inputs (graphc/testing/error_inputs.py).

For each bad call: PyTorch raises the listed builtin with a matching message (the table is
honest), and graphc raises an instance of the same builtin whose message names the op
(its PyTorch name) and the user's line (a line of this file), eagerly and compiled.
"""
from __future__ import annotations

import re
import traceback

import pytest

import graphc
from graphc.testing.op_table import OPS, all_error_inputs

try:
    import torch
except ImportError:  # the oracle is optional; CI installs it
    torch = None

CASES = [pytest.param(c, e, id=f"{c.name}-{e.what}") for c in OPS for e in all_error_inputs(c)]


def _fn(c, e):
    return e.fn or c.fn


def _skip_unless_possible(e, module) -> None:
    if e.needs == "cuda":
        if module is graphc and not graphc.cuda.is_available():
            pytest.skip("needs a CUDA device")
        if module is torch and not torch.cuda.is_available():
            pytest.skip("needs PyTorch with CUDA")


def _check_message(c, e, exc: BaseException) -> None:
    """``exc`` is an ``e.error`` naming the op and a line of this file (the user's code)."""
    msg = str(exc)
    assert isinstance(exc, e.error), \
        f"{c.name}/{e.what}: raised {type(exc).__mro__} instead of a {e.error.__name__}: {msg}"
    op = c.op_name or c.name
    assert re.search(rf"(?<![\w.])({op})(?!\w)", msg), \
        f"{c.name}/{e.what}: the message does not name {op!r}: {msg}"
    lines = {f"{f.filename}:{f.lineno}" for f in traceback.extract_tb(exc.__traceback__)
             if f.filename == __file__}
    assert any(line in msg for line in lines), \
        f"{c.name}/{e.what}: the message does not give the user's line ({lines}): {msg}"


@pytest.mark.skipif(torch is None, reason="PyTorch (the oracle extra) is not installed")
@pytest.mark.parametrize("c,e", CASES)
def test_pytorch_raises_listed_error(c, e):
    _skip_unless_possible(e, torch)
    args = e.make(torch)
    with pytest.raises(e.error, match=e.match):
        _fn(c, e)(torch, *args)


@pytest.mark.parametrize("c,e", CASES)
def test_eager_raises_listed_error(c, e):
    _skip_unless_possible(e, graphc)
    args = e.make(graphc)
    with pytest.raises(Exception) as info:
        _fn(c, e)(graphc, *args)
    _check_message(c, e, info.value)


@pytest.mark.parametrize("c,e", CASES)
def test_compiled_raises_listed_error(c, e):
    """Tensors become arguments of the compiled function, anything else is captured; the
    error may come at trace time or from the native call."""
    _skip_unless_possible(e, graphc)
    if e.traced or "eager_only" in c.tags:
        pytest.skip(f"eager only: {e.traced or 'the entry does not trace'}")
    fn, args = _fn(c, e), e.make(graphc)
    at = [i for i, a in enumerate(args) if isinstance(a, graphc.Tensor)]

    def program(*tensors):
        full = list(args)
        for i, t in zip(at, tensors):
            full[i] = t
        return fn(graphc, *full)

    with pytest.raises(Exception) as info:
        graphc.compile(program)(*[args[i] for i in at])
    _check_message(c, e, info.value)
