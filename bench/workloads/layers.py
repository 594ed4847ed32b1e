"""Layer workloads (conv2d, pooling, linear, cross-entropy) and per-op overhead rows; the
_layer_case builder the op-family rows share."""
from __future__ import annotations

import numpy as np

from .registry import Case, Ctx, compare, copy_params, register

# ---- layer workloads ----------------------------------------------------------------------------


def _layer_case(ctx: Ctx, lamina_fn, torch_fn, inputs: dict, grad_names: tuple, backward: bool):
    """A layer call on named numpy inputs. `grad_names`: inputs that get gradients in fwd+bwd.
    Forward: inputs need no grad (nothing is recorded). fwd+bwd: gradients are reset to None,
    the output is computed and `out.backward(dout)` runs with a fixed random dout."""
    L, T = {}, {}
    for k, v in inputs.items():
        if isinstance(v, np.ndarray) and v.dtype == np.float32:
            L[k], T[k] = ctx.pair(v, requires_grad=backward and k in grad_names)
        elif isinstance(v, np.ndarray):
            L[k], T[k] = ctx.pair(v)
        else:
            L[k] = T[k] = v
    with ctx.torch.no_grad():
        out_shape = tuple(torch_fn(**T).shape)
    ldout, tdout = ctx.pair(ctx.randn(*out_shape))
    lg = [L[k] for k in grad_names] if backward else []
    tg = [T[k] for k in grad_names] if backward else []

    if backward:
        def run_l():
            for t in lg:
                t.grad = None
            out = lamina_fn(**L)
            out.backward(ldout if out.dim() else None)
            return out

        def run_t():
            for t in tg:
                t.grad = None
            out = torch_fn(**T)
            out.backward(tdout if out.dim() else None)
            return out
    else:
        def run_l():
            return lamina_fn(**L)

        def run_t():
            return torch_fn(**T)

    def check():
        lo, to = run_l(), run_t()
        pairs = [("out", lo, to)]
        pairs += [(f"d{k}", L[k].grad, T[k].grad) for k in (grad_names if backward else ())]
        return compare(pairs)

    return Case(run_l, run_t, check)


# conv2d shapes: (tag, N, C, OC, H, W, k, stride, padding)
CONV_SHAPES = [
    ("a", 64, 1, 6, 28, 28, 5, 1, 0),
    ("b", 64, 6, 16, 12, 12, 5, 1, 0),
    ("c", 32, 3, 32, 32, 32, 3, 1, 1),
    ("d", 32, 32, 64, 16, 16, 3, 1, 1),
    ("e", 8, 64, 64, 56, 56, 3, 1, 1),
    ("f", 8, 64, 128, 56, 56, 3, 2, 1),
    ("g", 32, 64, 64, 8, 8, 1, 1, 0),
]


def _register_conv(tag, N, C, OC, H, W, k, s, p):
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    fwd_flops = 2.0 * N * OC * OH * OW * C * k * k
    shape = f"N{N} {C}->{OC} {H}x{W} k{k} s{s} p{p}"
    for backward in (False, True):
        mode = "fwd+bwd" if backward else "fwd"

        def build(ctx, backward=backward):
            bound = 1.0 / np.sqrt(C * k * k)
            inputs = dict(x=ctx.randn(N, C, H, W), w=ctx.uniform(OC, C, k, k, bound=bound),
                          b=ctx.uniform(OC, bound=bound))
            return _layer_case(
                ctx, lambda x, w, b: ctx.LF.conv2d(x, w, b, stride=s, padding=p),
                lambda x, w, b: ctx.TF.conv2d(x, w, b, stride=s, padding=p),
                inputs, ("x", "w", "b"), backward)

        # fwd+bwd: forward, dX and dW are each one convolution's worth of multiply-adds.
        register(f"conv2d_{tag} {mode}", "conv", mode, flops=fwd_flops * (3 if backward else 1),
                 desc=shape)(build)


for _s in CONV_SHAPES:
    _register_conv(*_s)


def _register_pool(N, C, H, W):
    shape = f"({N},{C},{H},{W}) 2x2"
    for backward in (False, True):
        mode = "fwd+bwd" if backward else "fwd"

        def build(ctx, backward=backward):
            return _layer_case(ctx, lambda x: ctx.LF.max_pool2d(x, 2), lambda x: ctx.TF.max_pool2d(x, 2),
                               dict(x=ctx.randn(N, C, H, W)), ("x",), backward)

        register(f"max_pool2d_{N}x{C}x{H}x{W} {mode}", "pool", mode, desc=shape)(build)


_register_pool(64, 6, 24, 24)
_register_pool(32, 32, 32, 32)


def _register_linear(B, IN, OUT):
    for backward in (False, True):
        mode = "fwd+bwd" if backward else "fwd"

        def build(ctx, backward=backward):
            bound = 1.0 / np.sqrt(IN)
            inputs = dict(x=ctx.randn(B, IN), w=ctx.uniform(OUT, IN, bound=bound), b=ctx.uniform(OUT, bound=bound))
            return _layer_case(ctx, lambda x, w, b: ctx.LF.linear(x, w, b), lambda x, w, b: ctx.TF.linear(x, w, b),
                               inputs, ("x", "w", "b"), backward)

        register(f"linear_{IN}x{OUT}_b{B} {mode}", "linear", mode,
                 flops=2.0 * B * IN * OUT * (3 if backward else 1), desc=f"batch {B}, {IN}->{OUT}")(build)


_register_linear(64, 784, 256)
_register_linear(256, 784, 256)


@register("cross_entropy_256x10 fwd+bwd", "loss", "fwd+bwd", desc="logits (256,10), mean")
def _cross_entropy(ctx):
    inputs = dict(x=ctx.randn(256, 10, scale=2.0), y=ctx.rng.integers(0, 10, 256).astype(np.int64))
    return _layer_case(ctx, lambda x, y: ctx.LF.cross_entropy(x, y), lambda x, y: ctx.TF.cross_entropy(x, y),
                       inputs, ("x",), True)


# ---- per-op overhead ----------------------------------------------------------------------------


@register("overhead relu 1 elem fwd", "overhead", "fwd", desc="relu on a 1-element tensor, no grad")
def _relu_tiny(ctx):
    return _layer_case(ctx, lambda x: ctx.LF.relu(x), lambda x: ctx.TF.relu(x),
                       dict(x=ctx.randn(1)), (), False)


@register("overhead Linear(4,4) b1 fwd+bwd", "overhead", "fwd+bwd",
          desc="nn.Linear(4,4) at batch 1: zero_grad, forward, backward")
def _linear_tiny(ctx):
    lm, torch = ctx.lm, ctx.torch
    lmod, tmod = lm.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    copy_params(lmod, tmod)
    lx, tx = ctx.pair(ctx.randn(1, 4))
    ld, td = ctx.pair(ctx.randn(1, 4))

    def run_l():
        lmod.zero_grad()
        out = lmod(lx)
        out.backward(ld)
        return out

    def run_t():
        tmod.zero_grad()
        out = tmod(tx)
        out.backward(td)
        return out

    def check():
        lo, to = run_l(), run_t()
        return compare([("out", lo, to), ("dW", lmod.weight.grad, tmod.weight.grad),
                        ("db", lmod.bias.grad, tmod.bias.grad)])

    return Case(run_l, run_t, check)
