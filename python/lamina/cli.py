"""The ``lamina`` command line (also ``python -m lamina``):

    lamina train lenet5 --dataset digits --epochs 20      # the main demo (data ships with lamina)
    lamina train mlp --dataset mnist --data ../shared/data/mnist
    lamina demo                                           # the same, 10 epochs
    lamina gemm                                           # SGEMM GFLOP/s
"""
from __future__ import annotations

import argparse
import os
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
        if args.data:
            raise ValueError("--data is for --dataset mnist; the digits ship with lamina (drop --data)")
        return datasets.Digits(train=True, seed=args.seed), datasets.Digits(train=False, seed=args.seed), 8
    if args.dataset == "mnist":
        if not args.data:
            raise ValueError("--dataset mnist needs --data PATH (a folder with MNIST IDX files); "
                             "lamina never downloads data")
        if not os.path.isdir(args.data):
            raise FileNotFoundError(f"--data {args.data}: no such folder")
        norm = transforms.Normalize((0.1307,), (0.3081,))
        try:
            return (datasets.MNIST(args.data, train=True, transform=norm),
                    datasets.MNIST(args.data, train=False, transform=norm), 28)
        except FileNotFoundError:
            # Only the 10k test set present (as in ../shared/data/mnist): split it 8,000 / 2,000.
            pass
        try:
            tr, te = datasets.mnist_split(args.data, n_train=8000, seed=args.seed, transform=norm)
        except FileNotFoundError:
            raise FileNotFoundError(f"no MNIST IDX files (t10k-images-idx3-ubyte[.gz] or train-images-"
                                    f"idx3-ubyte[.gz]) in {args.data}") from None
        return tr, te, 28
    raise ValueError(f"unknown dataset {args.dataset!r}")


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
          f"({len(train_ds)} train / {len(test_ds)} test), {args.epochs} epoch{'s' if args.epochs != 1 else ''}, batch {args.batch_size}, "
          f"{type(opt).__name__} lr {lr} with cosine decay, {lamina.get_num_threads()} thread(s)")
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_ds, batch_size=256)
    t0 = time.perf_counter()
    hist = fit(model, nn.CrossEntropyLoss(), opt, loader, val_data=test_loader, epochs=args.epochs,
               scheduler=sched, progress=not args.quiet)
    wall = time.perf_counter() - t0
    acc = hist["val_accuracy"][-1]
    n = len(hist.epoch)
    print(f"test accuracy {acc * 100:.2f}% after {n} epoch{'s' if n != 1 else ''} in {wall:.1f} s "
          f"({sum(len(train_ds) for _ in hist.epoch) / wall:.0f} samples/s)")
    if args.save:
        lamina.save(model.state_dict(), args.save)
        print(f"saved weights to {args.save}")
    return 0


def _parser() -> argparse.ArgumentParser:
    from lamina.utils.scripts import HelpFormatter, nonnegative_int, positive_float, positive_int

    p = argparse.ArgumentParser(prog="lamina", description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a model and print test accuracy and time", formatter_class=HelpFormatter,
                       description="Train LeNet-5 or an MLP and print the test accuracy and wall time. "
                                   "Unset options take the dataset's recipe: digits SGD lr 0.02 batch 16, "
                                   "MNIST Adam lr 0.002 batch 64 (cosine decay over the epochs).")
    t.add_argument("model", choices=["lenet5", "mlp"], help="the network")
    t.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                   help="digits: bundled 8x8 UCI digits; mnist: IDX files in --data")
    t.add_argument("--data", help="folder with MNIST IDX files, raw or .gz (only with --dataset mnist)")
    t.add_argument("--epochs", type=positive_int, default=20, help="training epochs")
    t.add_argument("--batch-size", type=positive_int, default=None, help="batch size (default: the recipe's)")
    t.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: the recipe's)")
    t.add_argument("--optimizer", choices=["sgd", "adam"], default=None, help="optimizer (default: the recipe's)")
    t.add_argument("--threads", type=nonnegative_int, default=0, help="compute threads (0: lamina's default)")
    t.add_argument("--seed", type=int, default=0, help="seed for weights, shuffling and the split")
    t.add_argument("--save", help="write the trained weights to this file (lamina.save); nothing is written without it")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    t.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    t.set_defaults(func=_train)
    d = sub.add_parser("demo", help="train LeNet-5 on the bundled digits (10 epochs)", formatter_class=HelpFormatter)
    d.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    d.set_defaults(func=lambda a: _train(argparse.Namespace(
        model="lenet5", dataset="digits", data=None, epochs=10, batch_size=None, lr=None, optimizer=None, threads=0,
        seed=0, save=None, quiet=False)))
    g = sub.add_parser("gemm", help="multiply matrices and print GFLOP/s", formatter_class=HelpFormatter)
    g.add_argument("--threads", type=nonnegative_int, default=0, help="compute threads (0: lamina's default)")
    g.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    g.set_defaults(func=_gemm)
    return p


def main(argv=None) -> int:
    """Entry point for ``lamina`` / ``python -m lamina``: returns the exit status (0 on success;
    1 with one line on stderr when something fails, the traceback only with ``--debug``;
    2 for a usage error)."""
    from lamina.utils.scripts import run

    argv = sys.argv[1:] if argv is None else list(argv)

    def go(a):
        args = _parser().parse_args(a)
        return args.func(args)

    return run(go, argv, prog="lamina")


if __name__ == "__main__":
    sys.exit(main())
