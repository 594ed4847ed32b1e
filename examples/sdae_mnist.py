"""A stacked denoising autoencoder on MNIST: greedy layer-wise pretraining (each level a denoising
autoencoder on the clean code of the level below), then supervised fine-tuning; prints test
accuracy and time, and saves pictures of the first-layer filters and of reconstructions.

    python examples/sdae_mnist.py [--data ../shared/data/mnist] [--out sdae_out]   # pictures need lamina[viz]
    python examples/sdae_mnist.py --no-pretrain    # the same network and fine-tuning from random weights
    python examples/sdae_mnist.py --quick          # 1 pretraining + 1 fine-tuning epoch

With only the 10k t10k files present it trains on a fixed 8,000 / 2,000 split of them; with the
60k training files it trains on those and tests on the 10k. Pretraining uses the training images
only (no extra unlabelled ones). Default recipe (Vincent et al. 2010 style, where pretraining pays):
784-1000-1000-10 sigmoid units, masking noise 0.25, 10 Adam pretraining epochs per layer (lr 1e-3),
then 30 fine-tuning epochs of SGD (lr 0.1, momentum 0.9, cosine schedule), no dropout, with random
2-pixel shifts (RandomCrop(28, padding=2)) of the training images. The former ReLU recipe:
``--sizes 784,500,250 --activation relu --corruption-level 0.2 --pretrain-epochs 3 --dropout 0.2
--optimizer adam --lr 2e-3 --epochs 20``. ``--workers N`` loads and augments the batches in N
worker processes.
"""
import argparse
import os
import sys
import time

import lamina
import numpy as np
from lamina.data import DataLoader, transforms
from lamina.data.datasets import MNIST, mnist_split
from lamina.models.autoencoder import StackedDenoisingAutoencoder
from lamina.utils.scripts import (
    existing_dir,
    nonnegative_int,
    out_dir,
    positive_float,
    positive_int,
    probability,
    run,
    tool_parser,
)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MNIST = os.path.join(HERE, "..", "..", "shared", "data", "mnist")


def _sizes(text: str) -> list:
    """'784,500,500' -> [784, 500, 500] (at least an input and one hidden size, all positive)."""
    try:
        sizes = [int(t) for t in text.split(",")]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive sizes, input first (e.g. 784,500,500), "
                                         f"got {text!r}")
    return sizes


