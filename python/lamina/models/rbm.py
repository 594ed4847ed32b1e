"""Restricted Boltzmann machines trained with contrastive divergence (CD-k) or persistent CD.

The energy of a Bernoulli-Bernoulli RBM is ``E(v, h) = -v.b - h.c - h W v`` with W of shape
(n_hidden, n_visible). With ``visible="gaussian"`` the visibles are unit-variance Gaussians,
``E = |v - b|^2 / 2 - h.c - h W v``, so ``p(v | h) = N(W^T h + b, I)``: standardise the data
(zero mean, unit variance per feature) before training such a model.

The sampling and the positive/negative statistics run in C++ (``_C.rbm_cd_step``, seeded through
``lamina.manual_seed``). Training goes through ``lamina.optim`` and ``lamina.train.fit``: ``cd_loss``
is a surrogate scalar whose backward sets each parameter's gradient to minus its CD statistic (plus
the sparsity term), and an optimizer (by default SGD with momentum and L2 decay on the weights)
takes the step, so callbacks, progress bars, History and checkpoints work as for any model.
"""
from __future__ import annotations

import numpy as np

from .. import _C, nn
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..ops.activation import sigmoid, softplus
from ..ops.creation import as_tensor, randn, randn_like, zeros
from ..ops.linear import linear
from ..tensor import Tensor
from ._training import make_optimizer, make_scheduler

W_ = Tensor._wrap


class _CDSurrogate(Function):
    """A scalar with prescribed gradients: forward returns ``value`` (the batch's reconstruction
    error, reported, not differentiated); backward gives weight, vbias and hbias minus their CD
    statistics (times the incoming gradient), so an optimizer minimising it ascends the CD estimate
    of the log-likelihood."""

    @staticmethod
    def forward(ctx, value, stats, weight, vbias, hbias):
        ctx.stats = stats
        return as_tensor(value, dtype=weight.dtype)

    @staticmethod
    def backward(ctx, dout):
        neg = -dout
        return (None, None) + tuple(s * neg for s in ctx.stats)


def _cd_train_step(model, x, y):
    """fit's train_step for an RBM: the CD surrogate of the batch (targets unused)."""
    return None, model.cd_loss(x)


def _batches_array(data, n_visible: int) -> np.ndarray:
    """The whole training set as a float (N, n_visible) array, from an array, a tensor, a Dataset
    (first item of each sample) or a DataLoader (first element of each batch)."""
    from ..data import DataLoader, Dataset

    if isinstance(data, DataLoader):
        parts = [np.asarray(b[0] if isinstance(b, (tuple, list)) else b) for b in data]
        arr = np.concatenate([p.reshape(len(p), -1) for p in parts])
    elif isinstance(data, Dataset):
        items = [data[i] for i in range(len(data))]
        arr = np.stack([np.asarray(it[0] if isinstance(it, (tuple, list)) else it).reshape(-1) for it in items])
    else:
        arr = np.asarray(data)
        arr = arr.reshape(len(arr), -1)
    if arr.shape[1] != n_visible:
        raise ValueError(f"RBM.fit: data has {arr.shape[1]} features per sample, expected n_visible={n_visible}")
    return arr


