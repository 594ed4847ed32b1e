"""Op-family rows (reduce, softmax, activation, SGEMM, indexing, embedding, norm, rbf, dropout, random)
on tensors of the sizes the models use."""
from __future__ import annotations

import numpy as np

from .layers import _layer_case
from .registry import Case, Ctx, compare, copy_params, register, to_np

# ---- op families: reduce, softmax, indexing, embedding, dropout, norm, rbf (issue 12) ----------
# Each family's rows carry the family name as their group (tests/test_api_coverage.py looks for it).


def _layer_rows(specs):
    """(name, mode, desc, build) for each `(name, desc, make_inputs, lamina_fn, torch_fn, grad_names[,
    modes])` spec: `make_inputs(ctx)` returns the `_layer_case` inputs, `lamina_fn(ctx)` /
    `torch_fn(ctx)` the callables on them; modes default to fwd and fwd+bwd. The callers register
    the rows with a literal group string (what tests/test_api_coverage.py reads)."""
    for name, desc, make_inputs, lamina_fn, torch_fn, grad_names, *modes in specs:
        for mode in (modes[0] if modes else ("fwd", "fwd+bwd")):
            def build(ctx, backward=(mode == "fwd+bwd"), mk=make_inputs, lf=lamina_fn, tf=torch_fn, g=grad_names):
                return _layer_case(ctx, lf(ctx), tf(ctx), mk(ctx), g, backward)

            yield name, mode, desc, build


# reduce: a reduction over one dim of a (256, 1024) activation
_REDUCE = [
    ("sum dim1 256x1024", "x.sum(1), x (256,1024)", lambda ctx: dict(x=ctx.randn(256, 1024)),
     lambda ctx: lambda x: x.sum(1), lambda ctx: lambda x: x.sum(1), ("x",)),
    ("mean dim0 256x1024", "x.mean(0), x (256,1024)", lambda ctx: dict(x=ctx.randn(256, 1024)),
     lambda ctx: lambda x: x.mean(0), lambda ctx: lambda x: x.mean(0), ("x",)),
    ("logsumexp dim1 256x1024", "x.logsumexp(1), x (256,1024)", lambda ctx: dict(x=ctx.randn(256, 1024, scale=2.0)),
     lambda ctx: lambda x: x.logsumexp(1), lambda ctx: lambda x: x.logsumexp(1), ("x",), ("fwd+bwd",)),
]
for _n, _m, _d, _b in _layer_rows(_REDUCE):
    register(f"{_n} {_m}", "reduce", _m, desc=_d)(_b)

# softmax: classifier-sized rows and attention-sized scores
_SOFTMAX = [
    ("softmax 128x784", "F.softmax(x, dim=1), x (128,784)", lambda ctx: dict(x=ctx.randn(128, 784, scale=2.0)),
     lambda ctx: lambda x: ctx.LF.softmax(x, dim=1), lambda ctx: lambda x: ctx.TF.softmax(x, dim=1), ("x",)),
    ("log_softmax 128x784", "F.log_softmax(x, dim=1), x (128,784)",
     lambda ctx: dict(x=ctx.randn(128, 784, scale=2.0)),
     lambda ctx: lambda x: ctx.LF.log_softmax(x, dim=1), lambda ctx: lambda x: ctx.TF.log_softmax(x, dim=1),
     ("x",)),
    ("softmax attn 8x8x64x64", "F.softmax(scores, dim=-1), scores (8,8,64,64)",
     lambda ctx: dict(x=ctx.randn(8, 8, 64, 64, scale=3.0)),
     lambda ctx: lambda x: ctx.LF.softmax(x, dim=-1), lambda ctx: lambda x: ctx.TF.softmax(x, dim=-1), ("x",)),
]
for _n, _m, _d, _b in _layer_rows(_SOFTMAX):
    register(f"{_n} {_m}", "softmax", _m, desc=_d)(_b)


# activation: the transcendental pointwise ops of issue 13 on a classifier-sized activation
# (128, 784) float32. x ~ 2*N(0,1) reaches both tails; log gets |x| + 0.1. PyTorch has no bipolar
# sigmoid; its row uses tanh(x/2), the same function (2*sigmoid(x) - 1 = tanh(x/2)) in one op.
def _act_x(ctx):
    return dict(x=ctx.randn(128, 784, scale=2.0))


def _act_pos(ctx):
    return dict(x=np.abs(ctx.randn(128, 784, scale=2.0)) + np.float32(0.1))


def _positional(fn):
    """fn(x) from a factory's call fn(x=...): _layer_case passes inputs by name, and torch's and
    lamina's ops name their argument `input`."""
    return lambda x: fn(x)


