"""The layer classes of ``graphc.nn``."""
from .activation import *  # noqa: F403
from .activation import __all__ as _activations
from .container import ModuleDict, ModuleList, ParameterList, Sequential
from .layers import (
                     AdaptiveAvgPool2d,
                     AvgPool2d,
                     BatchNorm1d,
                     BatchNorm2d,
                     Conv1d,
                     Conv2d,
                     Dropout,
                     Embedding,
                     Flatten,
                     GroupNorm,
                     Identity,
                     LayerNorm,
                     Linear,
                     MaxPool2d,
                     Unflatten,
)
from .loss import (
                     BCELoss,
                     BCEWithLogitsLoss,
                     CrossEntropyLoss,
                     HuberLoss,
                     L1Loss,
                     MSELoss,
                     NLLLoss,
                     SmoothL1Loss,
)
from .module import Module, Parameter
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .transformer import *  # noqa: F403
from .transformer import __all__ as _transformers

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "Identity", "Linear", "Flatten", "Unflatten", "Dropout", "Embedding", "Conv1d",
           "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "GroupNorm", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "NLLLoss",
           "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", *_activations, *_transformers,
           "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
