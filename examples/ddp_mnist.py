"""Data-parallel training of LeNet-5 over MPI: every process holds a replica, reads its shard of
each epoch (DistributedSampler) and averages gradients with the others during backward
(DistributedDataParallel). Only rank 0 prints and writes the checkpoint.

    mpiexec -n 2 python examples/ddp_mnist.py ../shared/data/mnist   # 8,000 / 2,000 split of the 10k set
    mpiexec -n 2 python examples/ddp_mnist.py                        # bundled 8x8 digits
    mpiexec -n 2 python examples/ddp_mnist.py --fit                  # the same through lamina.train.fit
    mpiexec -n 2 python examples/ddp_mnist.py --quick                # 2 epochs

The batch size is per process (64), so 2 processes take 128 samples per step; the learning rate
is scaled with the number of processes, the usual rule for data parallelism. Rank 0 writes the
weights to OUT/ddp_mnist.lam.
"""
import os
import sys
import time

import lamina
import lamina.distributed as dist
from lamina import nn, optim
from lamina.data import DataLoader, DistributedSampler, transforms
from lamina.data.datasets import Digits, mnist_split
from lamina.models import LeNet5
from lamina.nn.parallel import DistributedDataParallel as DDP
from lamina.train import ModelCheckpoint, fit
from lamina.utils.scripts import existing_dir, out_dir, positive_int, run, tool_parser


def main(argv=None):
    p = tool_parser(__doc__, out="ddp_out", quick="2 epochs")
    p.add_argument("data", nargs="?", type=existing_dir, default=None,
                   help="folder with MNIST IDX files (default: the bundled 8x8 digits)")
    p.add_argument("--fit", action="store_true", help="train through lamina.train.fit instead of a plain loop")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: MNIST 8, digits 20)")
    args = p.parse_args(argv)
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if rank == 0:
        out_dir(args.out, "ddp_mnist")
    ckpt = os.path.join(args.out, "ddp_mnist.lam")
    lamina.set_num_threads(1)  # one core per process
    lamina.manual_seed(0)      # the same on every rank (DDP broadcasts rank 0's weights anyway)
    if args.data:
        norm = transforms.Normalize((0.1307,), (0.3081,))
        train_ds, test_ds = mnist_split(args.data, n_train=8000, seed=0, transform=norm)
        size, epochs = 28, 8
    else:
        train_ds, test_ds = Digits(train=True), Digits(train=False)
        size, epochs = 8, 20
    epochs = 2 if args.quick else (args.epochs or epochs)
    model = DDP(LeNet5(input_size=size))
    opt = optim.Adam(model.parameters(), lr=2e-3 * world ** 0.5)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    if args.fit:
        # fit shards a Dataset by itself, averages the metrics over ranks and writes on rank 0.
        hist = fit(model, loss_fn, opt, train_ds, val_data=test_ds, epochs=epochs, batch_size=64,
                   callbacks=[ModelCheckpoint(ckpt)], progress=rank == 0)
        acc = hist["val_accuracy"][-1]
    else:
        sampler = DistributedSampler(train_ds, shuffle=True, seed=0)
        train = DataLoader(train_ds, batch_size=64, sampler=sampler)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)  # a different shuffle each epoch, the same on every rank
            model.train()
            for x, y in train:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
            if rank == 0:
                print(f"epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.4f}", flush=True)
        # each rank scores its share of the test set; the counts are summed over ranks
        model.eval()
        counts = lamina.zeros(2, dtype=lamina.float64)
        with lamina.no_grad():
            for x, y in DataLoader(test_ds, batch_size=500, sampler=DistributedSampler(test_ds, shuffle=False)):
                counts += lamina.tensor([float((model(x).argmax(1) == y).sum().item()), float(len(y))],
                                        dtype=lamina.float64)
        dist.all_reduce(counts)
        acc = float(counts[0].item() / counts[1].item())
        if rank == 0:
            lamina.save(model.state_dict(), ckpt)  # no "module." prefix: loads into LeNet5 directly
    if rank == 0:
        print(f"{world} processes: test accuracy {acc:.4f} in {time.perf_counter() - t0:.1f} s; weights in {ckpt}")
    dist.destroy_process_group()
    return acc


if __name__ == "__main__":
    sys.exit(run(main))
