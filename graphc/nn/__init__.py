"""``graphc.nn``: layers, losses and the functional API (layers come with the training issue)."""
from . import functional

__all__ = ["functional"]
