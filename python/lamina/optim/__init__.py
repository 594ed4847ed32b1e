"""``lamina.optim``: optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) whose update runs as one fused
C++ call over all parameters of a group, and learning-rate schedulers (``lamina.optim.lr_scheduler``),
with PyTorch's names, arguments, formulas and state_dict layout.
"""
from . import lr_scheduler  # noqa: F401
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
