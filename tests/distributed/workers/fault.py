"""Faults end the whole job with the failing rank's message instead of hanging. argv[1]:
  raise     the last rank raises while the others wait in an all_reduce
  timeout   the last rank never joins the all_reduce; the others time out after 2 s and their
            uncaught DistTimeoutError aborts the job (the sleeping rank included)
  mismatch  tensors of different shapes: every rank raises DistError, uncaught
  ddp       ranks build different models: DistributedDataParallel names the parameter
  ddp_raise the last rank raises in the middle of backward (a gradient hook) while the others
            wait in DDP's shared-memory reduction
  ddp_hang  the last rank never runs backward; the others' shared-memory wait times out (2 s)
"""
import sys
import time

import lamina
import lamina.distributed as dist
from lamina import nn


def say(*parts):
    """One write per line: several ranks share mpiexec's stdout."""
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


mode = sys.argv[1]
dist.init_process_group(timeout=2.0 if mode in ("timeout", "ddp_hang") else 60.0)
r, n = dist.get_rank(), dist.get_world_size()
last = n - 1
if mode == "raise":
    if r == last:
        time.sleep(0.2)
        raise ValueError(f"rank {r} failed on purpose")
    dist.all_reduce(lamina.ones(4))
elif mode == "timeout":
    if r == last:
        time.sleep(60)
    else:
        dist.all_reduce(lamina.ones(4))
elif mode == "mismatch":
    dist.all_reduce(lamina.zeros(2, 2 + r))
elif mode == "ddp":
    from lamina.nn.parallel import DistributedDataParallel as DDP

    DDP(nn.Sequential(nn.Linear(4, 8 if r != last else 6), nn.ReLU()))
elif mode in ("ddp_raise", "ddp_hang"):
    from lamina.nn.parallel import DistributedDataParallel as DDP

    d = DDP(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    assert d._shm is not None
    d(lamina.ones(3, 4)).sum().backward()  # one good iteration first
    out = d(lamina.ones(3, 4))
    if r == last:
        if mode == "ddp_hang":
            time.sleep(60)

        def boom(g):
            raise ValueError(f"rank {r} failed in backward on purpose")
        d.module[0].weight.register_hook(boom)  # after the last layer's gradients are in the window
    out.sum().backward()
say(f"rank {r}: not reached")