class RBM(nn.Module):
    """``RBM(n_visible, n_hidden, visible="bernoulli"|"gaussian", k=1, persistent=False, ...)``.

    Parameters: ``weight`` (n_hidden, n_visible), ``vbias`` (n_visible), ``hbias`` (n_hidden).
    Training hyper-parameters of the default optimizer (``default_optimizer``: ``lamina.optim.SGD``):
    ``lr`` (default 0.1 for Bernoulli visibles, 0.01 for Gaussian), ``momentum``, ``weight_decay``
    (L2 on W only); and an optional sparsity penalty (part of the gradient, whatever the optimizer): with ``sparsity_target`` p and ``sparsity_cost`` s, the hidden biases and weights move
    by ``-s (q - p)`` (times the mean visible vector for W), q = mean hidden probability on the batch.
    ``persistent=True`` keeps the Gibbs chain (``n_chains`` rows, default the first batch's size)
    between batches (PCD, Tieleman 2008); otherwise each batch starts its chain at the data (CD-k).
    ``forward(v)`` = ``transform(v)`` = hidden probabilities, usable as features.
    """

    def __init__(self, n_visible: int, n_hidden: int, visible: str = "bernoulli", k: int = 1,
                 persistent: bool = False, lr: float | None = None, momentum: float = 0.5,
                 weight_decay: float = 0.0, sparsity_target: float | None = None, sparsity_cost: float = 0.0,
                 n_chains: int | None = None, dtype=None) -> None:
        super().__init__()
        if visible not in ("bernoulli", "gaussian"):
            raise ValueError(f"RBM: visible must be 'bernoulli' or 'gaussian', got {visible!r}")
        if n_visible < 1 or n_hidden < 1:
            raise ValueError(f"RBM: n_visible and n_hidden must be positive, got {n_visible} and {n_hidden}")
        if k < 1:
            raise ValueError(f"RBM: k (Gibbs steps per update) must be at least 1, got {k}")
        if sparsity_target is not None and not 0.0 < sparsity_target < 1.0:
            raise ValueError(f"RBM: sparsity_target must be in (0, 1), got {sparsity_target}")
        self.n_visible, self.n_hidden, self.visible = int(n_visible), int(n_hidden), visible
        self.k, self.persistent, self.n_chains = int(k), bool(persistent), n_chains
        self.lr = float(lr) if lr is not None else (0.1 if visible == "bernoulli" else 0.01)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.sparsity_target, self.sparsity_cost = sparsity_target, float(sparsity_cost)
        # Small random weights (Hinton's guide: N(0, 0.01^2)), zero biases.
        self.weight = nn.Parameter(randn(n_hidden, n_visible, dtype=dtype) * 0.01)
        self.vbias = nn.Parameter(zeros(n_visible, dtype=dtype))
        self.hbias = nn.Parameter(zeros(n_hidden, dtype=dtype))
        self.chain: Tensor | None = None  # the persistent chain's visible state (PCD)
        self._optimizer = None  # default_optimizer(): SGD kept across calls, so momentum carries over
        self._pll_index = 0

    @property
    def W(self) -> Tensor:
        return self.weight

    def extra_repr(self) -> str:
        return (f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, visible={self.visible!r}, k={self.k}, "
                f"persistent={self.persistent}")

    # ---- conditionals and sampling ----
    def _in(self, v) -> Tensor:
        v = as_tensor(v)
        if v.dtype != self.weight.dtype:
            v = v.to(self.weight.dtype)
        if v.ndim != 2:
            v = v.reshape(v.shape[0] if v.ndim else 1, -1)
        if v.shape[1] != self.n_visible:
            raise ValueError(f"RBM: input has {v.shape[1]} features per sample, expected n_visible={self.n_visible}")
        return v

    def hidden_probs(self, v) -> Tensor:
        """p(h = 1 | v) = sigmoid(v W^T + c), differentiable."""
        return sigmoid(linear(self._in(v), self.weight, self.hbias))

    def visible_mean(self, h) -> Tensor:
        """E[v | h]: sigmoid(h W + b) for Bernoulli visibles, h W + b for Gaussian ones."""
        m = linear(as_tensor(h).to(self.weight.dtype), self.weight.t(), self.vbias)
        return sigmoid(m) if self.visible == "bernoulli" else m

    def sample_h(self, v) -> tuple:
        """(p(h | v), a Bernoulli sample of h)."""
        with no_grad():
            p = self.hidden_probs(v)
            return p, W_(_C.rbm_sample_bernoulli(p._c))

    def sample_v(self, h) -> tuple:
        """(E[v | h], a sample of v): Bernoulli draws, or mean + N(0, 1) noise for Gaussian visibles."""
        with no_grad():
            m = self.visible_mean(h)
            if self.visible == "bernoulli":
                return m, W_(_C.rbm_sample_bernoulli(m._c))
            return m, m + randn_like(m)

    def gibbs(self, v, steps: int = 1) -> Tensor:
        """``steps`` rounds of v -> h -> v block Gibbs sampling; returns the last visible sample."""
        v = self._in(v)
        for _ in range(int(steps)):
            _, h = self.sample_h(v)
            _, v = self.sample_v(h)
        return v

    def free_energy(self, v) -> Tensor:
        """F(v) = -log sum_h exp(-E(v, h)) per sample: ``-v.b - sum_j softplus(c_j + W_j v)``
        (Bernoulli) or ``|v - b|^2 / 2 - sum_j softplus(...)`` (Gaussian)."""
        v = self._in(v)
        hidden = softplus(linear(v, self.weight, self.hbias)).sum(1)
        if self.visible == "bernoulli":
            return -(v * self.vbias).sum(1) - hidden
        return 0.5 * ((v - self.vbias) ** 2).sum(1) - hidden

    def reconstruction_error(self, v) -> float:
        """Mean squared error of one deterministic up-down pass: mean (v - E[v | p(h | v)])^2."""
        with no_grad():
            v = self._in(v)
            r = self.visible_mean(self.hidden_probs(v))
            return float(((v - r) ** 2).mean().item())

    def pseudo_likelihood(self, v) -> float:
        """Stochastic pseudo-log-likelihood per sample (Bernoulli visibles; the classic Theano
        tutorial's estimate): n_visible * mean log sigmoid(F(v with bit i flipped) - F(v)) for one
        bit i, cycling through the bits on successive calls. Higher is better."""
        if self.visible != "bernoulli":
            raise ValueError("RBM.pseudo_likelihood is defined for Bernoulli visibles only")
        with no_grad():
            x = np.rint(np.asarray(self._in(v).detach().numpy(), dtype=np.float64))
            i = self._pll_index
            self._pll_index = (i + 1) % self.n_visible
            flipped = x.copy()
            flipped[:, i] = 1.0 - flipped[:, i]
            dt = self.weight.dtype
            fe = self.free_energy(as_tensor(x).to(dt)).detach().numpy().astype(np.float64)
            fe_f = self.free_energy(as_tensor(flipped).to(dt)).detach().numpy().astype(np.float64)
            d = fe_f - fe
            log_sig = -np.logaddexp(0.0, -d)
            return float(self.n_visible * log_sig.mean())

    def transform(self, v) -> Tensor:
        """Hidden probabilities p(h | v) as features (no graph recorded)."""
        with no_grad():
            return self.hidden_probs(v)

    def forward(self, v) -> Tensor:
        return self.hidden_probs(v)

    # ---- training ----
    def _cd(self, v) -> tuple:
        """The C++ CD-k / PCD step on batch v: (surrogate loss, statistics dict)."""
        recon, grads, stats = self._cd_stats(v)
        loss = _CDSurrogate.apply(recon, grads, self.weight, self.vbias, self.hbias)
        return loss, stats

    def _cd_stats(self, v) -> tuple:
        """The C++ CD-k / PCD step on batch v: (recon error, (dW, dvb, dhb) tensors with the sparsity
        term, statistics dict)."""
        v = self._in(v).detach().contiguous()
        chain = None
        if self.persistent:
            if self.chain is None:
                n = self.n_chains or v.shape[0]
                self.chain = as_tensor(v.numpy()[np.arange(n) % v.shape[0]].copy())
            chain = self.chain._c
        dW, dvb, dhb, chain_end, recon, hmean, seed, offset = _C.rbm_cd_step(
            v._c, self.weight._c, self.vbias._c, self.hbias._c, self.k, chain, self.visible == "gaussian")
        if self.persistent:
            self.chain = W_(chain_end)
        gW, gvb, ghb = W_(dW), W_(dvb), W_(dhb)
        q = W_(hmean).numpy()
        if self.sparsity_target is not None and self.sparsity_cost:
            # in place on the step's fresh outputs (the numpy arrays share their memory)
            d = self.sparsity_cost * (q - self.sparsity_target)
            ghb_np, gW_np = ghb.numpy(), gW.numpy()
            ghb_np -= d
            gW_np -= np.outer(d, v.numpy().mean(0))
        return recon, (gW, gvb, ghb), {"recon_error": recon, "hidden_mean": float(q.mean()), "dW": gW.numpy(), "dvb": gvb.numpy(),
                      "dhb": ghb.numpy(), "seed": seed, "offset": offset}

    def cd_loss(self, v) -> Tensor:
        """The CD-k / PCD objective on the batch ``v`` (N, n_visible) as a surrogate scalar for
        ``lamina.optim``: its value is the batch's reconstruction error before the update (one
        deterministic up-down pass); ``backward()`` sets the gradients of weight, vbias and hbias
        to minus ``<v h>_data - <v h>_model`` (and the bias analogues; positive statistics from
        p(h | data), negative ones from the chain's last visible sample and its hidden
        probabilities), plus the sparsity term. Runs the Gibbs chain (advancing the persistent
        chain and lamina's generator)."""
        return self._cd(v)[0]

    def _param_groups(self) -> list:
        # L2 decay on the weights only, as in Hinton's guide; the biases are not decayed.
        return [{"params": [self.weight], "weight_decay": self.weight_decay},
                {"params": [self.vbias, self.hbias], "weight_decay": 0.0}]

    def default_optimizer(self, lr: float | None = None):
        """The RBM's own ``lamina.optim.SGD`` (built once and kept, so momentum carries over between
        calls), its lr (``lr``, else ``self.lr``), momentum and weight decay (on W) refreshed from
        the model's attributes. With a constant lr this is the classic increment rule
        ``inc = momentum inc + lr grad; p += inc`` exactly."""
        from .. import optim

        lr = self.lr if lr is None else float(lr)
        if self._optimizer is None:
            self._optimizer = optim.SGD(self._param_groups(), lr=lr, momentum=self.momentum)
        groups = self._optimizer.param_groups
        for g in groups:
            g["lr"], g["momentum"] = lr, self.momentum
        groups[0]["weight_decay"] = self.weight_decay
        return self._optimizer

    def contrastive_divergence(self, v, lr: float | None = None) -> dict:
        """One CD-k / PCD update on the batch ``v`` with ``default_optimizer(lr)``: ``cd_loss(v)``,
        backward, SGD step (``buf = momentum buf + grad + weight_decay W; p -= lr buf`` with grad
        minus the CD statistic). Returns {'recon_error', 'hidden_mean', 'dW', 'dvb', 'dhb', 'seed',
        'offset'}: the CD statistics with the sparsity term as numpy (weight decay is the
        optimizer's) and the Philox (seed, offset) of the step's draws (see ``_C.rbm_noise``)."""
        opt = self.default_optimizer(lr)
        opt.zero_grad()
        # What cd_loss(v).backward() would leave in .grad (minus each statistic, added to a
        # gradient already there), set directly: the autograd round trip and its broadcast
        # multiplies by -1 cost ~15% of a 784-500 CD-1 step.
        _, grads, stats = self._cd_stats(v)
        with no_grad():
            for p, g in zip((self.weight, self.vbias, self.hbias), grads):
                p.grad = -g if p.grad is None else p.grad - g
        opt.step()
        return stats

    def _recon_loss(self, hidden, v):
        """Validation loss for fit: mean squared error of E[v | h] from the forward's p(h | v)."""
        return ((self.visible_mean(hidden) - self._in(v)) ** 2).mean()

    def _progress_metric(self):
        rbm = self

        def progress(out, v):
            # After the batch's update: one bit's pseudo-log-likelihood (Bernoulli), or the
            # deterministic reconstruction error (Gaussian), weighted by the batch size.
            n = v.shape[0]
            val = rbm.pseudo_likelihood(v) if rbm.visible == "bernoulli" else rbm.reconstruction_error(v)
            return val * n, n

        return progress

    def fit(self, data, epochs: int = 10, batch_size: int = 64, shuffle: bool = True, lr: float | None = None,
            verbose: bool = False, monitor: bool = True, *, optimizer=None, val_data=None, callbacks=(),
            scheduler=None, progress: bool = False, **fit_kwargs):
        """Trains on ``data`` (an (N, n_visible) array or tensor, a Dataset or a DataLoader: the first
        element of each sample/batch is used, labels are ignored) through ``lamina.train.fit`` with
        ``cd_loss`` as the training step. Returns its History: 'loss' (also under 'recon_error'):
        per epoch, the mean over the batches of the batch reconstruction error before its update;
        when ``monitor``, 'progress': the pseudo-log-likelihood of each batch after its update
        (one bit each, cycling) averaged over the epoch for Bernoulli visibles, the reconstruction
        error of each batch after its update for Gaussian ones (higher PLL / lower error is
        better); with ``val_data``, 'val_loss' (reconstruction error) and 'val_progress'.
        ``optimizer``: None (``default_optimizer(lr)``: SGD with the RBM's momentum and weight
        decay), a ``lamina.optim`` Optimizer instance (used as given), a class or factory called
        with (param groups, lr=lr) (the groups carry the weight decay), or a name ('sgd' has
        momentum 0.9). ``callbacks`` (EarlyStopping, ModelCheckpoint, CSVLogger, ...),
        ``scheduler``, ``progress`` (or ``verbose``): as in ``lamina.train.fit``; other keywords
        (``resume_from``, ...) go to fit. Shuffling follows ``lamina.manual_seed``."""
        from ..train import fit

        dt = self.weight.detach().numpy().dtype
        x = as_tensor(np.ascontiguousarray(_batches_array(data, self.n_visible), dtype=dt))
        lr = self.lr if lr is None else float(lr)
        opt = self.default_optimizer(lr) if optimizer is None else make_optimizer(optimizer, self._param_groups(), lr)
        val = None
        if val_data is not None:
            xv = as_tensor(np.ascontiguousarray(_batches_array(val_data, self.n_visible), dtype=dt))
            val = (xv, xv)
        hist = fit(self, self._recon_loss, opt, (x, x), val_data=val, epochs=int(epochs),
                   metrics=(self._progress_metric(),) if monitor else (), callbacks=callbacks,
                   scheduler=make_scheduler(scheduler, opt), progress=progress or verbose,
                   batch_size=int(batch_size), shuffle=shuffle, train_step=_cd_train_step, **fit_kwargs)
        hist.history["recon_error"] = hist.history.get("loss", [])
        return hist


__all__ = ["RBM"]
