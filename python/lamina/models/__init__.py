"""Ready-made models: MLP and LeNet-5 (more come with the later architecture issues)."""
from .lenet import LeNet5  # noqa: F401
from .mlp import MLP  # noqa: F401