def _act(name, make, lfn, tfn):
    return (f"{name} 128x784", f"{name} of x (128,784)", make,
            lambda ctx: _positional(lfn(ctx)), lambda ctx: _positional(tfn(ctx)), ("x",))


_ACTIVATION = [
    _act("sigmoid", _act_x, lambda c: c.lm.sigmoid, lambda c: c.torch.sigmoid),
    _act("tanh", _act_x, lambda c: c.lm.tanh, lambda c: c.torch.tanh),
    _act("exp", _act_x, lambda c: c.lm.exp, lambda c: c.torch.exp),
    _act("log", _act_pos, lambda c: c.lm.log, lambda c: c.torch.log),
    _act("gelu", _act_x, lambda c: c.LF.gelu, lambda c: c.TF.gelu),
    _act("gelu tanh", _act_x, lambda c: lambda x: c.LF.gelu(x, approximate="tanh"),
         lambda c: lambda x: c.TF.gelu(x, approximate="tanh")),
    _act("softplus", _act_x, lambda c: c.LF.softplus, lambda c: c.TF.softplus),
    _act("elu", _act_x, lambda c: c.LF.elu, lambda c: c.TF.elu),
    _act("bipolar sigmoid", _act_x, lambda c: c.LF.bipolar_sigmoid, lambda c: lambda x: c.torch.tanh(x * 0.5)),
]
for _n, _m, _d, _b in _layer_rows(_ACTIVATION):
    register(f"{_n} {_m}", "activation", _m, desc=_d)(_b)


# gemm: a square SGEMM (x @ w), the number the %peak column is about
def _register_matmul(M, K, N):
    def build(ctx):
        inputs = dict(a=ctx.randn(M, K), b=ctx.randn(K, N))
        return _layer_case(ctx, lambda a, b: a @ b, lambda a, b: a @ b, inputs, ("a", "b"), False)

    register(f"sgemm {M}x{K}x{N} fwd", "gemm", "fwd", flops=2.0 * M * K * N,
             desc=f"a @ b, a ({M},{K}), b ({K},{N}) float32")(build)


_register_matmul(512, 512, 512)
_register_matmul(1024, 1024, 1024)


# indexing: joining and picking rows / entries of a batch (indices random, with repeats)
def _rows_inputs(ctx):
    return dict(x=ctx.randn(2048, 256), i=ctx.rng.integers(0, 2048, 512).astype(np.int64))


_INDEXING = [
    ("cat 4x(64,256) dim1", "cat([a, b, c, d], dim=1), each (64,256)",
     lambda ctx: {k: ctx.randn(64, 256) for k in "abcd"},
     lambda ctx: lambda a, b, c, d: ctx.lm.cat([a, b, c, d], dim=1),
     lambda ctx: lambda a, b, c, d: ctx.torch.cat([a, b, c, d], dim=1), tuple("abcd")),
    ("index_select 512 of 2048x256", "index_select(x, 0, i): 512 of 2048 rows", _rows_inputs,
     lambda ctx: lambda x, i: ctx.lm.index_select(x, 0, i),
     lambda ctx: lambda x, i: ctx.torch.index_select(x, 0, i), ("x",)),
    ("x[idx] 512 of 2048x256", "advanced indexing x[i]: 512 of 2048 rows", _rows_inputs,
     lambda ctx: lambda x, i: x[i], lambda ctx: lambda x, i: x[i], ("x",)),
    ("gather dim1 256x1024 k64", "gather(x, 1, i), x (256,1024), i (256,64)",
     lambda ctx: dict(x=ctx.randn(256, 1024), i=ctx.rng.integers(0, 1024, (256, 64)).astype(np.int64)),
     lambda ctx: lambda x, i: ctx.lm.gather(x, 1, i), lambda ctx: lambda x, i: ctx.torch.gather(x, 1, i),
     ("x",)),
]
for _n, _m, _d, _b in _layer_rows(_INDEXING):
    register(f"{_n} {_m}", "indexing", _m, desc=_d)(_b)


