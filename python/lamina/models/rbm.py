"""Restricted Boltzmann machines trained with contrastive divergence (CD-k) or persistent CD.

The energy of a Bernoulli-Bernoulli RBM is ``E(v, h) = -v.b - h.c - h W v`` with W of shape
(n_hidden, n_visible). With ``visible="gaussian"`` the visibles are unit-variance Gaussians,
``E = |v - b|^2 / 2 - h.c - h W v``, so ``p(v | h) = N(W^T h + b, I)``: standardise the data
(zero mean, unit variance per feature) before training such a model.

The sampling and the positive/negative statistics run in C++ (``_C.rbm_cd_step``, seeded through
``lamina.manual_seed``); the parameter update (momentum, L2 weight decay, sparsity) is applied here.
"""
from __future__ import annotations

import numpy as np

from .. import _C, nn
from ..autograd.grad_mode import no_grad
from ..ops.activation import sigmoid, softplus
from ..ops.creation import as_tensor, randn, randn_like, zeros
from ..ops.linear import linear
from ..tensor import Tensor

W_ = Tensor._wrap


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
    Training hyper-parameters: ``lr`` (default 0.1 for Bernoulli visibles, 0.01 for Gaussian),
    ``momentum`` on the parameter increments, ``weight_decay`` (L2 on W), and an optional sparsity
    penalty: with ``sparsity_target`` p and ``sparsity_cost`` s, the hidden biases and weights move
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
        self._incs = None
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
    def contrastive_divergence(self, v, lr: float | None = None) -> dict:
        """One CD-k / PCD update on the batch ``v`` (N, n_visible). The C++ step returns
        dW = <v h>_data - <v h>_model (positive statistics from p(h | data), negative ones from
        the chain's last visible sample and its hidden probabilities) and the bias analogues;
        the update is ``inc = momentum inc + lr (grad - weight_decay W - sparsity term)``.
        Returns {'recon_error', 'hidden_mean', 'dW', 'dvb', 'dhb', 'seed', 'offset'}: the applied
        gradients as numpy and the Philox (seed, offset) of the step's draws (see ``_C.rbm_noise``)."""
        lr = self.lr if lr is None else float(lr)
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
        gW, gvb, ghb = W_(dW).numpy().copy(), W_(dvb).numpy().copy(), W_(dhb).numpy().copy()
        Wn = self.weight.detach().numpy()
        vbn, hbn = self.vbias.detach().numpy(), self.hbias.detach().numpy()
        q = W_(hmean).numpy()
        if self.weight_decay:
            gW -= self.weight_decay * Wn
        if self.sparsity_target is not None and self.sparsity_cost:
            d = self.sparsity_cost * (q - self.sparsity_target)
            ghb -= d
            gW -= np.outer(d, v.numpy().mean(0))
        if self._incs is None:
            self._incs = [np.zeros_like(Wn), np.zeros_like(vbn), np.zeros_like(hbn)]
        for inc, g, p in zip(self._incs, (gW, gvb, ghb), (Wn, vbn, hbn)):
            inc *= self.momentum
            inc += lr * g
            p += inc  # in place: the numpy arrays share the parameters' memory
        return {"recon_error": recon, "hidden_mean": float(q.mean()), "dW": gW, "dvb": gvb, "dhb": ghb,
                "seed": seed, "offset": offset}

    def fit(self, data, epochs: int = 10, batch_size: int = 64, shuffle: bool = True, lr: float | None = None,
            verbose: bool = False, monitor: bool = True) -> dict:
        """Trains on ``data`` (an (N, n_visible) array or tensor, a Dataset or a DataLoader: the first
        element of each sample/batch is used, labels are ignored). Returns a history dict with, per
        epoch, 'recon_error' (mean over the epoch's batches of the batch reconstruction error before
        its update) and, when ``monitor``, 'progress': the pseudo-log-likelihood on the epoch's data
        (averaged over its batches, one bit each) for Bernoulli visibles, or the reconstruction
        error after the epoch for Gaussian ones. Shuffling follows ``lamina.manual_seed``."""
        from ..ops.creation import randperm

        x = np.ascontiguousarray(_batches_array(data, self.n_visible), dtype=self.weight.detach().numpy().dtype)
        n = len(x)
        hist = {"recon_error": [], "progress": []} if monitor else {"recon_error": []}
        for epoch in range(int(epochs)):
            order = randperm(n).numpy() if shuffle else np.arange(n)
            errs, prog = [], []
            for s in range(0, n, batch_size):
                xb = x[order[s:s + batch_size]]
                st = self.contrastive_divergence(as_tensor(xb), lr=lr)
                errs.append(st["recon_error"] * len(xb))
                if monitor and self.visible == "bernoulli":
                    prog.append(self.pseudo_likelihood(xb) * len(xb))
            hist["recon_error"].append(sum(errs) / n)
            if monitor:
                hist["progress"].append(sum(prog) / n if self.visible == "bernoulli"
                                        else self.reconstruction_error(as_tensor(x)))
            if verbose:
                extra = f", progress {hist['progress'][-1]:.4f}" if monitor else ""
                print(f"RBM {self.n_visible}-{self.n_hidden} epoch {epoch + 1}: "
                      f"recon error {hist['recon_error'][-1]:.5f}{extra}")
        return hist


__all__ = ["RBM"]