def main(argv=None):
    p = tool_parser(__doc__, out="sdae_out", quick="1 pretraining epoch per layer, 1 fine-tuning epoch")
    p.add_argument("--data", type=existing_dir, default=DEFAULT_MNIST, help="folder with MNIST IDX files")
    p.add_argument("--sizes", type=_sizes, default=[784, 1000, 1000],
                   help="layer sizes, input first (comma-separated); a 10-way output layer goes on top")
    p.add_argument("--epochs", type=positive_int, default=30, help="fine-tuning epochs (cosine schedule)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                   help="fine-tuning optimizer (sgd: momentum 0.9)")
    p.add_argument("--lr", type=positive_float, default=0.1, help="fine-tuning learning rate (start of the cosine)")
    p.add_argument("--pretrain-epochs", type=positive_int, default=10, help="pretraining epochs per layer (Adam, lr 1e-3)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of lamina's generator (weights, noise, shuffling)")
    p.add_argument("--workers", type=nonnegative_int, default=1,
                   help="DataLoader worker processes for loading and augmentation (0: in the main process; on 2 cores 1 worker hides the augmentation cost)")
    p.add_argument("--activation", choices=["relu", "sigmoid"], default="sigmoid", help="hidden units")
    p.add_argument("--dropout", type=probability, default=0.0, help="dropout while fine-tuning")
    p.add_argument("--corruption-level", type=probability, default=0.25, help="masking noise while pretraining")
    p.add_argument("--no-augment", action="store_true", help="fine-tune on the images as they are (no random shifts)")
    p.add_argument("--no-pretrain", action="store_true",
                   help="skip pretraining: the same network and fine-tuning from random weights (the baseline)")
    args = p.parse_args(argv)
    if args.sizes[0] != 784:
        p.error(f"--sizes: MNIST images have 784 pixels, so the first size must be 784, got {args.sizes[0]}")
    root, out = args.data, out_dir(args.out, "sdae_mnist")
    epochs, pre_epochs = (1, 1) if args.quick else (args.epochs, args.pretrain_epochs)
    lamina.manual_seed(args.seed)
    # small random shifts (pad 2, crop 28) during fine-tuning only
    shift = (transforms.Flatten() if args.no_augment
             else transforms.Compose([transforms.RandomCrop(28, padding=2), transforms.Flatten()]))
    try:
        train_ds, test_ds = MNIST(root, train=True), MNIST(root, train=False, transform=transforms.Flatten())
        train_ds.transform = shift
    except FileNotFoundError:
        train_ds, test_ds = mnist_split(root, n_train=8000, seed=0, transform=shift,
                                        test_transform=transforms.Flatten())
    print(f"train {len(train_ds)}, test {len(test_ds)}; SDAE {args.sizes}, {args.activation}, dropout {args.dropout}, "
          f"masking {args.corruption_level}, {'no ' if args.no_augment else ''}augmentation, "
          f"{'no ' if args.no_pretrain else ''}pretraining, fine-tuning {args.optimizer} lr {args.lr}, "
          f"seed {args.seed}, {lamina.get_num_threads()} threads")
    x_train = lamina.from_numpy(np.ascontiguousarray(train_ds._images(np.arange(len(train_ds)))).reshape(-1, 784))

    t0 = time.perf_counter()
    sdae = StackedDenoisingAutoencoder(args.sizes, n_classes=10, activation=args.activation, corruption="masking",
                                       corruption_level=args.corruption_level, dropout=args.dropout)
    losses = ([] if args.no_pretrain else
              sdae.pretrain(x_train, epochs_per_layer=pre_epochs, batch_size=64, lr=1e-3, verbose=True))
    t_pre = time.perf_counter() - t0
    train_loader = DataLoader(train_ds, batch_size=64, shuffle=True, num_workers=args.workers,
                              persistent_workers=args.workers > 0)
    # SGD with momentum, as in the literature where pretraining pays: from random weights it stalls
    # longer in sigmoid nets' flat start than from pretrained ones
    ft_opt = (lambda params, lr: lamina.optim.SGD(params, lr, momentum=0.9)) if args.optimizer == "sgd" else "adam"
    hist = sdae.fine_tune(train_loader, test_ds, epochs=epochs, batch_size=64, lr=args.lr, optimizer=ft_opt,
                          progress=True, scheduler=lambda opt: lamina.optim.lr_scheduler.CosineAnnealingLR(opt, epochs))
    elapsed = time.perf_counter() - t0
    print(f"pretraining: final reconstruction losses {[round(h['loss'][-1], 4) for h in losses]} in {t_pre:.1f} s")
    print(f"test accuracy {hist['val_accuracy'][-1]:.4f} (best {max(hist['val_accuracy']):.4f}), "
          f"total time {elapsed:.1f} s")

    result = hist["val_accuracy"][-1]
    try:
        from lamina.viz import tile_images
    except ImportError:
        return result
    try:
        w = sdae.daes[0].encoder.weight.detach()[:100]
        print("filters:", tile_images(w, os.path.join(out, "sdae_filters.png"), nrows=10))
        x = lamina.from_numpy(np.ascontiguousarray(test_ds._images(np.arange(10)))).reshape(10, 784)
        dae = sdae.daes[0]
        noisy = dae.corrupt(x)
        dae.eval()
        with lamina.no_grad():
            recon = dae(noisy)
        # inputs / corrupted / reconstructed (fine-tuned encoder, pretrained decoder), one row each
        rows = lamina.cat([x, noisy, recon], 0)
        print("reconstructions:", tile_images(rows, os.path.join(out, "sdae_reconstructions.png"), nrows=3,
                                              normalize=False))
    except ImportError as e:
        print(e)
    return result


if __name__ == "__main__":
    sys.exit(run(main))
