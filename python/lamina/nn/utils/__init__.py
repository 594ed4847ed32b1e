"""``lamina.nn.utils``: helpers around parameters and gradients (gradient clipping) and
variable-length sequence batches for the recurrent layers (``lamina.nn.utils.rnn``), and
``freeze`` / ``unfreeze`` for fine-tuning."""
from . import rnn  # noqa: F401
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .freeze import freeze, unfreeze

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "freeze", "unfreeze"]
