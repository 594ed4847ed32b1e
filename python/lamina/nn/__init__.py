"""``lamina.nn``: modules, layers, losses, initialisers and the functional API (PyTorch names)."""
from . import functional, init, parallel, utils  # noqa: F401
from .containers import ModuleDict, ModuleList, Sequential  # noqa: F401
from .layers import *  # noqa: F401,F403
from .layers import (  # noqa: F401
    RBF, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, BatchNorm1d, BatchNorm2d, ConicSection, Conv1d, Conv2d,
    ConvTranspose1d, ConvTranspose2d, Dropout, Embedding, Flatten, Identity, LayerNorm, Linear, MaxPool1d, MaxPool2d,
    MultiheadAttention, PositionalEncoding, SyncBatchNorm, TransformerEncoder, TransformerEncoderLayer, Unflatten,
)
from .layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase  # noqa: F401
from .losses import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss,
)
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
