"""Layers: each owns its parameters and their PyTorch-default initialisation; the math is in
lamina.nn.functional (lamina/ops)."""
from .activation import *  # noqa: F401,F403
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .embedding import Embedding  # noqa: F401
from .linear import Flatten, Identity, Linear, Unflatten  # noqa: F401
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm  # noqa: F401
from .pool import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d  # noqa: F401
from .rbf import RBF, ConicSection  # noqa: F401
from .rnn import *  # noqa: F401,F403
from .sync_batchnorm import SyncBatchNorm  # noqa: F401
from .transformer import *  # noqa: F401,F403
