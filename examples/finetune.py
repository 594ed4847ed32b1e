"""Fine-tuning an imported ONNX model on a new task with few labels, against training from scratch.

    python examples/finetune.py                     # MNIST from ../shared/data/mnist, 20 labels per class
    python examples/finetune.py --shots 5 --draws 5
    python examples/finetune.py --dataset digits    # the bundled 8x8 digits (no gain there: README)
    python examples/finetune.py --quick             # 1 draw, 20 epochs

1. Source task: LeNet-5 learns digits 0-4 from all their training images.
2. ``lamina.onnx.export`` writes it to an ONNX file, as a model handed to someone else would be.
3. The receiver cuts the classifier head off the ONNX graph (``onnx.utils.extract_model`` up to the
   input of the first Gemm/MatMul: the flattened convolutional features) and imports the rest with
   ``lamina.onnx.load_model``; its weights become lamina Parameters.
4. Target task: digits 5-9 with only ``--shots`` labelled images per class. The imported features
   are frozen (``lamina.nn.utils.freeze``) and a new linear head is trained on top of them.
5. Baseline: the same LeNet-5 trained from scratch on the same few images, same optimizer/epochs.

Both are scored on the held-out images of digits 5-9, for ``--draws`` random draws of the labelled
images (mean and spread printed). MNIST: the 10,000-image t10k set split 8,000 / 2,000 with a fixed
seed (``lamina.data.datasets.mnist_split``); digits: the bundled set's fixed 1,437 / 360 split.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import lamina
import lamina.onnx
import numpy as np
from lamina import nn, optim
from lamina.data.datasets import Digits
from lamina.data.datasets.mnist import mnist_split
from lamina.models import LeNet5
from lamina.nn.utils import freeze
from lamina.train import fit
from lamina.utils.scripts import nonnegative_int, out_dir, positive_int, run, tool_parser

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MNIST = os.path.join(HERE, "..", "..", "shared", "data", "mnist")
SOURCE, TARGET = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]


def load(dataset: str, root: str):
    """(x_train, y_train, x_test, y_test) as numpy float32 (N, 1, S, S) in [0, 1] / int64."""
    if dataset == "mnist":
        if not os.path.isdir(root):
            raise FileNotFoundError(f"MNIST not found at {root}; pass --mnist DIR or --dataset digits")
        parts = mnist_split(root, n_train=8000, seed=0)
    else:
        parts = (Digits(train=True), Digits(train=False))
    out = []
    for ds in parts:
        x, y = ds._batch(np.arange(len(ds)))
        out += [x.numpy(), y.numpy()]
    return out


def classes(x, y, which):
    """The images of the digits in ``which``, labels renumbered 0..len(which)-1."""
    keep = np.isin(y, which)
    return x[keep], y[keep] - min(which)


def accuracy(model, x, y) -> float:
    model.eval()
    with lamina.no_grad():
        return float((model(lamina.tensor(x)).argmax(1).numpy() == y).mean())


def train(model, x, y, lr: float, epochs: int) -> None:
    """Adam on the parameters that still require gradients, cross-entropy, batches of 32."""
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    fit(model, nn.CrossEntropyLoss(), opt, (lamina.tensor(x), lamina.tensor(y)), epochs=epochs, batch_size=32,
        progress=False)


def export_and_cut(source, example: np.ndarray, folder: str) -> str:
    """Exports ``source`` to ONNX and writes the graph without its classifier head (up to the
    input of the first Gemm/MatMul); returns the path of the cut model."""
    import onnx
    from onnx.utils import extract_model

    full = os.path.join(folder, "lenet_digits04.onnx")
    lamina.onnx.export(source.eval(), (lamina.tensor(example),), full, input_names=["image"],
                       output_names=["logits"])
    graph = onnx.load(full).graph
    first_dense = next(n for n in graph.node if n.op_type in ("Gemm", "MatMul"))
    inits = {t.name for t in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in inits]
    cut = os.path.join(folder, "lenet_digits04_features.onnx")
    extract_model(full, cut, inputs, [first_dense.input[0]])
    return cut


def main(argv=None) -> dict:
    p = tool_parser(__doc__, quick="1 draw, 1 source epoch, 20 target epochs")
    p.add_argument("--dataset", choices=["mnist", "digits"], default="mnist", help="the images")
    p.add_argument("--mnist", default=DEFAULT_MNIST, help="folder with the MNIST t10k IDX files")
    p.add_argument("--shots", type=positive_int, default=20, help="labelled images per target class")
    p.add_argument("--draws", type=positive_int, default=3, help="random draws of the labelled images")
    p.add_argument("--source-epochs", type=positive_int, default=None,
                   help="epochs on digits 0-4 (default: MNIST 4, digits 15)")
    p.add_argument("--epochs", type=positive_int, default=60, help="epochs on the few labelled target images")
    p.add_argument("--workdir", "--out", default=None,
                   help="where the ONNX files go (default: a temporary folder, removed at the end)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and draws")
    p.add_argument("--threads", type=nonnegative_int, default=None, help="compute threads (default: lamina's)")
    args = p.parse_args(argv)
    if args.quick:
        args.draws, args.source_epochs, args.epochs = 1, 1, 20
    if args.workdir:
        out_dir(args.workdir, "finetune")
    if args.threads:
        lamina.set_num_threads(args.threads)
    args.source_epochs = args.source_epochs or (4 if args.dataset == "mnist" else 15)
    t0 = time.time()
    xtr, ytr, xte, yte = load(args.dataset, args.mnist)
    size = xtr.shape[-1]

    # 1. the source model, trained on digits 0-4
    lamina.manual_seed(args.seed)
    xs, ys = classes(xtr, ytr, SOURCE)
    source = LeNet5(num_classes=len(SOURCE), input_size=size)
    train(source, xs, ys, lr=1e-3, epochs=args.source_epochs)
    src_acc = accuracy(source, *classes(xte, yte, SOURCE))
    print(f"{args.dataset}: source LeNet-5 on digits 0-4 ({len(xs)} images): test accuracy {src_acc:.4f}")

    # 2-3. ONNX out, head cut off, back in
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.workdir or tmp
        cut = export_and_cut(source, xs[:2], folder)
        body = lamina.onnx.load_model(cut)
    with lamina.no_grad():
        feats = body(lamina.tensor(xs[:64]))
        ref = source.features(lamina.tensor(xs[:64])).flatten(1)
    n_feat = feats.shape[1]
    print(f"imported {os.path.basename(cut)}: {n_feat} features, max |difference| from the source model "
          f"{float(np.abs(feats.numpy() - ref.numpy()).max()):.2e}")

    # 4-5. few labels of digits 5-9: frozen imported features + new head, against scratch
    xpool, ypool = classes(xtr, ytr, TARGET)
    xt, yt = classes(xte, yte, TARGET)
    results = {"finetuned": [], "scratch": []}
    for draw in range(args.draws):
        rng = np.random.default_rng(args.seed + draw)
        idx = np.concatenate([rng.choice(np.flatnonzero(ypool == c), args.shots, replace=False)
                              for c in range(len(TARGET))])
        xf, yf = xpool[idx], ypool[idx]

        lamina.manual_seed(args.seed + 100 + draw)
        freeze(body, bn_eval=True)
        model = nn.Sequential(body, nn.Linear(n_feat, len(TARGET)))
        train(model, xf, yf, lr=3e-3, epochs=args.epochs)
        results["finetuned"].append(accuracy(model, xt, yt))

        lamina.manual_seed(args.seed + 100 + draw)
        scratch = LeNet5(num_classes=len(TARGET), input_size=size)
        train(scratch, xf, yf, lr=1e-3, epochs=args.epochs)
        results["scratch"].append(accuracy(scratch, xt, yt))
        print(f"draw {draw}: {len(idx)} labelled images; test accuracy on digits 5-9 ({len(xt)} images): "
              f"fine-tuned {results['finetuned'][-1]:.4f}, from scratch {results['scratch'][-1]:.4f}")

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"\n{args.shots} labels per class, {args.draws} draws, {args.epochs} epochs each:")
    for name, accs in results.items():
        print(f"  {name:10s} accuracy {np.mean(accs):.4f} +- {np.std(accs):.4f}")
    print(f"(fine-tuned: {trainable} trainable parameters, scratch: "
          f"{sum(p.numel() for p in scratch.parameters())}; {time.time() - t0:.0f} s)")
    return {"source_accuracy": src_acc, **results}


if __name__ == "__main__":
    sys.exit(run(main))
