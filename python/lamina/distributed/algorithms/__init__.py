"""``lamina.distributed.algorithms``: training algorithms built on the collectives (PyTorch's
layout): ``ddp_comm_hooks`` holds the stock DDP communication hooks."""
