"""``graphc.nn``: modules (layers, activations, losses, containers), ``functional``, ``init``
and ``utils``."""
from . import attention, functional, init, utils
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all

__all__ = ["attention", "functional", "init", "utils", *_modules_all]
