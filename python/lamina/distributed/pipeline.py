"""Pipeline (model) parallelism over MPI ranks, GPipe-style: ``Pipe(nn.Sequential, balance,
chunks)`` places ``balance[r]`` consecutive layers on rank r, splits each batch into ``chunks``
micro-batches, streams their activations forward from stage to stage and their gradients back.

    pipe = Pipe(model, balance=[3, 2], chunks=4)   # same call on every rank
    out = pipe(x if pipe.is_first else None)       # the output on the last stage, None elsewhere
    loss = loss_fn(out, y) if pipe.is_last else None
    pipe.backward(loss)                            # every rank; then each steps its own stage

Outputs and gradients equal the unsplit model's (the micro-batches are concatenated before the
loss), except for layers that couple the samples of a batch (BatchNorm sees micro-batches).
Rank r stays idle for part of each step (the bubble, (S - 1) / (M + S - 1) of it for S stages
and M micro-batches), so a pipeline pays when the model does not fit in one process, or to
combine the memory of several machines; on one machine data parallelism is faster.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..autograd.api import backward as _autograd_backward
from ..autograd.grad_mode import is_grad_enabled
from ..nn.containers import Sequential
from ..nn.module import Module
from ..ops.creation import tensor as _tensor
from ..ops.join import cat, chunk
from .collectives import recv_tensor, send_tensor
from .process_group import _group

_COUNT_TAG = 0  # messages with tag 1 + m carry micro-batch m (activations forward, gradients back)


class Pipe(Module):
    """Splits ``module`` (an ``nn.Sequential``) into ``len(balance)`` stages, one per rank of the
    group (``balance[r]`` layers on rank r), and runs a batch as ``chunks`` micro-batches.

    ``forward(x)``: the first stage takes the batch (other ranks pass None); the last stage
    returns the output for the whole batch (micro-batch outputs concatenated), the others None.
    ``backward(loss)``: on the last stage ``loss.backward()`` (the loss of this forward's output;
    other ranks pass None) and every rank sends and receives gradients until its stage's
    parameters hold theirs. ``parameters()`` and ``state_dict()`` cover this rank's stage only
    (keys keep the full model's layer names). Stages pass one tensor from layer to layer.
    """

    def __init__(self, module: Sequential, balance, chunks: int = 1, group=None) -> None:
        super().__init__()
        if not isinstance(module, Sequential):
            raise TypeError(f"Pipe: expected an nn.Sequential, got {type(module).__name__}")
        pg = _group(group)
        balance = [int(b) for b in balance]
        if len(balance) != pg.size:
            raise ValueError(f"Pipe: balance {balance} has {len(balance)} stages but the group has {pg.size} ranks "
                             "(one stage per rank)")
        if any(b <= 0 for b in balance) or sum(balance) != len(module):
            raise ValueError(f"Pipe: balance {balance} must be positive and sum to the model's {len(module)} layers")
        if not isinstance(chunks, int) or chunks < 1:
            raise ValueError(f"Pipe: chunks must be a positive integer, got {chunks!r}")
        start = sum(balance[:pg.rank])
        items = list(module._modules.items())[start:start + balance[pg.rank]]
        self.stage = Sequential(OrderedDict(items))
        self.balance, self.chunks = balance, chunks
        self._pg = pg
        self.rank, self.num_stages = pg.rank, pg.size
        self.is_first, self.is_last = pg.rank == 0, pg.rank == pg.size - 1
        self._outs = []   # this stage's micro-batch outputs awaiting their gradients (not the last stage)
        self._sends = []  # Work handles of activations / gradients in flight

    def _wait_sends(self) -> None:
        for w in self._sends:
            w.wait()
        self._sends = []

    def _send_grad_back(self, m: int):
        def hook(g):
            self._sends.append(send_tensor(self._pg, g, self.rank - 1, 1 + m, "Pipe: gradient send"))
        return hook

    def forward(self, x=None):
        self._wait_sends()
        self._outs = []
        pg, grad = self._pg, is_grad_enabled()
        if self.is_first:
            if x is None:
                raise ValueError("Pipe: the first stage (rank 0) must be given the input batch")
            micro = list(chunk(x, self.chunks, 0))
            count = _tensor([len(micro)])
        else:
            count, _ = recv_tensor(pg, self.rank - 1, _COUNT_TAG, "Pipe: micro-batch count")
        if not self.is_last:
            self._sends.append(send_tensor(pg, count, self.rank + 1, _COUNT_TAG, "Pipe: micro-batch count"))
        outs = []
        for m in range(int(count.item())):
            if self.is_first:
                inp = micro[m]
            else:
                inp, _ = recv_tensor(pg, self.rank - 1, 1 + m, "Pipe: activation")
                if grad:
                    inp.requires_grad_(True)
                    inp.register_hook(self._send_grad_back(m))
            out = self.stage(inp)
            if self.is_last:
                outs.append(out)
            else:
                self._sends.append(send_tensor(pg, out.detach(), self.rank + 1, 1 + m, "Pipe: activation"))
                if grad and out.requires_grad:
                    self._outs.append((m, out))
        return cat(outs, 0) if self.is_last else None

    def backward(self, loss=None) -> None:
        """Backpropagates this step through every stage: call it on every rank after forward,
        with the loss on the last stage."""
        if self.is_last:
            if loss is None:
                raise ValueError("Pipe.backward: the last stage must pass the loss")
            loss.backward()
        else:
            if loss is not None:
                raise ValueError(f"Pipe.backward: only the last stage (rank {self.num_stages - 1}) passes a loss; "
                                 f"rank {self.rank} got one")
            outs = dict(self._outs)
            while outs:
                g, tag = recv_tensor(self._pg, self.rank + 1, None, "Pipe: gradient")
                out = outs.pop(tag - 1, None)
                if out is None:
                    raise RuntimeError(f"Pipe.backward on rank {self.rank}: unexpected gradient for micro-batch "
                                       f"{tag - 1} from rank {self.rank + 1}")
                _autograd_backward([out], [g])
        self._outs = []
        self._wait_sends()

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """This stage's parameters and buffers under the full model's names (``"3.weight"``), so
        the stages' dicts merged are the unsplit model's state_dict."""
        return self.stage.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True):
        """Loads this stage's entries; a full model's state_dict is accepted (other stages' keys
        are ignored), as is one holding only this stage's keys."""
        own = set(self.stage.state_dict())
        return self.stage.load_state_dict({k: v for k, v in state_dict.items() if k in own}, strict=strict)

    def extra_repr(self) -> str:
        return f"balance={self.balance}, chunks={self.chunks}, stage={self.rank}/{self.num_stages}"


def bubble_fraction(stages: int, chunks: int) -> float:
    """The share of a GPipe step a stage spends idle: (S - 1) / (M + S - 1)."""
    return float(np.float64(stages - 1) / (chunks + stages - 1))
