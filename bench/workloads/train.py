"""Training-step workloads (LeNet-5, MLPs, CIFAR CNN, denoising AE), the unsupervised steps
(RBM CD-1, SDAE pretraining) and the sequence models (LSTM, GRU, MultiheadAttention)."""
from __future__ import annotations

import numpy as np

from .registry import Case, Ctx, copy_params, register, rel_err, snapshot, update_err

# ---- training steps -----------------------------------------------------------------------------


def _train_case(ctx: Ctx, lmodel, tmodel, x: np.ndarray, y: np.ndarray, loss: str, lr: float,
                noise: float = 0.0) -> Case:
    """One SGD(momentum 0.9) step per call: zero_grad, forward, loss, backward, step, on a fixed
    batch. Weights are copied lamina -> torch first. `noise` > 0: a denoising autoencoder, whose
    input is x + noise * N(0, 1) drawn afresh each step by each framework's own generator (the
    check step uses one shared noisy input instead, so both see the same values)."""
    lm, torch = ctx.lm, ctx.torch
    copy_params(lmodel, tmodel)
    lopt = lm.optim.SGD(lmodel.parameters(), lr=lr, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr, momentum=0.9)
    lx, tx = ctx.pair(x)
    ly, ty = ctx.pair(y)
    lloss = lm.nn.CrossEntropyLoss() if loss == "ce" else lm.nn.MSELoss()
    tloss = torch.nn.CrossEntropyLoss() if loss == "ce" else torch.nn.MSELoss()

    def step_l(xin):
        lopt.zero_grad()
        out = lloss(lmodel(xin), ly)
        out.backward()
        lopt.step()
        return out

    def step_t(xin):
        topt.zero_grad()
        out = tloss(tmodel(xin), ty)
        out.backward()
        topt.step()
        return out

    if noise > 0:
        def run_l():
            return step_l(lx + noise * lm.randn(*x.shape))

        def run_t():
            return step_t(tx + noise * torch.randn(*x.shape))
    else:
        def run_l():
            return step_l(lx)

        def run_t():
            return step_t(tx)

    def check():
        if noise > 0:
            lxn, txn = ctx.pair(x + noise * ctx.randn(*x.shape))
        else:
            lxn, txn = lx, tx
        lb, tb = snapshot(lmodel.parameters()), snapshot(tmodel.parameters())
        l0, t0 = step_l(lxn), step_t(txn)
        res = [("loss(step 1)", rel_err(l0, t0))]
        errs = [rel_err(a, b) for a, b in zip(lmodel.parameters(), tmodel.parameters())]
        res.append(("params after step 1", max(errs) if errs else 0.0))
        res.append(("param update of step 1", update_err(lb, snapshot(lmodel.parameters()), tb,
                                                         snapshot(tmodel.parameters()))))
        return res

    return Case(run_l, run_t, check)


def _seq(nn, layers):
    """Builds nn.Sequential from a framework-neutral layer list, so lamina and torch models have
    the same structure by construction."""
    mods = []
    for kind, *args in layers:
        if kind == "conv":
            mods.append(nn.Conv2d(args[0], args[1], args[2], padding=args[3]))
        elif kind == "linear":
            mods.append(nn.Linear(*args))
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "sigmoid":
            mods.append(nn.Sigmoid())
        elif kind == "maxpool":
            mods.append(nn.MaxPool2d(args[0]))
        elif kind == "flatten":
            mods.append(nn.Flatten())
        else:
            raise ValueError(kind)
    return nn.Sequential(*mods)


