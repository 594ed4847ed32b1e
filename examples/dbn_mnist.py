"""A deep belief net on MNIST (Hinton, Osindero & Teh 2006): greedy CD-1 pretraining of a
784-500-500 stack of RBMs, then supervised fine-tuning of the unrolled 784-500-500-10 sigmoid net.

    python examples/dbn_mnist.py [--data ../shared/data/mnist] [--n-train 8000] [--full]
    python examples/dbn_mnist.py --quick     # 2,000 images, 1 pretraining + 2 fine-tuning epochs

By default it splits the 10,000-image t10k set into 8,000 train / 2,000 test images (the only
MNIST file shipped in ../shared/data); ``--full`` uses the 60,000 training images and the t10k set
when train-images-idx3-ubyte.gz is present. Writes nothing.
"""
import pathlib
import sys
import time

import lamina
import numpy as np
from lamina.data.datasets import MNIST, mnist_split
from lamina.models.dbn import DBN
from lamina.train import evaluate
from lamina.utils.scripts import existing_dir, positive_int, probability, run, tool_parser


def arrays(ds):
    x = (ds.data.reshape(len(ds), -1) / np.float32(ds.scale)).astype(np.float32)
    return x, ds.targets


def main(argv=None):
    ap = tool_parser(__doc__, quick="2,000 training images, 1 pretraining and 2 fine-tuning epochs")
    ap.add_argument("--data", type=existing_dir, help="folder with MNIST IDX files",
                    default=str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    ap.add_argument("--n-train", type=positive_int, default=8000, help="training images taken from the 10k set")
    ap.add_argument("--full", action="store_true", help="the 60k training files (and the 10k test set)")
    ap.add_argument("--pretrain-epochs", type=positive_int, default=10, help="CD-1 epochs per RBM")
    ap.add_argument("--epochs", type=positive_int, default=40, help="fine-tuning epochs")
    ap.add_argument("--dropout", type=probability, default=0.5, help="dropout while fine-tuning")
    ap.add_argument("--no-pretrain", action="store_true",
                    help="skip pretraining: the same network and fine-tuning from random weights (the baseline)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n_train, args.pretrain_epochs, args.epochs = 2000, 1, 2

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
    if not args.no_pretrain:
        hists = dbn.pretrain(xtr, epochs_per_layer=args.pretrain_epochs, batch_size=20, verbose=True)
    t_pre = time.perf_counter() - t0
    if not args.no_pretrain:
        print(f"pretraining: {t_pre:.1f} s; final reconstruction errors "
              + ", ".join(f"{h['recon_error'][-1]:.4f}" for h in hists))

    t1 = time.perf_counter()
    dbn.fine_tune((xtr, ytr), val_data=(xte, yte), epochs=args.epochs, lr=0.1, momentum=0.9, batch_size=50,
                  dropout=args.dropout, progress=False)
    t_ft = time.perf_counter() - t1
    acc = evaluate(dbn, None, (xte, yte), batch_size=500)["accuracy"]
    print(f"fine-tuning: {t_ft:.1f} s; test accuracy {acc:.4f}; total {t_pre + t_ft:.1f} s")
    return acc


if __name__ == "__main__":
    sys.exit(run(main))
