"""DDP communication hooks (PyTorch's ``torch.distributed.algorithms.ddp_comm_hooks``):
``default_hooks.allreduce_hook``, ``fp16_compress_hook`` and ``bf16_compress_hook``, registered
with ``DistributedDataParallel.register_comm_hook(state, hook)``."""
from . import default_hooks

__all__ = ["default_hooks"]
