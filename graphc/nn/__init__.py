"""``graphc.nn``: modules (layers, activations, losses, containers), ``functional``, ``init``
and ``utils``."""
from . import functional, init, utils
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all

__all__ = ["functional", "init", "utils", *_modules_all]
