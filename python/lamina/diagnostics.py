"""Is the network learning in every layer? ``gradient_flow`` measures, for one batch, every
parameter's gradient norm, per-layer mean |grad|, weight norms and update-to-weight ratios, and
flags vanishing and exploding layers; the ``GradientFlow`` callback records the same during fit
(and into TensorBoard when a ``lamina.train.TensorBoard`` callback runs alongside)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import _pictures as pics
from .autograd.api import grad as _grad
from .train.callbacks import Callback

__all__ = ["GradientFlow", "GradientFlowReport", "LayerStats", "gradient_flow", "plot_gradient_flows"]

VANISHING = 1e-5   # a layer whose gradient norm is below this fraction of the largest layer's
EXPLODING = 1e3    # a layer whose gradient norm is above this (or not finite)


@dataclass
class LayerStats:
    """One layer's numbers: L2 norm of all its parameters' gradients, their mean ``|grad|``, the L2
    norm of its weights and the update-to-weight ratio ||delta w|| / ||w||."""

    grad_norm: float
    mean_abs_grad: float
    weight_norm: float
    update_ratio: float


def _layer_of(name: str) -> str:
    return name.rpartition(".")[0] or name


class GradientFlowReport(Mapping):
    """A mapping ``parameter name -> L2 norm of its gradient`` (in the model's parameter order),
    with ``weight_norms``, ``update_ratios`` (per parameter) and ``layers`` (``layer name ->
    LayerStats``; a layer is the module owning the parameters). ``vanishing`` / ``exploding`` list
    the flagged layers; ``summary()`` prints a table; ``plot(path)`` draws log-scale bars."""

    def __init__(self, grads: dict, weights: dict, updates: dict, mean_abs: dict, counts: dict,
                 vanishing: float = VANISHING, exploding: float = EXPLODING, step=None) -> None:
        self.grad_norms = grads
        self.weight_norms = weights
        self.update_ratios = {k: updates[k] / weights[k] if weights[k] > 0 else math.inf for k in grads}
        self.step = step
        layers: dict = {}
        for k in grads:
            layers.setdefault(_layer_of(k), []).append(k)
        self.layers = {}
        for lay, names in layers.items():
            gn = math.sqrt(sum(grads[k] ** 2 for k in names))
            wn = math.sqrt(sum(weights[k] ** 2 for k in names))
            un = math.sqrt(sum(updates[k] ** 2 for k in names))
            n = sum(counts[k] for k in names)
            self.layers[lay] = LayerStats(gn, sum(mean_abs[k] * counts[k] for k in names) / max(n, 1), wn,
                                          un / wn if wn > 0 else math.inf)
        top = max((s.grad_norm for s in self.layers.values() if math.isfinite(s.grad_norm)), default=0.0)
        self.vanishing = [k for k, s in self.layers.items() if s.grad_norm < vanishing * top]
        self.exploding = [k for k, s in self.layers.items() if not math.isfinite(s.grad_norm) or s.grad_norm > exploding]
        self.thresholds = (vanishing, exploding)

    def __getitem__(self, name: str) -> float:
        return self.grad_norms[name]

    def __iter__(self):
        return iter(self.grad_norms)

    def __len__(self) -> int:
        return len(self.grad_norms)

    def ratio(self) -> float:
        """Smallest over largest layer gradient norm: ~1 healthy, tiny when early layers starve."""
        norms = [s.grad_norm for s in self.layers.values()]
        return min(norms) / max(norms) if norms and max(norms) > 0 else 0.0

    def summary(self) -> str:
        """A table, one row per layer (input side first), with the flags."""
        v, e = self.thresholds
        rows = [f"{'layer':<24} {'grad L2':>10} {'mean|grad|':>11} {'weight L2':>10} {'update/w':>10}  flag"]
        for k, s in self.layers.items():
            flag = "VANISHING" if k in self.vanishing else "EXPLODING" if k in self.exploding else ""
            rows.append(f"{k:<24} {s.grad_norm:>10.3e} {s.mean_abs_grad:>11.3e} {s.weight_norm:>10.3e} "
                        f"{s.update_ratio:>10.3e}  {flag}")
        rows.append(f"{len(self.vanishing)} vanishing (grad norm < {v:g} x the largest), "
                    f"{len(self.exploding)} exploding (grad norm > {e:g} or not finite); "
                    f"smallest/largest layer norm {self.ratio():.3g}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        return f"GradientFlowReport({len(self.layers)} layers, vanishing={self.vanishing}, exploding={self.exploding})"

    def plot(self, path, title: str | None = None) -> str:
        """Bars of each layer's gradient L2 norm and mean ``|grad|`` on a log scale (matplotlib)."""
        return plot_gradient_flows({title or "gradient flow": self}, path)


def plot_gradient_flows(reports: dict, path) -> str:
    """Side-by-side panels, one per ``label -> GradientFlowReport``, of per-layer gradient L2 norms
    and mean ``|grad|`` (log scale, input side on the left), vanishing layers' bars in red."""
    from .viz._mpl import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, len(reports), figsize=(4.6 * len(reports), 3.4), squeeze=False, sharey=True)
    for ax, (label, rep) in zip(axes[0], reports.items()):
        names = list(rep.layers)
        x = np.arange(len(names))
        gn = np.array([max(rep.layers[k].grad_norm, 1e-30) for k in names])
        ma = np.array([max(rep.layers[k].mean_abs_grad, 1e-30) for k in names])
        colors = ["tab:red" if k in rep.vanishing else "tab:blue" for k in names]
        ax.bar(x - 0.2, gn, 0.4, color=colors, label="grad L2 norm (red: vanishing)")
        ax.bar(x + 0.2, ma, 0.4, color="tab:orange", label="mean |grad|")
        ax.set_yscale("log")
        ax.set_xticks(x, names, rotation=60, fontsize=7)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("layer (input -> output)")
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("gradient (log scale)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def _stats(named, grads, lr: float | None, before=None, step=None, **kw) -> GradientFlowReport:
    g, w, u, m, c = {}, {}, {}, {}, {}
    for (name, p), gr in zip(named, grads):
        if gr is None:
            continue  # a parameter that does not reach the loss has no gradient to report
        ga, wa = pics.to_numpy(gr), pics.to_numpy(p)
        g[name] = float(np.linalg.norm(ga))
        w[name] = float(np.linalg.norm(wa))
        m[name] = float(np.abs(ga).mean()) if ga.size else 0.0
        c[name] = ga.size
        u[name] = float(np.linalg.norm(wa - before[name])) if before is not None else abs(lr) * g[name]
    return GradientFlowReport(g, w, u, m, c, step=step, **kw)


def gradient_flow(model, loss_fn, x, y, lr: float = 1e-2, vanishing: float = VANISHING,
                  exploding: float = EXPLODING) -> GradientFlowReport:
    """Runs ``loss_fn(model(x), y)`` once and returns the gradient of every trainable parameter as a
    GradientFlowReport, without touching ``.grad`` or the weights. Update-to-weight ratios are those
    a plain SGD step of ``lr`` would make (lr * ||grad|| / ||w||). Layers whose gradient norm is
    below ``vanishing`` times the largest are flagged vanishing; above ``exploding``, exploding."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(f"gradient_flow: {type(model).__name__} has no trainable parameters")
    loss = loss_fn(model(x), y)
    grads = _grad(loss, [p for _, p in named], allow_unused=True)
    return _stats(named, grads, lr, vanishing=vanishing, exploding=exploding)


class GradientFlow(Callback):
    """Records a GradientFlowReport during ``fit`` from the gradients the training step computed
    (no extra forward): with ``freq="epoch"`` for each epoch's last batch (step = epoch), with an
    int N every N batches (step = global batch number). Update ratios are the real optimizer step's
    ||w_after - w_before|| / ||w_after||. ``self.reports`` lists (step, report). Each report's
    per-layer gradient norms and update ratios are also written as scalars ``grad_norm/<layer>``
    and ``update_ratio/<layer>`` to ``writer`` or, when None, to the writer of a TensorBoard
    callback in the same fit. ``verbose`` prints the summary when a layer is flagged."""

    def __init__(self, freq="epoch", writer=None, verbose: bool = False) -> None:
        if freq != "epoch" and not (isinstance(freq, int) and freq > 0):
            raise ValueError(f"GradientFlow: freq must be 'epoch' or a positive int, got {freq!r}")
        self.freq, self.writer, self.verbose = freq, writer, verbose
        self.reports: list = []

    def on_train_begin(self, logs=None):
        self.reports = []
        self._step = 0
        self._before = None

    def _due(self, batch: int) -> bool:
        if self.freq == "epoch":
            return batch == self.ctx.steps_per_epoch - 1
        return (self._step + 1) % self.freq == 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_begin(self, batch, logs=None):
        self._before = ({n: pics.to_numpy(p).copy() for n, p in self.model.named_parameters()}
                        if self._due(batch) else None)

    def on_batch_end(self, batch, logs=None):
        if self._before is not None:
            named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
            step = self._epoch if self.freq == "epoch" else self._step
            rep = _stats(named, [p.grad for _, p in named], None, before=self._before, step=step)
            self.reports.append((step, rep))
            self._log(step, rep)
            self._before = None
        self._step += 1

    def _log(self, step, rep: GradientFlowReport) -> None:
        if self.verbose and (rep.vanishing or rep.exploding) and getattr(self.ctx, "is_main_process", True):
            print(f"GradientFlow at step {step}:\n{rep.summary()}")
        w = self.writer or getattr(self.ctx, "tensorboard_writer", None)
        if w is None or not getattr(self.ctx, "is_main_process", True):
            return
        for k, s in rep.layers.items():
            w.add_scalar(f"grad_norm/{k}", s.grad_norm, step)
            w.add_scalar(f"update_ratio/{k}", s.update_ratio, step)
