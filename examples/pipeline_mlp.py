"""Pipeline (model) parallelism: an MLP split across processes, GPipe-style. Rank r holds a
slice of the layers; each batch runs as micro-batches whose activations flow forward from rank
to rank and whose gradients flow back. Each rank's optimizer updates its own layers.

    mpiexec -n 2 python examples/pipeline_mlp.py        # 2 stages, bundled 8x8 digits
    mpiexec -n 3 python examples/pipeline_mlp.py        # 3 stages
    mpiexec -n 2 python examples/pipeline_mlp.py --quick   # 2 epochs

The result equals training the unsplit model (same outputs and gradients). A pipeline is for a
model too large for one process; on one machine with a model this small it is slower than one
process, because each stage idles for (stages - 1) / (chunks + stages - 1) of every step.
Writes nothing.
"""
import sys
import time

import lamina
import lamina.distributed as dist
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets import Digits
from lamina.distributed.pipeline import Pipe, bubble_fraction
from lamina.utils.scripts import positive_int, run, tool_parser


def main(argv=None):
    p = tool_parser(__doc__, quick="2 epochs")
    p.add_argument("--epochs", type=positive_int, default=15, help="training epochs")
    p.add_argument("--chunks", type=positive_int, default=4, help="micro-batches per batch")
    args = p.parse_args(argv)
    epochs = 2 if args.quick else args.epochs
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    lamina.set_num_threads(1)
    lamina.manual_seed(0)  # every rank builds the same full model, then keeps its stage
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    n = len(model)
    balance = [n // world + (1 if r < n % world else 0) for r in range(world)]
    chunks = args.chunks
    pipe = Pipe(model, balance=balance, chunks=chunks)
    opt = optim.SGD(pipe.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    train = DataLoader(Digits(train=True), batch_size=64, shuffle=True)  # same order on every rank
    if rank == 0:
        print(f"{world} stages, balance {balance}, {chunks} micro-batches: "
              f"bubble {bubble_fraction(world, chunks):.0%} of each step", flush=True)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for x, y in train:
            opt.zero_grad()
            out = pipe(x if pipe.is_first else None)
            loss = loss_fn(out, y) if pipe.is_last else None
            pipe.backward(loss)
            opt.step()
        if pipe.is_last:
            print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}", flush=True)
    correct = total = 0
    with lamina.no_grad():
        for x, y in DataLoader(Digits(train=False), batch_size=500):
            out = pipe(x if pipe.is_first else None)
            if pipe.is_last:
                correct += int((out.argmax(1) == y).sum().item())
                total += len(y)
    if pipe.is_last:
        print(f"test accuracy {correct / total:.4f} in {time.perf_counter() - t0:.1f} s (rank {rank}, the last stage)")
    dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(run(main))
