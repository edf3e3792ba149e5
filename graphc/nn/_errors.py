"""Exceptions of nn: argument values PyTorch's nn functions reject with RuntimeError, and
the attention layers' AssertionErrors."""
from __future__ import annotations

from ..ir.errors import (
    GraphcError,
    InvalidArgument,  # noqa: F401  (defined with graphc's other errors)
)


class AttentionAssertion(GraphcError, AssertionError):
    """Shapes or arguments that PyTorch's attention layers reject with AssertionError (a
    query of the wrong embedding size, a key_padding_mask of the wrong shape, ...)."""
