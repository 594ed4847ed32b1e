"""Deep belief nets (Hinton, Osindero & Teh 2006): a stack of RBMs pretrained greedily, layer by
layer, then unrolled into a feed-forward sigmoid network and fine-tuned with backprop."""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..ops.creation import as_tensor
from ..train.tensorboard import EpochScalars
from ._training import RECON_TAGS as _RECON_TAGS
from .rbm import RBM, _batches_array


class DBN(nn.Module):
    """``DBN(sizes=[784, 500, 500], n_classes=10, visible="bernoulli", k=1, persistent=False, ...)``.

    ``rbms[i]`` is an RBM(sizes[i], sizes[i+1]); the first may have Gaussian visibles, the others
    are Bernoulli. Extra keyword arguments (lr, momentum, weight_decay, sparsity_target, ...) go to
    every RBM. ``pretrain`` trains layer i on the hidden probabilities of layer i-1;
    ``transform(x)`` gives the top layer's features; ``to_classifier()`` builds
    Flatten, (Linear + Sigmoid) per RBM initialised from its weights and hidden biases, and a
    Linear(sizes[-1], n_classes) output (train it with CrossEntropyLoss); ``fine_tune`` does that
    with ``lamina.train.fit``. ``forward`` runs the classifier once built, the features before.
    """

    def __init__(self, sizes=(784, 500, 500), n_classes: int | None = 10, visible: str = "bernoulli",
                 k: int = 1, persistent: bool = False, **rbm_kwargs) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"DBN needs at least a visible and a hidden size, got {sizes}")
        self.sizes, self.n_classes = sizes, n_classes
        self.rbms = nn.ModuleList([
            RBM(sizes[i], sizes[i + 1], visible=visible if i == 0 else "bernoulli", k=k, persistent=persistent,
                **rbm_kwargs)
            for i in range(len(sizes) - 1)])
        self.classifier: nn.Sequential | None = None

    def pretrain(self, data, epochs_per_layer=5, batch_size: int = 64, lr=None, verbose: bool = False,
                 monitor: bool = False, *, optimizer=None, callbacks=(), progress: bool = False, writer=None,
                 **fit_kwargs) -> list:
        """Greedy layer-wise training on ``data`` (array, tensor, Dataset or DataLoader; labels are
        ignored), each RBM through ``RBM.fit`` (so ``lamina.train.fit`` and ``lamina.optim``).
        ``epochs_per_layer``: an int or one per layer. ``optimizer`` (None: each RBM's own SGD),
        ``callbacks`` (run for every layer; each layer is one fit), ``progress`` and other fit
        keywords as in ``RBM.fit``; an Optimizer instance cannot serve several RBMs (pass a name or
        a factory). ``writer`` (anything with ``add_scalar``, e.g. ``lamina.utils.tensorboard.SummaryWriter``):
        each layer's reconstruction error per epoch as ``pretrain/layer<k>/recon_error`` (and
        ``val_recon_error``, ``progress``), step = the epoch. Returns each RBM's History."""
        from .. import optim

        if isinstance(optimizer, optim.Optimizer) and len(self.rbms) > 1:
            raise TypeError("DBN.pretrain: an Optimizer instance holds one RBM's parameters; pass a name or a "
                            "factory (param groups, lr=...) -> Optimizer")
        x = _batches_array(data, self.sizes[0]).astype(self.rbms[0].weight.detach().numpy().dtype)
        epochs = ([int(epochs_per_layer)] * len(self.rbms) if np.isscalar(epochs_per_layer)
                  else [int(e) for e in epochs_per_layer])
        if len(epochs) != len(self.rbms):
            raise ValueError(f"DBN.pretrain: got {len(epochs)} epoch counts for {len(self.rbms)} layers")
        hists = []
        for k, (rbm, ep) in enumerate(zip(self.rbms, epochs)):
            cbs = list(callbacks) + ([EpochScalars(writer, f"pretrain/layer{k}", _RECON_TAGS)] if writer else [])
            hists.append(rbm.fit(x, epochs=ep, batch_size=batch_size, lr=lr, verbose=verbose, monitor=monitor,
                                 optimizer=optimizer, callbacks=cbs, progress=progress, **fit_kwargs))
            x = rbm.transform(as_tensor(x)).numpy()
        return hists

    def transform(self, x):
        """Top-layer hidden probabilities (deterministic up-pass through every RBM)."""
        with no_grad():
            h = as_tensor(x)
            h = h.reshape(h.shape[0], -1)
            for rbm in self.rbms:
                h = rbm.hidden_probs(h)
            return h

    def to_classifier(self, dropout: float = 0.0) -> nn.Sequential:
        """A fresh feed-forward classifier initialised from the (pretrained) RBM weights, with
        Dropout(``dropout``) after each hidden Sigmoid when ``dropout`` > 0."""
        if self.n_classes is None:
            raise ValueError("DBN.to_classifier: this DBN was built with n_classes=None")
        layers = [nn.Flatten()]
        for rbm in self.rbms:
            lin = nn.Linear(rbm.n_visible, rbm.n_hidden, dtype=rbm.weight.dtype)
            with no_grad():
                lin.weight.copy_(rbm.weight.detach())
                lin.bias.copy_(rbm.hbias.detach())
            layers += [lin, nn.Sigmoid()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(self.sizes[-1], self.n_classes, dtype=self.rbms[-1].weight.dtype))
        return nn.Sequential(*layers)

    def fine_tune(self, train_data, val_data=None, epochs: int = 10, lr: float = 0.1, momentum: float = 0.9,
                  batch_size: int = 64, optimizer=None, dropout: float = 0.0, progress: bool = False,
                  **fit_kwargs):
        """Builds ``to_classifier()`` (kept as ``self.classifier``) and trains it with
        ``lamina.train.fit`` and CrossEntropyLoss (SGD with momentum unless ``optimizer`` is given:
        a callable params -> optimizer; ``dropout`` as in ``to_classifier``). Returns the fit History."""
        from .. import optim
        from ..train import fit

        self.classifier = self.to_classifier(dropout)
        opt = optimizer(self.classifier.parameters()) if optimizer is not None else \
            optim.SGD(self.classifier.parameters(), lr=lr, momentum=momentum)
        return fit(self.classifier, nn.CrossEntropyLoss(), opt, train_data, val_data, epochs=epochs,
                   batch_size=batch_size, progress=progress, **fit_kwargs)

    def forward(self, x):
        if self.classifier is not None:
            return self.classifier(x)
        h = as_tensor(x)
        h = h.reshape(h.shape[0], -1)
        for rbm in self.rbms:
            h = rbm(h)
        return h


__all__ = ["DBN"]