def _module_case(ctx: Ctx, lmod, tmod, x: np.ndarray, backward: bool) -> Case:
    """A module call (in training mode) on a fixed input, parameters copied lamina -> torch. fwd:
    under no_grad. fwd+bwd: zero_grad, forward, `out.backward(dout)` with a fixed random dout.
    The check compares the output, the input's gradient (float inputs), every parameter's gradient
    and every floating-point buffer (e.g. BatchNorm's running statistics after the call)."""
    lm, torch = ctx.lm, ctx.torch
    copy_params(lmod, tmod)
    lmod.train()
    tmod.train()
    xgrad = backward and x.dtype == np.float32
    lx, tx = ctx.pair(x, requires_grad=xgrad)
    with torch.no_grad():
        out_shape = tuple(tmod(tx).shape)
    # that call moved torch's running statistics: put them back to lamina's (same initial values)
    with torch.no_grad():
        for (_, lb), (_, tb) in zip(lmod.named_buffers(), tmod.named_buffers(), strict=True):
            tb.copy_(torch.from_numpy(lb.detach().numpy().copy()))
    ld, td = ctx.pair(ctx.randn(*out_shape))

    if backward:
        def run_l():
            lmod.zero_grad()
            lx.grad = None
            out = lmod(lx)
            out.backward(ld)
            return out

        def run_t():
            tmod.zero_grad()
            tx.grad = None
            out = tmod(tx)
            out.backward(td)
            return out
    else:
        def run_l():
            with lm.no_grad():
                return lmod(lx)

        def run_t():
            with torch.no_grad():
                return tmod(tx)

    def check():
        lo, to = run_l(), run_t()
        pairs = [("out", lo, to)]
        if xgrad:
            pairs.append(("dx", lx.grad, tx.grad))
        if backward:
            pairs += [(f"d{n}", lp.grad, tp.grad) for (n, lp), (_, tp)
                      in zip(lmod.named_parameters(), tmod.named_parameters(), strict=True)]
        pairs += [(n, lb, tb) for (n, lb), (_, tb) in zip(lmod.named_buffers(), tmod.named_buffers())
                  if tb.dtype.is_floating_point]
        return compare(pairs)

    return Case(run_l, run_t, check)


def _module_rows(specs):
    """(name, mode, desc, build) for each `(name, desc, make)` spec, `make(ctx) -> (lamina module,
    torch module, numpy input)`, in fwd and fwd+bwd (registered by the callers, as _layer_rows)."""
    for name, desc, make in specs:
        for mode in ("fwd", "fwd+bwd"):
            def build(ctx, backward=(mode == "fwd+bwd"), mk=make):
                return _module_case(ctx, *mk(ctx), backward)

            yield name, mode, desc, build


for _n, _m, _d, _b in _module_rows([
        ("Embedding(10000,128) 32x35", "nn.Embedding(10000, 128) lookup of (32,35) token ids; fwd+bwd: the "
         "weight's gradient", lambda ctx: (ctx.lm.nn.Embedding(10000, 128), ctx.torch.nn.Embedding(10000, 128),
                                           ctx.rng.integers(0, 10000, (32, 35)).astype(np.int64)))]):
    register(f"{_n} {_m}", "embedding", _m, desc=_d)(_b)

for _n, _m, _d, _b in _module_rows([
        ("BatchNorm2d(64) 32x64x16x16", "nn.BatchNorm2d(64), training mode, x (32,64,16,16)",
         lambda ctx: (ctx.lm.nn.BatchNorm2d(64), ctx.torch.nn.BatchNorm2d(64), ctx.randn(32, 64, 16, 16))),
        ("LayerNorm(128) 32x128x128", "nn.LayerNorm(128), x (32,128,128)",
         lambda ctx: (ctx.lm.nn.LayerNorm(128), ctx.torch.nn.LayerNorm(128), ctx.randn(32, 128, 128)))]):
    register(f"{_n} {_m}", "norm", _m, desc=_d)(_b)


