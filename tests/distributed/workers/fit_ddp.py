"""fit() with a DDP model: argv = mode epochs. Rank 0 alone writes checkpoints and the CSV log,
logs are identical on every rank, early stopping stops every rank at the same epoch, and a run
resumed from the checkpoint (on any number of ranks) continues it."""
import json
import os
import sys

import lamina
import lamina.distributed as dist
import lamina.train.callbacks as cbmod
import numpy as np
from lamina import nn, optim
from lamina.nn.parallel import DistributedDataParallel as DDP
from lamina.train import CSVLogger, EarlyStopping, ModelCheckpoint, fit

mode, epochs = sys.argv[1], int(sys.argv[2])
tmp = os.environ["LAMINA_TEST_TMP"]

def say(*parts):
    """One write per line: several ranks share mpiexec's stdout."""
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


dist.init_process_group()
r, n = dist.get_rank(), dist.get_world_size()
lamina.set_num_threads(1)

writes = []
_save = cbmod.save_training_state


def counting_save(path, *a, **k):
    writes.append(path)
    _save(path, *a, **k)


cbmod.save_training_state = counting_save

rng = np.random.default_rng(0)
X = rng.standard_normal((96, 10)).astype(np.float32)
y = (X[:, :3].sum(1) > 0).astype(np.int64) + (X[:, 3] > 1).astype(np.int64)
Xv = rng.standard_normal((40, 10)).astype(np.float32)
yv = (Xv[:, :3].sum(1) > 0).astype(np.int64)

lamina.manual_seed(0)
model = DDP(nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3)))
opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
sched = optim.lr_scheduler.StepLR(opt, 1, gamma=0.9)
cbs = [ModelCheckpoint(os.path.join(tmp, "ckpt.lam")), CSVLogger(os.path.join(tmp, f"log-{mode}.csv"))]
if mode == "early":
    cbs.append(EarlyStopping(monitor="val_loss", patience=0, min_delta=100.0))
hist = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=(Xv, yv), epochs=epochs, batch_size=8,
           scheduler=sched, callbacks=cbs, progress=True,
           resume_from=os.path.join(tmp, "ckpt.lam") if mode == "resume" else None)
allh = [None] * n
dist.all_gather_object(allh, (hist.history, hist.epoch, len(writes)))
assert all(h[:2] == allh[0][:2] for h in allh), "histories differ across ranks"
nw = [h[2] for h in allh]
if r == 0:
    with open(os.path.join(tmp, f"hist-{mode}-{n}.json"), "w") as f:
        json.dump({"history": hist.history, "epoch": hist.epoch, "writes": nw}, f)
say(f"rank {r}: fit {mode} ok, epochs {hist.epoch}")
