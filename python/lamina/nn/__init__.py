"""``lamina.nn``: functional ops now; modules, layers and losses come with the training stack."""
from . import functional  # noqa: F401
