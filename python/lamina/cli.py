"""The ``lamina`` command line (also ``python -m lamina``):

    lamina train lenet5 --dataset digits --epochs 20      # the main demo (data ships with lamina)
    lamina train mlp --dataset mnist --data ../shared/data/mnist
    lamina demo                                           # the same, 10 epochs
    lamina gemm                                           # SGEMM GFLOP/s
"""
from __future__ import annotations

import argparse
import sys
import time


def _gemm(args) -> int:
    import lamina

    lamina.manual_seed(0)
    if args.threads:
        lamina.set_num_threads(args.threads)
    print(f"lamina {lamina.__version__}: OpenBLAS kernel {lamina.blas_info()['corename']}, "
          f"{lamina.get_num_threads()} thread(s)")
    for n in (256, 512, 1024):
        a, b = lamina.randn(n, n), lamina.randn(n, n)
        a @ b  # warm-up
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
        print(f"  sgemm {n:5d}^2: {2 * n ** 3 / best / 1e9:8.1f} GFLOP/s")
    return 0


# Per-dataset defaults that reach >= 97% (digits) / >= 98% (MNIST 8k) with LeNet-5; flags override.
RECIPES = {
    "digits": {"optimizer": "sgd", "lr": 0.02, "batch_size": 16},
    "mnist": {"optimizer": "adam", "lr": 2e-3, "batch_size": 64},
}


def _datasets(args):
    # Downward, and late on purpose: the CLI (the top layer) loads the library only once a
    # command runs, so `python -m lamina --help` stays instant.
    from lamina.data import datasets, transforms

    if args.dataset == "digits":
        return datasets.Digits(train=True, seed=args.seed), datasets.Digits(train=False, seed=args.seed), 8
    if args.dataset == "mnist":
        if not args.data:
            raise SystemExit("lamina train: --dataset mnist needs --data PATH (a folder with MNIST IDX files); "
                             "lamina never downloads data")
        norm = transforms.Normalize((0.1307,), (0.3081,))
        try:
            return (datasets.MNIST(args.data, train=True, transform=norm),
                    datasets.MNIST(args.data, train=False, transform=norm), 28)
        except FileNotFoundError:
            # Only the 10k test set present (as in ../shared/data/mnist): split it 8,000 / 2,000.
            tr, te = datasets.mnist_split(args.data, n_train=8000, seed=args.seed, transform=norm)
            return tr, te, 28
    raise SystemExit(f"unknown dataset {args.dataset!r}")


def _train(args) -> int:
    import lamina
    from lamina import nn, optim
    from lamina.data import DataLoader
    from lamina.models import MLP, LeNet5
    from lamina.train import fit

    lamina.manual_seed(args.seed)
    if args.threads:
        lamina.set_num_threads(args.threads)
    train_ds, test_ds, size = _datasets(args)
    if args.model == "lenet5":
        model = LeNet5(input_size=size)
    else:
        model = MLP([size * size, 256, 256, 10])
    recipe = RECIPES[args.dataset]
    opt_name = args.optimizer or recipe["optimizer"]
    lr = args.lr or recipe["lr"]
    args.batch_size = args.batch_size or recipe["batch_size"]
    opt = (optim.Adam(model.parameters(), lr=lr) if opt_name == "adam"
           else optim.SGD(model.parameters(), lr=lr, momentum=0.9))
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    print(f"lamina {lamina.__version__}: training {args.model} on {args.dataset} "
          f"({len(train_ds)} train / {len(test_ds)} test), {args.epochs} epochs, batch {args.batch_size}, "
          f"{type(opt).__name__} lr {lr} with cosine decay, {lamina.get_num_threads()} thread(s)")
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_ds, batch_size=256)
    t0 = time.perf_counter()
    hist = fit(model, nn.CrossEntropyLoss(), opt, loader, val_data=test_loader, epochs=args.epochs,
               scheduler=sched, progress=not args.quiet)
    wall = time.perf_counter() - t0
    acc = hist["val_accuracy"][-1]
    print(f"test accuracy {acc * 100:.2f}% after {len(hist.epoch)} epochs in {wall:.1f} s "
          f"({sum(len(train_ds) for _ in hist.epoch) / wall:.0f} samples/s)")
    if args.save:
        lamina.save(model.state_dict(), args.save)
        print(f"saved weights to {args.save}")
    return 0


def main(argv=None) -> int:
    """Entry point for ``lamina`` / ``python -m lamina``."""
    p = argparse.ArgumentParser(prog="lamina", description="lamina command line")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a model and print test accuracy and time")
    t.add_argument("model", choices=["lenet5", "mlp"])
    t.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    t.add_argument("--data", help="folder with MNIST IDX files (raw or .gz)")
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--optimizer", choices=["sgd", "adam"], default=None)
    t.add_argument("--threads", type=int, default=0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--save", help="write the trained weights here (lamina.save)")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    t.set_defaults(func=_train)
    d = sub.add_parser("demo", help="train LeNet-5 on the bundled digits (10 epochs)")
    d.set_defaults(func=lambda a: _train(argparse.Namespace(
        model="lenet5", dataset="digits", data=None, epochs=10, batch_size=None, lr=None, optimizer=None, threads=0,
        seed=0, save=None, quiet=False)))
    g = sub.add_parser("gemm", help="multiply matrices and print GFLOP/s")
    g.add_argument("--threads", type=int, default=0)
    g.set_defaults(func=_gemm)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