def _rbf_modules(ctx):
    """lamina's nn.RBF(64, 128) and a torch module computing the same Gaussian units the way one
    writes them in PyTorch: ||x - c||^2 = |x|^2 - 2 x.c + |c|^2 (one matmul). Centres ~ N(0, 1)
    like the inputs, widths U(6, 10) (about sqrt(D)), so activations spread over (0, 1)."""
    lm, torch = ctx.lm, ctx.torch

    class TorchRBF(torch.nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.centers = torch.nn.Parameter(torch.empty(n_out, n_in))
            self.widths = torch.nn.Parameter(torch.empty(n_out))

        def forward(self, x):
            d2 = (x * x).sum(1, keepdim=True) - 2.0 * x @ self.centers.T + (self.centers * self.centers).sum(1)
            return torch.exp(-d2.clamp_min(0.0) / (2.0 * self.widths * self.widths))

    lmod = lm.nn.RBF(64, 128)
    with lm.no_grad():
        lmod.centers.copy_(lm.from_numpy(ctx.randn(128, 64)))
        lmod.widths.copy_(lm.from_numpy(ctx.rng.uniform(6.0, 10.0, 128).astype(np.float32)))
    return lmod, TorchRBF(64, 128), ctx.randn(256, 64)


for _n, _m, _d, _b in _module_rows([
        ("RBF(64,128) b256", "nn.RBF(64, 128), x (256,64); torch: the same formula (|x|^2 - 2x.c + |c|^2, exp)",
         _rbf_modules)]):
    register(f"{_n} {_m}", "rbf", _m, desc=_d)(_b)


def _dropout_case(ctx: Ctx, backward: bool) -> Case:
    """F.dropout(x, 0.5) in training mode on (128, 1024). The frameworks draw different masks, so
    the check is on lamina's own output against its input: the same shape as torch's, kept entries
    exactly x / (1 - p), a drop fraction within 5 sigma of p (torch's too), and in fwd+bwd dx =
    dout / (1 - p) on the kept entries and 0 on the dropped ones (forward and backward agree)."""
    p = 0.5
    x = ctx.randn(128, 1024)
    lx, tx = ctx.pair(x, requires_grad=backward)
    ld, td = ctx.pair(ctx.randn(128, 1024))

    def run(F, xx, dd):
        def fn():
            xx.grad = None
            out = F.dropout(xx, p, training=True)
            if backward:
                out.backward(dd)
            return out
        return fn

    run_l, run_t = run(ctx.LF, lx, ld), run(ctx.TF, tx, td)

    def frac_check(who, out):
        o = to_np(out)
        frac = float(np.mean(o == 0))
        sigma = np.sqrt(p * (1 - p) / o.size)
        return (f"{who} drop fraction {frac:.4f} vs p={p} (5 sigma {5 * sigma:.4f})",
                0.0 if abs(frac - p) <= 5 * sigma else float("inf"))

    def check():
        lo, to = run_l(), run_t()
        o = to_np(lo)
        res = [("shape", 0.0 if tuple(lo.shape) == tuple(to.shape) else float("inf"))]
        kept = o != 0
        scaled = x.astype(np.float64) / (1 - p)
        res.append(("kept = x/(1-p)", float(np.max(np.abs(o[kept] - scaled[kept]))) / float(np.max(np.abs(scaled)))))
        res += [frac_check("lamina", lo), frac_check("torch", to)]
        if backward:
            d = ld.numpy().astype(np.float64)
            want = np.where(kept, d / (1 - p), 0.0)
            res.append(("dx = mask * dout/(1-p)", float(np.max(np.abs(to_np(lx.grad) - want))) /
                        float(np.max(np.abs(want)))))
        return res

    return Case(run_l, run_t, check)


@register("dropout p0.5 128x1024 fwd", "dropout", "fwd", desc="F.dropout(x, 0.5), training; no grad")
def _dropout_fwd(ctx):
    return _dropout_case(ctx, False)


@register("dropout p0.5 128x1024 fwd+bwd", "dropout", "fwd+bwd", desc="F.dropout(x, 0.5), training; backward")
def _dropout_fwd_bwd(ctx):
    return _dropout_case(ctx, True)


# random: float32 fills the size of an MNIST batch (the denoising AE's noise, the SDAE's masking
# draw). The frameworks' generators differ (lamina: Philox, torch: mt19937), so the check is on
# the draws' moments: mean and standard deviation within 5 standard errors of the distribution's.
def _random_case(ctx: Ctx, kind: str) -> Case:
    shape = (128, 784)
    lm, torch = ctx.lm, ctx.torch
    run_l = (lambda: lm.rand(*shape)) if kind == "rand" else (lambda: lm.randn(*shape))
    run_t = (lambda: torch.rand(*shape)) if kind == "rand" else (lambda: torch.randn(*shape))
    mean, sd = (0.5, np.sqrt(1 / 12)) if kind == "rand" else (0.0, 1.0)

    def check():
        res = []
        for who, fn in (("lamina", run_l), ("torch", run_t)):
            o = to_np(fn()).astype(np.float64)
            # standard errors: of the mean sd / sqrt(n); of the std sd / sqrt(2n) for a normal (the
            # uniform's, 0.129 / sqrt(n), is smaller, so the bound holds for both)
            ok = (abs(o.mean() - mean) <= 5 * sd / np.sqrt(o.size)
                  and abs(o.std() - sd) <= 5 * sd / np.sqrt(2 * o.size))
            res.append((f"{who} mean {o.mean():.4f} std {o.std():.4f}", 0.0 if ok else float("inf")))
        return res

    return Case(run_l, run_t, check)


@register("rand 128x784 fwd", "random", "fwd", desc="lamina.rand(128, 784) vs torch.rand, float32")
def _rand_fill(ctx):
    return _random_case(ctx, "rand")


@register("randn 128x784 fwd", "random", "fwd", desc="lamina.randn(128, 784) vs torch.randn, float32")
def _randn_fill(ctx):
    return _random_case(ctx, "randn")
