"""``lamina.backends``: what the compiled core runs on, after ``torch.backends`` (only ``cpu`` so far)."""
from . import cpu  # noqa: F401
