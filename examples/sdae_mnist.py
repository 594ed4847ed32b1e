"""A stacked denoising autoencoder on MNIST: greedy layer-wise pretraining (each level a denoising
autoencoder on the clean code of the level below), then supervised fine-tuning; prints test
accuracy and time, and saves pictures of the first-layer filters and of reconstructions.

    python examples/sdae_mnist.py [--data ../shared/data/mnist] [--out sdae_out]   # pictures need lamina[viz]
    python examples/sdae_mnist.py --quick          # 1 pretraining + 1 fine-tuning epoch

With only the 10k t10k files present it trains on a fixed 8,000 / 2,000 split of them; with the
60k training files it trains on those and tests on the 10k. Recipe: 784-500-250-10, ReLU, masking
noise 0.2, dropout 0.2, 3 Adam pretraining epochs per layer, then 20 fine-tuning epochs (Adam, lr
2e-3, cosine schedule) with random 2-pixel shifts (RandomCrop(28, padding=2)) of the training
images. ``--workers N`` loads and augments the batches in N worker processes.
"""
import os
import sys
import time

import lamina
import numpy as np
from lamina.data import DataLoader, transforms
from lamina.data.datasets import MNIST, mnist_split
from lamina.models.autoencoder import StackedDenoisingAutoencoder
from lamina.utils.scripts import existing_dir, nonnegative_int, out_dir, positive_int, probability, run, tool_parser

SIZES = [784, 500, 250]
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MNIST = os.path.join(HERE, "..", "..", "shared", "data", "mnist")


def main(argv=None):
    p = tool_parser(__doc__, out="sdae_out", quick="1 pretraining epoch per layer, 1 fine-tuning epoch")
    p.add_argument("--data", type=existing_dir, default=DEFAULT_MNIST, help="folder with MNIST IDX files")
    p.add_argument("--epochs", type=positive_int, default=20, help="fine-tuning epochs")
    p.add_argument("--pretrain-epochs", type=positive_int, default=3, help="pretraining epochs per layer")
    p.add_argument("--workers", type=nonnegative_int, default=1,
                   help="DataLoader worker processes for loading and augmentation (0: in the main process; on 2 cores 1 worker hides the augmentation cost)")
    p.add_argument("--activation", choices=["relu", "sigmoid"], default="relu", help="hidden units")
    p.add_argument("--dropout", type=probability, default=0.2, help="dropout while fine-tuning")
    p.add_argument("--corruption-level", type=probability, default=0.2, help="masking noise while pretraining")
    p.add_argument("--no-augment", action="store_true", help="fine-tune on the images as they are (no random shifts)")
    p.add_argument("--no-pretrain", action="store_true",
                   help="skip pretraining: the same network and fine-tuning from random weights (the baseline)")
    args = p.parse_args(argv)
    root, out = args.data, out_dir(args.out, "sdae_mnist")
    epochs, pre_epochs = (1, 1) if args.quick else (args.epochs, args.pretrain_epochs)
    lamina.manual_seed(0)
    # small random shifts (pad 2, crop 28) during fine-tuning only
    shift = (transforms.Flatten() if args.no_augment
             else transforms.Compose([transforms.RandomCrop(28, padding=2), transforms.Flatten()]))
    try:
        train_ds, test_ds = MNIST(root, train=True), MNIST(root, train=False, transform=transforms.Flatten())
        train_ds.transform = shift
    except FileNotFoundError:
        train_ds, test_ds = mnist_split(root, n_train=8000, seed=0, transform=shift,
                                        test_transform=transforms.Flatten())
    print(f"train {len(train_ds)}, test {len(test_ds)}; SDAE {SIZES}, {args.activation}, dropout {args.dropout}, "
          f"masking {args.corruption_level}, {'no ' if args.no_augment else ''}augmentation, "
          f"{'no ' if args.no_pretrain else ''}pretraining, {lamina.get_num_threads()} threads")
    x_train = lamina.from_numpy(np.ascontiguousarray(train_ds._images(np.arange(len(train_ds)))).reshape(-1, 784))

    t0 = time.perf_counter()
    sdae = StackedDenoisingAutoencoder(SIZES, n_classes=10, activation=args.activation, corruption="masking",
                                       corruption_level=args.corruption_level, dropout=args.dropout)
    losses = ([] if args.no_pretrain else
              sdae.pretrain(x_train, epochs_per_layer=pre_epochs, batch_size=64, lr=1e-3, verbose=True))
    t_pre = time.perf_counter() - t0
    train_loader = DataLoader(train_ds, batch_size=64, shuffle=True, num_workers=args.workers,
                              persistent_workers=args.workers > 0)
    hist = sdae.fine_tune(train_loader, test_ds, epochs=epochs, batch_size=64, lr=2e-3, progress=True,
                          scheduler=lambda opt: lamina.optim.lr_scheduler.CosineAnnealingLR(opt, epochs))
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