@register("train LeNet-5 b64", "train", "step", steps=1, desc="LeNet5(input_size=28), 1x28x28, CE, SGD m0.9")
def _train_lenet(ctx):
    lmodel = ctx.lm.models.LeNet5(input_size=28)
    # LeNet5(input_size=28): conv1 padded by 2 (28 < 32), conv2 unpadded (14 >= 10).
    tmodel = _seq(ctx.torch.nn, [("conv", 1, 6, 5, 2), ("relu",), ("maxpool", 2), ("conv", 6, 16, 5, 0),
                                 ("relu",), ("maxpool", 2), ("flatten",), ("linear", 400, 120), ("relu",),
                                 ("linear", 120, 84), ("relu",), ("linear", 84, 10)])
    x = ctx.randn(64, 1, 28, 28)
    y = ctx.rng.integers(0, 10, 64).astype(np.int64)
    return _train_case(ctx, lmodel, tmodel, x, y, "ce", lr=0.01)


def _register_mlp(B):
    layers = [("flatten",), ("linear", 784, 256), ("relu",), ("linear", 256, 256), ("relu",), ("linear", 256, 10)]

    @register(f"train MLP 784-256-256-10 b{B}", "train", "step", steps=1, desc=f"ReLU, CE, SGD m0.9, batch {B}")
    def build(ctx):
        x = ctx.randn(B, 784)
        y = ctx.rng.integers(0, 10, B).astype(np.int64)
        return _train_case(ctx, _seq(ctx.lm.nn, layers), _seq(ctx.torch.nn, layers), x, y, "ce", lr=0.01)


_register_mlp(64)
_register_mlp(256)


@register("train CIFAR CNN b32", "train", "step", steps=1,
          desc="conv3x3 3->32, relu, pool2, conv3x3 32->64, relu, pool2, 4096->128, relu, 128->10")
def _train_cifar(ctx):
    layers = [("conv", 3, 32, 3, 1), ("relu",), ("maxpool", 2), ("conv", 32, 64, 3, 1), ("relu",), ("maxpool", 2),
              ("flatten",), ("linear", 4096, 128), ("relu",), ("linear", 128, 10)]
    x = ctx.randn(32, 3, 32, 32)
    y = ctx.rng.integers(0, 10, 32).astype(np.int64)
    return _train_case(ctx, _seq(ctx.lm.nn, layers), _seq(ctx.torch.nn, layers), x, y, "ce", lr=0.01)


@register("train denoising AE 784-256-784 b128", "train", "step", steps=1,
          desc="sigmoid, MSE to the clean input, noise 0.3*N(0,1) per step")
def _train_dae(ctx):
    layers = [("linear", 784, 256), ("sigmoid",), ("linear", 256, 784), ("sigmoid",)]
    x = ctx.rng.uniform(0, 1, (128, 784)).astype(np.float32)
    return _train_case(ctx, _seq(ctx.lm.nn, layers), _seq(ctx.torch.nn, layers), x, x, "mse", lr=0.1,
                       noise=0.3)


# ---- unsupervised (issue 6): the same algorithm written directly in PyTorch ---------------------


@register("RBM CD-1 step 784-500 b64", "unsupervised", "step", steps=1,
          desc="Bernoulli RBM, CD-1, momentum 0.5, lr 0.1; torch: the same update by hand")
