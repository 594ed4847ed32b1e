"""Pipe over N ranks equals the unsplit nn.Sequential: outputs on the last stage, gradients of
every stage's parameters, and parameters after optimizer steps (float64), for several chunk
counts including one that does not divide the batch; balance errors are clear."""
import sys

import lamina
import lamina.distributed as dist
import lamina.nn.functional as F
import numpy as np
from lamina import nn, optim
from lamina.distributed.pipeline import Pipe, bubble_fraction


def say(*parts):
    """One write per line: several ranks share mpiexec's stdout."""
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


lamina.set_default_dtype(lamina.float64)
dist.init_process_group()
r, n = dist.get_rank(), dist.get_world_size()


def build():
    lamina.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 5, 16),
                         nn.Tanh(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 4))


balance = {1: [8], 2: [4, 4], 3: [3, 3, 2]}[n]
rng = np.random.default_rng(5)
X = lamina.from_numpy(rng.standard_normal((10, 1, 5, 5)))
Y = lamina.from_numpy(rng.integers(0, 4, 10))

for chunks in (1, 3, 4, 10):
    pipe = Pipe(build(), balance, chunks=chunks)
    ref = build()
    out = pipe(X if pipe.is_first else None)
    loss = F.cross_entropy(out, Y) if pipe.is_last else None
    pipe.backward(loss)
    ro = ref(X)
    rl = F.cross_entropy(ro, Y)
    rl.backward()
    if pipe.is_last:
        assert np.abs(out.detach().numpy() - ro.detach().numpy()).max() < 1e-12
        assert abs(loss.item() - rl.item()) < 1e-12
    else:
        assert out is None
    refp = dict(ref.named_parameters())
    mine = list(pipe.stage.named_parameters())
    assert mine, "every stage holds parameters here"
    for name, p in mine:
        d = float(np.abs(p.grad.numpy() - refp[name].grad.numpy()).max())
        assert d < 1e-12, (chunks, name, d)
    # the stages' state_dicts together are the unsplit model's
    parts = [None] * n
    dist.all_gather_object(parts, sorted(pipe.state_dict()))
    assert sorted(k for p in parts for k in p) == sorted(ref.state_dict())

# training: three SGD steps through the pipe equal three on the unsplit model
pipe = Pipe(build(), balance, chunks=4)
ref = build()
po, ro = optim.SGD(pipe.parameters(), lr=0.1, momentum=0.9), optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
for step in range(3):
    po.zero_grad()
    ro.zero_grad()
    out = pipe(X if pipe.is_first else None)
    pipe.backward(F.cross_entropy(out, Y) if pipe.is_last else None)
    po.step()
    F.cross_entropy(ref(X), Y).backward()
    ro.step()
rs = ref.state_dict()
for k, v in pipe.state_dict().items():
    assert np.abs(v.numpy() - rs[k].numpy()).max() < 1e-12, k

# evaluation without a graph
with lamina.no_grad():
    out = pipe(X if pipe.is_first else None)
if pipe.is_last:
    assert np.abs(out.numpy() - ref(X).detach().numpy()).max() < 1e-12

try:
    Pipe(build(), [8] + [0] * (n - 1) if n > 1 else [7], chunks=2)
    raise AssertionError("no error")
except ValueError as e:
    assert "balance" in str(e), str(e)
assert abs(bubble_fraction(4, 12) - 3 / 15) < 1e-15
say(f"rank {r}: pipeline ok")
