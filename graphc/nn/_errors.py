"""The exception for argument values that PyTorch's nn functions reject with RuntimeError."""
from __future__ import annotations

from ..ir.errors import InvalidArgument  # noqa: F401  (defined with graphc's other errors)
