"""Seeing inside training, end to end on the bundled digits (about 10 s on one core): LeNet-5 trained
with the TensorBoard and GradientFlow callbacks, then one picture per lamina.viz call and
integrated-gradients explanations.

    python examples/inside_training.py [--out inside_out]   # needs: pip install "lamina[viz,tensorboard]"
    tensorboard --logdir inside_out/runs                    # needs: pip install tensorboard
    python examples/inside_training.py --quick              # 2 epochs

Writes under OUT (TensorBoard logs in OUT/runs unless --logdir says otherwise): history.png (loss and accuracy curves), filters.png (conv1's kernels),
feature_maps.png (conv1's maps of one digit), confusion.png (validation set) and attributions.png
(inputs above their integrated-gradients maps for the predicted class).
"""
from __future__ import annotations

import os
import sys

import lamina
import numpy as np
from lamina import nn, viz
from lamina.data.datasets.digits import load_digits
from lamina.diagnostics import GradientFlow
from lamina.interpret import integrated_gradients
from lamina.models.lenet import LeNet5
from lamina.utils.scripts import out_dir, positive_int, run, tool_parser


def main(out_dir: str = "inside_out", logdir: str | None = None, epochs: int = 12) -> dict:
    """Trains and draws everything into ``out_dir`` (logs in ``logdir``, default out_dir/runs/lenet_digits)."""
    os.makedirs(out_dir, exist_ok=True)
    logdir = logdir or os.path.join(out_dir, "runs", "lenet_digits")
    x, y = load_digits()
    x = (x.astype(np.float32) / 16.0)[:, None]
    idx = np.random.default_rng(0).permutation(len(x))
    tr, va = idx[:1500], idx[1500:]
    lamina.manual_seed(0)
    model = LeNet5(input_size=8)
    opt = lamina.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    tb = lamina.train.TensorBoard(logdir, hparams={"model": "LeNet5"})
    flow = GradientFlow()
    hist = lamina.train.fit(model, nn.CrossEntropyLoss(), opt, (x[tr], y[tr]), val_data=(x[va], y[va]),
                            epochs=epochs, callbacks=[tb, flow], progress=False)
    print(f"val accuracy {hist['val_accuracy'][-1]:.3f}; TensorBoard logs in {tb.log_dir} (graph: {tb.graph_status})")
    print(flow.reports[-1][1].summary())
    model.eval()

    def out(name: str) -> str:
        return os.path.join(out_dir, name)

    viz.plot_history(hist, out("history.png"))
    viz.filters(model, out("filters.png"), scale=12)
    viz.feature_maps(model, x[va][:1], "features.1", out("feature_maps.png"), scale=12)
    pred = lamina.train.predict(model, x[va]).numpy().argmax(1)
    viz.confusion_matrix(y[va], pred, out("confusion.png"))
    xs = x[va][:6]
    attr = integrated_gradients(model, xs, pred[:6], steps=64)
    viz.attribution_map(xs, attr, out("attributions.png"), titles=[f"pred {p}" for p in pred[:6]])
    return {"history": hist, "model": model, "tensorboard": tb}


def cli(argv=None) -> int:
    """The command line: ``--out``, ``--logdir``, ``--epochs``, ``--quick``."""
    ap = tool_parser(__doc__, out="inside_out", quick="2 epochs")
    ap.add_argument("--logdir", default=None, help="TensorBoard log folder (default: OUT/runs/lenet_digits)")
    ap.add_argument("--epochs", type=positive_int, default=12, help="training epochs")
    a = ap.parse_args(argv)
    main(out_dir(a.out, "inside_training"), a.logdir, 2 if a.quick else a.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(run(cli))