def _rbm_cd1(ctx):
    lm, torch = ctx.lm, ctx.torch
    rbm = lm.models.RBM(784, 500, k=1, lr=0.1, momentum=0.5)
    x = (ctx.rng.uniform(0, 1, (64, 784)) > 0.5).astype(np.float32)
    lx, tx = ctx.pair(x)
    W = torch.from_numpy(rbm.weight.detach().numpy().copy())
    vb = torch.from_numpy(rbm.vbias.detach().numpy().copy())
    hb = torch.from_numpy(rbm.hbias.detach().numpy().copy())
    incs = [torch.zeros_like(W), torch.zeros_like(vb), torch.zeros_like(hb)]

    def run_t(u_h=None, u_v=None):
        # u_h, u_v: uniforms to sample with (h = u < p, as lamina's kernel does); None: torch.bernoulli.
        with torch.no_grad():
            n = tx.shape[0]
            ph0 = torch.sigmoid(tx @ W.T + hb)
            h0 = torch.bernoulli(ph0) if u_h is None else (u_h < ph0).to(ph0.dtype)
            pv1 = torch.sigmoid(h0 @ W + vb)
            v1 = torch.bernoulli(pv1) if u_v is None else (u_v < pv1).to(pv1.dtype)
            ph1 = torch.sigmoid(v1 @ W.T + hb)
            grads = ((ph0.T @ tx - ph1.T @ v1) / n, (tx - v1).mean(0), (ph0 - ph1).mean(0))
            for inc, g, prm in zip(incs, grads, (W, vb, hb)):
                inc.mul_(0.5).add_(g, alpha=0.1)
                prm.add_(inc)
            return ((tx - pv1) ** 2).mean()

    def check():
        # p(h | v) with the same weights, then one CD-1 step each: torch samples with the uniforms
        # lamina's step drew (replayed from its Philox seed and offset through _C.rbm_noise), so
        # both apply the same update.
        res = [("p(h|v)", rel_err(rbm.transform(lx), torch.sigmoid(tx @ W.T + hb)))]
        lps, tps = (rbm.weight, rbm.vbias, rbm.hbias), (W, vb, hb)
        lb, tb = snapshot(lps), snapshot(tps)
        st = rbm.contrastive_divergence(lx)
        B, V, H = x.shape[0], rbm.n_visible, rbm.n_hidden
        u = lm.Tensor._wrap(lm._C.rbm_noise(B * (H + V), st["seed"], st["offset"], False, lm.float32._c))
        u = torch.from_numpy(u.numpy().copy())
        run_t(u[:B * H].reshape(B, H), u[B * H:].reshape(B, V))
        res.append(("param update of CD-1 step 1", update_err(lb, snapshot(lps), tb, snapshot(tps))))
        return res

    return Case(lambda: rbm.contrastive_divergence(lx), run_t, check)


@register("SDAE pretraining step 784-500 b64", "unsupervised", "step", steps=1,
          desc="denoising AE level: masking 0.3, sigmoid, MSE, SGD m0.9; torch: same by hand")
