"""A deep belief net on MNIST (Hinton, Osindero & Teh 2006): greedy CD-1 pretraining of a
784-500-500 stack of RBMs, then supervised fine-tuning of the unrolled 784-500-500-10 sigmoid net.

    python examples/dbn_mnist.py [--data ../shared/data/mnist] [--n-train 8000] [--full]

By default it splits the 10,000-image t10k set into 8,000 train / 2,000 test images (the only
MNIST file shipped in ../shared/data); ``--full`` uses the 60,000 training images and the t10k set
when train-images-idx3-ubyte.gz is present.
"""
import argparse
import pathlib
import time

import numpy as np

import lamina
from lamina.data.datasets import MNIST, mnist_split
from lamina.models.dbn import DBN
from lamina.train import evaluate


def arrays(ds):
    x = (ds.data.reshape(len(ds), -1) / np.float32(ds.scale)).astype(np.float32)
    return x, ds.targets


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    ap.add_argument("--n-train", type=int, default=8000)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--pretrain-epochs", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--dropout", type=float, default=0.5)
    args = ap.parse_args()

    lamina.manual_seed(0)
    if args.full:
        tr, te = MNIST(args.data, train=True), MNIST(args.data, train=False)
    else:
        tr, te = mnist_split(args.data, n_train=args.n_train, seed=0)
    xtr, ytr = arrays(tr)
    xte, yte = arrays(te)
    print(f"{len(xtr)} train / {len(xte)} test images, {lamina.get_num_threads()} threads")

    dbn = DBN([784, 500, 500], n_classes=10, lr=0.05, momentum=0.5)
    t0 = time.perf_counter()
    hists = dbn.pretrain(xtr, epochs_per_layer=args.pretrain_epochs, batch_size=20, verbose=True)
    t_pre = time.perf_counter() - t0
    print(f"pretraining: {t_pre:.1f} s; final reconstruction errors "
          + ", ".join(f"{h['recon_error'][-1]:.4f}" for h in hists))

    t1 = time.perf_counter()
    dbn.fine_tune((xtr, ytr), val_data=(xte, yte), epochs=args.epochs, lr=0.1, momentum=0.9, batch_size=50,
                  dropout=args.dropout, progress=False)
    t_ft = time.perf_counter() - t1
    acc = evaluate(dbn, None, (xte, yte), batch_size=500)["accuracy"]
    print(f"fine-tuning: {t_ft:.1f} s; test accuracy {acc:.4f}; total {t_pre + t_ft:.1f} s")


if __name__ == "__main__":
    main()
