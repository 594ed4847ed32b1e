"""``lamina.train``: a Keras-style ``fit`` loop with callbacks, metrics and a History — a
convenience over the plain PyTorch loop, not a cage."""
from .callbacks import (  # noqa: F401
    Callback, CSVLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ProgressBar,
)
from ._interrupt import TrainingInterrupted  # noqa: F401
from .checkpoint import load_training_state, save_training_state  # noqa: F401
from .history import History  # noqa: F401
from .loop import evaluate, fit, predict  # noqa: F401
from .metrics import accuracy  # noqa: F401
from .tensorboard import EpochScalars, TensorBoard  # noqa: F401
