"""``graphc.optim``: PyTorch's optimizers and learning-rate schedulers.

Every optimizer's ``step()`` runs eagerly or inside ``@graphc.compile`` (traced once,
replayed natively); see ``optimizer.py`` for how state and hyperparameters stay live.
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "LBFGS", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
