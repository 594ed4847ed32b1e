"""Autoencoders: a one-hidden-layer Autoencoder (optionally tied weights), the DenoisingAutoencoder
(masking, Gaussian or salt-and-pepper corruption in training mode), the greedy layer-wise
StackedDenoisingAutoencoder with a supervised fine-tuning head, and a small ConvAutoencoder."""
from __future__ import annotations

import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..data import DataLoader, Dataset
from ..nn import functional as F
from ..ops.creation import as_tensor, rand_like, randn_like, randperm, zeros
from ..ops.join import cat
from ..ops.unary import where
from ..tensor import Tensor
from ..train import fit
from ..train.tensorboard import EpochScalars
from ._training import RECON_TAGS as _RECON_TAGS
from ._training import fit_reconstruction, make_optimizer, make_scheduler
from .mlp import activation as _activation

_LOSSES = ("mse", "bce")
_CORRUPTIONS = ("masking", "gaussian", "salt_and_pepper", "none")


def _inputs(data):
    """All inputs of ``data`` as one tensor: a Tensor / ndarray, a Dataset of (x, y) or of x, or a
    DataLoader (its batches concatenated)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, list)):
        return as_tensor(data)
    if isinstance(data, Dataset):
        data = DataLoader(data, batch_size=1024, shuffle=False)
    if isinstance(data, DataLoader):
        xs = [b[0] if isinstance(b, (tuple, list)) else b for b in data]
        return cat(xs, 0)
    raise TypeError(f"expected a Tensor, an ndarray, a Dataset or a DataLoader of inputs, got {type(data).__name__}")


def _batches(x, batch_size: int, shuffle: bool = False):
    """Mini-batches of the rows of ``x`` (a seeded shuffle from lamina's generator); inference
    helpers use it in order, training batches come from ``lamina.train.fit``."""
    n = x.shape[0]
    if shuffle:
        order = randperm(n)
        for i in range(0, n, batch_size):
            yield x[order[i:i + batch_size]]
    else:
        for i in range(0, n, batch_size):
            yield x[i:i + batch_size]


class Autoencoder(nn.Module):
    """``Autoencoder(n_in, n_hidden, activation="sigmoid", tied=False, loss="mse")``.

    encode(x) = activation(encoder(x)), decode(h) = output_activation(decoder(h)) with
    ``output_activation`` sigmoid by default (inputs in [0, 1]; required for ``loss="bce"``).
    ``tied=True``: the decoder uses ``encoder.weight.T`` (the same memory) plus its own bias
    ``decoder_bias``. Inputs may have any shape that flattens to (N, n_in); ``forward`` returns
    the reconstruction in the input's shape.
    """

    def __init__(self, n_in: int, n_hidden: int, activation="sigmoid", tied: bool = False, loss: str = "mse",
                 output_activation="sigmoid") -> None:
        super().__init__()
        if loss not in _LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose from {_LOSSES}")
        if loss == "bce" and output_activation != "sigmoid":
            raise ValueError(f"loss='bce' needs output_activation='sigmoid' (outputs in (0, 1)), "
                             f"got {output_activation!r}")
        self.n_in, self.n_hidden, self.tied, self.loss = int(n_in), int(n_hidden), bool(tied), loss
        self.encoder = nn.Linear(n_in, n_hidden)
        self.act = _activation(activation)
        if tied:
            self.decoder = None
            self.decoder_bias = nn.Parameter(zeros(n_in))
        else:
            self.decoder = nn.Linear(n_hidden, n_in)
        self.out_act = _activation("linear" if output_activation is None else output_activation)

    def _flat(self, x):
        x = _inputs(x)
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        if x.shape[-1] != self.n_in:
            raise ValueError(f"{type(self).__name__}: expected inputs with {self.n_in} features per sample, "
                             f"got shape {list(x.shape)}")
        return x

    def encode(self, x):
        """The hidden code (N, n_hidden) of clean inputs (no corruption)."""
        return self.act(self.encoder(self._flat(x)))

    def decode(self, h):
        """The reconstruction (N, n_in) of codes h."""
        if self.tied:
            return self.out_act(F.linear(h, self.encoder.weight.t(), self.decoder_bias))
        return self.out_act(self.decoder(h))

    def forward(self, x):
        x = as_tensor(x)
        return self.decode(self.encode(x)).reshape(x.shape)

    def loss_fn(self, recon, target):
        """Mean reconstruction loss (MSE or binary cross-entropy) between recon and target."""
        if self.loss == "bce":
            return F.binary_cross_entropy(recon, target.clamp(0.0, 1.0))
        return F.mse_loss(recon, target)

    def reconstruction_error(self, x, batch_size: int = 1024) -> np.ndarray:
        """Per-sample reconstruction error as a float64 numpy array (N,): the mean over features
        of the squared error (``loss="mse"``) or of the binary cross-entropy (``loss="bce"``),
        computed in eval mode (no corruption) without recording a graph."""
        x = self._flat(x)
        was = self.training
        self.eval()
        out = []
        try:
            with no_grad():
                for xb in _batches(x, batch_size, False):
                    r = self.decode(self.encode(xb))
                    if self.loss == "bce":
                        e = F.binary_cross_entropy(r, xb.clamp(0.0, 1.0), reduction="none")
                    else:
                        e = (r - xb) ** 2
                    out.append(e.mean(1).numpy().astype(np.float64))
        finally:
            self.train(was)
        return np.concatenate(out) if out else np.zeros(0)

    def fit(self, data, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3, optimizer="adam",
            shuffle: bool = True, verbose: bool = False, *, val_data=None, callbacks=(), scheduler=None,
            progress: bool = False, **fit_kwargs):
        """Trains the model to reconstruct its (clean) inputs through ``lamina.train.fit`` and returns
        its History: ``history["loss"]`` is the mean training loss of each epoch, ``val_loss`` the
        clean reconstruction loss on ``val_data``. ``data`` / ``val_data``: a Tensor / ndarray of
        inputs, a Dataset (labels ignored) or a DataLoader. ``optimizer``: a ``lamina.optim``
        Optimizer instance, a class or factory (called with (params, lr=lr)), or a name ('adam',
        'sgd' (momentum 0.9), 'adamw', 'rmsprop', 'adagrad'). ``callbacks`` (EarlyStopping,
        ModelCheckpoint, ...), ``scheduler`` (an instance or a function optimizer -> scheduler),
        ``progress`` (or ``verbose``): the progress bar; other keywords (``resume_from``, ...) go
        to fit. Trains in training mode (a DenoisingAutoencoder corrupts each batch afresh) and
        leaves the model in eval mode."""
        x_val = None if val_data is None else self._flat(_inputs(val_data))
        return fit_reconstruction(self, self._flat(_inputs(data)), x_val, epochs=epochs, batch_size=batch_size,
                                  lr=lr, optimizer=optimizer, shuffle=shuffle, progress=progress or verbose,
                                  callbacks=callbacks, scheduler=scheduler, **fit_kwargs)

    def _corrupt_train(self, x):
        return x

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_hidden={self.n_hidden}, tied={self.tied}, loss={self.loss!r}"


class DenoisingAutoencoder(Autoencoder):
    """An Autoencoder that reconstructs clean inputs from corrupted ones (Vincent et al. 2008).

    ``corruption``: "masking" (each input set to 0 with probability ``corruption_level``),
    "gaussian" (adds N(0, corruption_level^2) noise) or "salt_and_pepper" (each input, with
    probability ``corruption_level``, set to 0 or 1 with equal odds). The corruption is drawn
    afresh on every forward pass in training mode only; in eval mode forward is the plain
    reconstruction. The training loss always compares with the clean input.
    """

    def __init__(self, n_in: int, n_hidden: int, activation="sigmoid", tied: bool = False, loss: str = "mse",
                 corruption: str = "masking", corruption_level: float = 0.3, output_activation="sigmoid") -> None:
        super().__init__(n_in, n_hidden, activation, tied, loss, output_activation)
        if corruption not in _CORRUPTIONS:
            raise ValueError(f"unknown corruption {corruption!r}; choose from {_CORRUPTIONS}")
        if corruption_level < 0 or (corruption in ("masking", "salt_and_pepper") and corruption_level > 1):
            raise ValueError(f"corruption_level for {corruption!r} must be in [0, 1] "
                             f"(a standard deviation >= 0 for 'gaussian'), got {corruption_level}")
        self.corruption, self.corruption_level = corruption, float(corruption_level)

    def corrupt(self, x):
        """A freshly corrupted copy of x (always, whatever the mode)."""
        x = as_tensor(x)
        p = self.corruption_level
        if self.corruption == "none" or p == 0:
            return x
        if self.corruption == "masking":
            return where(rand_like(x) >= p, x, 0.0)
        if self.corruption == "gaussian":
            return x + randn_like(x) * p
        hit = rand_like(x) < p
        salt = (rand_like(x) < 0.5).to(x.dtype)
        return where(hit, salt, x)

    def _corrupt_train(self, x):
        return self.corrupt(x) if self.training else x

    def forward(self, x):
        x = as_tensor(x)
        return self.decode(self.encode(self._corrupt_train(x))).reshape(x.shape)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", corruption={self.corruption!r}, corruption_level={self.corruption_level}"


class StackedDenoisingAutoencoder(nn.Module):
    """``StackedDenoisingAutoencoder(sizes=[784, 500, 250], n_classes=10)`` (Vincent et al. 2010).

    ``pretrain(data, epochs_per_layer)`` trains level k as a DenoisingAutoencoder on the clean
    code of level k-1 (greedy, unsupervised; ``corruption_level`` may be a list, one per level);
    ``fine_tune(train, val, epochs)`` trains encoders + a Linear output with labels
    (CrossEntropyLoss, lamina.train.fit). The classifier shares the encoders' parameters, so
    ``transform(x)`` (the top-level code) reflects fine-tuning. ``forward(x)`` gives the logits.
    """

    def __init__(self, sizes=(784, 500, 250), n_classes: int = 10, activation="sigmoid", tied: bool = False,
                 loss: str = "mse", corruption: str = "masking", corruption_level=0.3, dropout: float = 0.0) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"StackedDenoisingAutoencoder needs at least an input and one hidden size, got {sizes}")
        levels = (list(corruption_level) if isinstance(corruption_level, (list, tuple))
                  else [corruption_level] * (len(sizes) - 1))
        if len(levels) != len(sizes) - 1:
            raise ValueError(f"corruption_level: expected one level per hidden layer ({len(sizes) - 1}), got {levels}")
        self.sizes, self.n_classes, self.dropout = sizes, int(n_classes), float(dropout)
        # Level 0 reconstructs inputs in [0, 1] through a sigmoid; a higher level reconstructs the code
        # below it, which is in (0, 1) only for sigmoid units (otherwise: linear output and MSE).
        bounded = activation == "sigmoid"
        self.daes = nn.ModuleList([
            DenoisingAutoencoder(sizes[i], sizes[i + 1], activation, tied,
                                 loss if i == 0 or bounded else "mse", corruption, levels[i],
                                 "sigmoid" if i == 0 or bounded else "linear")
            for i in range(len(sizes) - 1)])
        self.output = nn.Linear(sizes[-1], n_classes) if n_classes else None
        self._classifier = None

    def _encode_upto(self, x, k: int):
        for dae in list(self.daes)[:k]:
            x = dae.encode(x)
        return x

    def transform(self, x, batch_size: int = 1024):
        """The top-level code (N, sizes[-1]) of clean inputs, in eval mode without a graph."""
        x = _inputs(x)
        with no_grad():
            return cat([self._encode_upto(xb, len(self.daes)) for xb in _batches(x, batch_size, False)], 0)

    def pretrain(self, data, epochs_per_layer: int = 5, batch_size: int = 64, lr: float = 1e-3, optimizer="adam",
                 verbose: bool = False, *, callbacks=(), progress: bool = False, writer=None, **fit_kwargs) -> list:
        """Greedy layer-wise pretraining, each level through ``DenoisingAutoencoder.fit`` (so through
        ``lamina.train.fit``); returns one History per level (``h["loss"]``: per-epoch losses).
        ``optimizer``: as in ``Autoencoder.fit``, but an instance cannot serve several levels:
        pass a name or a factory (e.g. ``lambda p, lr: lamina.optim.SGD(p, lr, momentum=0.9)``).
        ``callbacks`` run for every level (each level is one fit: ``on_train_begin`` resets them).
        ``writer`` (anything with ``add_scalar``, e.g. ``lamina.utils.tensorboard.SummaryWriter``):
        each level's reconstruction loss per epoch as ``pretrain/layer<k>/recon_error`` (and
        ``val_recon_error``), step = the epoch."""
        if isinstance(optimizer, optim.Optimizer) and len(self.daes) > 1:
            raise TypeError("StackedDenoisingAutoencoder.pretrain: an Optimizer instance holds one level's "
                            "parameters; pass a name or a factory (params, lr=...) -> Optimizer")
        x = _inputs(data)
        x = x.reshape(x.shape[0], -1)
        epochs = (epochs_per_layer if isinstance(epochs_per_layer, (list, tuple))
                  else [epochs_per_layer] * len(self.daes))
        out = []
        for k, dae in enumerate(self.daes):
            codes = self.transform_level(x, k)
            cbs = list(callbacks) + ([EpochScalars(writer, f"pretrain/layer{k}", _RECON_TAGS)] if writer else [])
            out.append(dae.fit(codes, epochs[k], batch_size, lr, optimizer, callbacks=cbs,
                               progress=progress or verbose, **fit_kwargs))
        return out

    def transform_level(self, x, k: int, batch_size: int = 1024):
        """The clean code after the first k levels (k=0: the flattened input itself)."""
        x = _inputs(x)
        x = x.reshape(x.shape[0], -1)
        if k == 0:
            return x
        with no_grad():
            return cat([self._encode_upto(xb, k) for xb in _batches(x, batch_size, False)], 0)

    def to_classifier(self):
        """nn.Sequential(Flatten, encoder 1, act, [Dropout], ..., output Linear): shares parameters
        with this model (built once, then returned again)."""
        if self.output is None:
            raise RuntimeError("to_classifier: this StackedDenoisingAutoencoder was built with n_classes=0")
        if self._classifier is None:
            layers = [nn.Flatten()]
            for dae in self.daes:
                layers += [dae.encoder, dae.act]
                if self.dropout > 0:
                    layers.append(nn.Dropout(self.dropout))
            layers.append(self.output)
            # kept out of the module tree (a plain attribute) so parameters are not listed twice
            object.__setattr__(self, "_classifier", nn.Sequential(*layers))
        return self._classifier

    def forward(self, x):
        clf = self.to_classifier()
        if clf.training != self.training:
            clf.train(self.training)
        return clf(x)

    def fine_tune(self, train_data, val_data=None, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3,
                  optimizer="adam", callbacks=(), progress: bool = False, scheduler=None):
        """Supervised training of the encoders + output layer with CrossEntropyLoss through
        lamina.train.fit; returns its History. Data: DataLoader, Dataset or (inputs, labels).
        ``scheduler``: a scheduler instance (for an Optimizer instance you passed) or a function
        optimizer -> scheduler, e.g. ``lambda opt: CosineAnnealingLR(opt, epochs)``."""
        clf = self.to_classifier()
        opt = make_optimizer(optimizer, clf.parameters(), lr)
        sched = make_scheduler(scheduler, opt)
        hist = fit(clf, nn.CrossEntropyLoss(), opt, train_data, val_data=val_data, epochs=epochs,
                   callbacks=callbacks, progress=progress, batch_size=batch_size, scheduler=sched)
        clf.eval()
        return hist


class ConvAutoencoder(nn.Module):
    """``ConvAutoencoder(in_channels=1, channels=(16, 32), kernel_size=3)``: stride-2 Conv2d + ReLU
    encoder (each level halves H and W, rounding up), ConvTranspose2d decoder whose output_padding
    is chosen per call so the output has the input's exact H x W (28x28 -> 14 -> 7 -> 14 -> 28,
    8x8 -> 4 -> 2 -> 4 -> 8, odd sizes too), sigmoid output. Input (N, C, H, W) in [0, 1]."""

    def __init__(self, in_channels: int = 1, channels=(16, 32), kernel_size: int = 3, loss: str = "mse") -> None:
        super().__init__()
        if loss not in _LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose from {_LOSSES}")
        if kernel_size % 2 != 1:
            raise ValueError(f"ConvAutoencoder: kernel_size must be odd, got {kernel_size}")
        chans = [int(in_channels)] + [int(c) for c in channels]
        self.loss, self.k, self.pad = loss, int(kernel_size), int(kernel_size) // 2
        self.enc = nn.ModuleList([nn.Conv2d(chans[i], chans[i + 1], kernel_size, stride=2, padding=self.pad)
                                  for i in range(len(chans) - 1)])
        self.dec = nn.ModuleList([nn.ConvTranspose2d(chans[i + 1], chans[i], kernel_size, stride=2, padding=self.pad)
                                  for i in reversed(range(len(chans) - 1))])

    def encode(self, x):
        """The code (N, channels[-1], H / 2^L, W / 2^L) (sizes rounded up at each level)."""
        x = as_tensor(x)
        if x.ndim != 4:
            raise ValueError(f"ConvAutoencoder: expected input (N, C, H, W), got shape {list(x.shape)}")
        for conv in self.enc:
            x = F.relu(conv(x))
        return x

    def decode(self, h, size=None):
        """The reconstruction of code h; ``size`` (H, W) of the original input (default: each level
        doubles)."""
        sizes = []
        hw = tuple(size) if size is not None else (h.shape[2] * 2 ** len(self.enc), h.shape[3] * 2 ** len(self.enc))
        for _ in self.enc:  # spatial size before each encoder level, outermost first
            sizes.append(hw)
            hw = tuple((s + 2 * self.pad - self.k) // 2 + 1 for s in hw)
        for i, deconv in enumerate(self.dec):
            target = sizes[len(sizes) - 1 - i]
            base = [(h.shape[2 + d] - 1) * 2 - 2 * self.pad + self.k for d in range(2)]
            op = tuple(t - b for t, b in zip(target, base))
            if any(o < 0 or o > 1 for o in op):
                raise ValueError(f"ConvAutoencoder.decode: code of shape {list(h.shape)} cannot be decoded to {size}")
            h = F.conv_transpose2d(h, deconv.weight, deconv.bias, 2, self.pad, op)
            h = F.sigmoid(h) if i == len(self.dec) - 1 else F.relu(h)
        return h

    def forward(self, x):
        x = as_tensor(x)
        return self.decode(self.encode(x), size=(x.shape[2], x.shape[3]))

    def loss_fn(self, recon, target):
        if self.loss == "bce":
            return F.binary_cross_entropy(recon, target.clamp(0.0, 1.0))
        return F.mse_loss(recon, target)

    def fit(self, data, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3, optimizer="adam",
            shuffle: bool = True, verbose: bool = False, *, val_data=None, callbacks=(), scheduler=None,
            progress: bool = False, **fit_kwargs):
        """Trains to reconstruct the inputs through ``lamina.train.fit``; returns its History
        (``history["loss"]``: per-epoch mean training losses). Arguments as in ``Autoencoder.fit``."""
        return fit_reconstruction(self, _inputs(data), None if val_data is None else _inputs(val_data),
                                  epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, shuffle=shuffle,
                                  progress=progress or verbose, callbacks=callbacks, scheduler=scheduler,
                                  **fit_kwargs)

    def reconstruction_error(self, x, batch_size: int = 1024) -> np.ndarray:
        """Per-sample mean squared (or BCE) reconstruction error, float64 numpy (N,)."""
        x = _inputs(x)
        was = self.training
        self.eval()
        out = []
        try:
            with no_grad():
                for xb in _batches(x, batch_size, False):
                    r = self(xb)
                    e = (F.binary_cross_entropy(r, xb.clamp(0.0, 1.0), reduction="none") if self.loss == "bce"
                         else (r - xb) ** 2)
                    out.append(e.reshape(xb.shape[0], -1).mean(1).numpy().astype(np.float64))
        finally:
            self.train(was)
        return np.concatenate(out) if out else np.zeros(0)
