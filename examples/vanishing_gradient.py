"""The vanishing-gradient lecture, measured: a 10-layer sigmoid MLP against the same net with ReLU
and He initialisation, on the bundled 8x8 digits (no download, about a minute on one core).

    python examples/vanishing_gradient.py [--out vanishing_out]   # needs: pip install "lamina[viz]"
    python examples/vanishing_gradient.py --quick                 # 2 epochs

Backpropagation multiplies each layer's delta by the activation's derivative; the sigmoid's is at
most 1/4, so the first layers of a deep sigmoid net receive gradients orders of magnitude smaller
than the last ones and hardly learn. ReLU's derivative is 1 where active, and He initialisation
(std sqrt(2 / fan_in)) keeps the activations' scale from layer to layer. The script prints both
nets' lamina.diagnostics.gradient_flow summaries at initialisation, saves them side by side
(gradient_flow.png), trains both with the same SGD through lamina.train.fit with a GradientFlow
callback, and saves the training curves and the first layer's gradient norm per epoch
(training_curves.png).
"""
from __future__ import annotations

import os
import sys

import lamina
import numpy as np
from lamina import nn
from lamina.data.datasets.digits import load_digits
from lamina.diagnostics import GradientFlow, gradient_flow, plot_gradient_flows
from lamina.utils.scripts import out_dir as announce_out
from lamina.utils.scripts import positive_int, run, tool_parser

DEPTH, WIDTH = 10, 64


def make_net(kind: str) -> nn.Sequential:
    """DEPTH Linear layers (DEPTH - 1 hidden): sigmoid with the default init, or ReLU with He init."""
    layers, n_in = [], 64
    for _ in range(DEPTH - 1):
        lin = nn.Linear(n_in, WIDTH)
        if kind == "relu":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        layers += [lin, nn.Sigmoid() if kind == "sigmoid" else nn.ReLU()]
        n_in = WIDTH
    layers.append(nn.Linear(n_in, 10))
    return nn.Sequential(*layers)


def data():
    x, y = load_digits(flatten=True)
    x = (x.astype(np.float32) / 16.0 - 0.5) / 0.5
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    tr, va = idx[:1500], idx[1500:]
    return (x[tr], y[tr]), (x[va], y[va])


def main(out_dir: str = "vanishing_out", epochs: int = 15) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    train, val = data()
    loss_fn = nn.CrossEntropyLoss()
    xb, yb = lamina.tensor(train[0][:256]), lamina.tensor(train[1][:256])
    nets, reports, hists, flows = {}, {}, {}, {}
    for kind in ("sigmoid", "relu"):
        lamina.manual_seed(0)
        nets[kind] = make_net(kind)
        reports[kind] = gradient_flow(nets[kind], loss_fn, xb, yb)
        print(f"--- {DEPTH}-layer {kind} MLP at initialisation ---\n{reports[kind].summary()}\n")
    labels = {"sigmoid": f"{DEPTH}-layer sigmoid, default init", "relu": f"{DEPTH}-layer ReLU, He init"}
    plot_gradient_flows({labels[k]: reports[k] for k in reports}, os.path.join(out_dir, "gradient_flow.png"))
    for kind, net in nets.items():
        lamina.manual_seed(1)
        flows[kind] = GradientFlow()
        opt = lamina.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        hists[kind] = lamina.train.fit(net, loss_fn, opt, train, val_data=val, epochs=epochs, batch_size=32,
                                       callbacks=[flows[kind]], progress=False)
        h = hists[kind].history
        print(f"{kind:>7}: val accuracy per epoch {np.round(h['val_accuracy'], 3).tolist()}")
    _plot_training(hists, flows, labels, os.path.join(out_dir, "training_curves.png"))
    return {"reports": reports, "histories": hists, "flows": flows}


def _plot_training(hists, flows, labels, path) -> None:
    from lamina.viz._mpl import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for kind, h in hists.items():
        ep = np.arange(1, len(h.epoch) + 1)
        axes[0].plot(ep, h["loss"], label=labels[kind])
        axes[1].plot(ep, h["val_accuracy"], label=labels[kind])
        first = next(iter(flows[kind].reports[0][1].layers))
        axes[2].plot(ep, [r.layers[first].grad_norm for _, r in flows[kind].reports], label=labels[kind])
    axes[0].set_title("training loss")
    axes[1].set_title("validation accuracy")
    axes[2].set_title("first layer's gradient L2 norm")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)


def cli(argv=None) -> int:
    """The command line: ``--out``, ``--epochs``, ``--quick``."""
    ap = tool_parser(__doc__, out="vanishing_out", quick="2 epochs")
    ap.add_argument("--epochs", type=positive_int, default=15, help="training epochs per net")
    a = ap.parse_args(argv)
    main(announce_out(a.out, "vanishing_gradient"), 2 if a.quick else a.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(run(cli))