def _sdae_step(ctx):
    lm, torch = ctx.lm, ctx.torch
    dae = lm.models.DenoisingAutoencoder(784, 500, corruption="masking", corruption_level=0.3)
    tmodel = _seq(torch.nn, [("linear", 784, 500), ("sigmoid",), ("linear", 500, 784), ("sigmoid",)])
    copy_params(dae, tmodel)
    lopt = lm.optim.SGD(dae.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    x = ctx.rng.uniform(0, 1, (64, 784)).astype(np.float32)
    lx, tx = ctx.pair(x)
    lmse, tmse = lm.nn.MSELoss(), torch.nn.MSELoss()

    def run_l():
        lopt.zero_grad()
        loss = lmse(dae(lx), lx)
        loss.backward()
        lopt.step()
        return loss

    def run_t(u=None):
        # u: the uniforms of the masking draw (None: torch.rand_like).
        topt.zero_grad()
        xc = torch.where((torch.rand_like(tx) if u is None else u) >= 0.3, tx, 0.0)
        loss = tmse(tmodel(xc), tx)
        loss.backward()
        topt.step()
        return loss

    def check():
        # The clean reconstruction loss (eval mode: no corruption) with the same weights, then one
        # training step each with the same mask: lamina's DAE draws rand_like(x) from the global
        # generator, so re-seeding it replays the draw that torch is handed.
        dae.eval()
        try:
            res = [("clean reconstruction loss", rel_err(lmse(dae(lx), lx), tmse(tmodel(tx), tx)))]
        finally:
            dae.train()
        lb, tb = snapshot(dae.parameters()), snapshot(tmodel.parameters())
        lm.manual_seed(12)
        u = torch.from_numpy(lm.rand(*x.shape).numpy().copy())
        lm.manual_seed(12)
        l0, t0 = run_l(), run_t(u)
        res.append(("loss(step 1)", rel_err(l0, t0)))
        res.append(("param update of step 1", update_err(lb, snapshot(dae.parameters()), tb,
                                                         snapshot(tmodel.parameters()))))
        return res

    return Case(run_l, run_t, check)


# ---- sequence models (issue 7) ------------------------------------------------------------------


def _rnn_head_case(ctx: Ctx, kind: str, I: int, H: int, T: int, B: int, V: int) -> Case:
    """A one-layer `kind` (LSTM or GRU) over [T, B, I] with a Linear(H, V) head on every step and
    cross-entropy against random targets: zero_grad, forward, loss, backward (no optimizer)."""
    lm, torch = ctx.lm, ctx.torch

    def build(nn):
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = getattr(nn, kind)(I, H)
                self.head = nn.Linear(H, V)

            def forward(self, x):
                return self.head(self.rnn(x)[0])
        return Model()

    lmodel, tmodel = build(lm.nn), build(torch.nn)
    copy_params(lmodel, tmodel)
    lx, tx = ctx.pair(ctx.randn(T, B, I))
    ly, ty = ctx.pair(ctx.rng.integers(0, V, T * B).astype(np.int64))
    lce, tce = lm.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()

    def run_l():
        lmodel.zero_grad()
        loss = lce(lmodel(lx).reshape(T * B, V), ly)
        loss.backward()
        return loss

    def run_t():
        tmodel.zero_grad()
        loss = tce(tmodel(tx).reshape(T * B, V), ty)
        loss.backward()
        return loss

    def check():
        l0, t0 = run_l(), run_t()
        errs = [rel_err(a.grad, b.grad) for a, b in zip(lmodel.parameters(), tmodel.parameters())]
        return [("loss", rel_err(l0, t0)), ("param grads", max(errs))]

    return Case(run_l, run_t, check)


@register("LSTM 64-128 T35 b32 + head fwd+bwd", "sequence", "fwd+bwd", steps=1,
          desc="nn.LSTM(64, 128), T=35, batch 32, Linear(128, 65) on every step, CE, backward")
def _lstm_head(ctx):
    return _rnn_head_case(ctx, "LSTM", 64, 128, 35, 32, 65)


@register("GRU 64-128 T35 b32 + head fwd+bwd", "sequence", "fwd+bwd", steps=1,
          desc="nn.GRU(64, 128), T=35, batch 32, Linear(128, 65) on every step, CE, backward")
def _gru_head(ctx):
    return _rnn_head_case(ctx, "GRU", 64, 128, 35, 32, 65)


@register("MultiheadAttention b32 T128 d128 h4 fwd+bwd", "sequence", "fwd+bwd", steps=1,
          desc="self-attention, batch_first, need_weights=False; grads of input and all parameters")
def _mha(ctx):
    lm, torch = ctx.lm, ctx.torch
    B, T, D, NH = 32, 128, 128, 4
    lmha = lm.nn.MultiheadAttention(D, NH, batch_first=True)
    tmha = torch.nn.MultiheadAttention(D, NH, batch_first=True)
    copy_params(lmha, tmha)
    lx, tx = ctx.pair(ctx.randn(B, T, D), requires_grad=True)
    ld, td = ctx.pair(ctx.randn(B, T, D))

    def run_l():
        lx.grad = None
        lmha.zero_grad()
        out = lmha(lx, lx, lx, need_weights=False)[0]
        out.backward(ld)
        return out

    def run_t():
        tx.grad = None
        tmha.zero_grad()
        out = tmha(tx, tx, tx, need_weights=False)[0]
        out.backward(td)
        return out

    def check():
        lo, to = run_l(), run_t()
        errs = [rel_err(a.grad, b.grad) for a, b in zip(lmha.parameters(), tmha.parameters())]
        return [("out", rel_err(lo, to)), ("dx", rel_err(lx.grad, tx.grad)), ("param grads", max(errs))]

    return Case(run_l, run_t, check)
