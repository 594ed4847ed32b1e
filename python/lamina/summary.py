"""``lamina.summary(model, input_shape)``: every layer's output shape, parameters, FLOPs and
activation memory, with totals — or, when the shapes do not fit, the first layer that fails and
why, instead of a traceback from deep inside the model."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import nn
from .autograd.grad_mode import no_grad
from .ops.creation import randn
from .tensor import Tensor


@dataclass
class LayerRow:
    name: str
    kind: str
    out_shape: tuple
    params: int
    flops: int
    act_bytes: int


@dataclass
class Summary:
    """The result of ``lamina.summary``; ``print()`` it for the table."""

    rows: list = field(default_factory=list)
    input_shape: tuple = ()
    error: str | None = None
    failed_layer: str | None = None
    total_params: int = 0
    trainable_params: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total_flops(self) -> int:
        return sum(r.flops for r in self.rows)

    @property
    def total_act_bytes(self) -> int:
        return sum(r.act_bytes for r in self.rows)

    def __str__(self) -> str:
        head = f"{'Layer (path)':<28} {'Type':<28} {'Output shape':<22} {'Params':>10} {'FLOPs':>12} {'Act. mem':>10}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{r.name:<28.28} {r.kind:<28.28} {str(list(r.out_shape)):<22} {r.params:>10,} "
                         f"{_human(r.flops):>12} {_human_bytes(r.act_bytes):>10}")
        lines.append("-" * len(head))
        lines.append(f"Input shape: {list(self.input_shape)}")
        lines.append(f"Total params: {self.total_params:,} (trainable {self.trainable_params:,})")
        lines.append(f"Total FLOPs (forward): {_human(self.total_flops)}; activation memory: "
                     f"{_human_bytes(self.total_act_bytes)}")
        if self.error:
            lines.append(f"FAILED at layer {self.failed_layer}: {self.error}")
        return "\n".join(lines)

    __repr__ = __str__


def _human(n: float) -> str:
    for unit in ("", "K", "M", "G", "T"):
        if abs(n) < 1000:
            return f"{n:.3g}{unit}"
        n /= 1000
    return f"{n:.3g}P"


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"


def _flops(m, inp, out) -> int:
    """Forward FLOPs (a multiply-add counts 2) for the layers where it is well defined."""
    n_out = out.numel() if hasattr(out, "numel") else 0
    if isinstance(m, nn.Linear):
        return 2 * m.in_features * n_out
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        k = 1
        for s in m.kernel_size:
            k *= s
        return 2 * (m.in_channels // m.groups) * k * n_out
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        k = 1
        for s in m.kernel_size:
            k *= s
        return 2 * (m.out_channels // m.groups) * k * inp.numel()
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.MaxPool1d, nn.AvgPool1d)):
        ks = m.kernel_size if isinstance(m.kernel_size, (tuple, list)) else (m.kernel_size,) * (2 if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) else 1)
        k = 1
        for s in ks:
            k *= s
        return k * n_out
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm, nn.LayerNorm)):
        return 4 * n_out
    if isinstance(m, (nn.RBF, nn.ConicSection)):
        return 4 * m.in_features * n_out
    if isinstance(m, (nn.Flatten, nn.Identity, nn.Unflatten, nn.Dropout, nn.Embedding)):
        return 0
    return n_out  # pointwise activations and the like


def summary(model, input_shape, batch_size: int = 1, dtype=None, device=None, print_table: bool = False) -> Summary:
    """Runs one forward pass on zeros of shape ``(batch_size, *input_shape)`` with hooks on every
    leaf layer. ``input_shape`` is one sample's shape, without the batch dimension (as in Keras).

    Returns a Summary (``print(summary(...))``); on a shape error ``summary.ok`` is False and
    ``summary.failed_layer`` / ``summary.error`` say where and why.
    """
    input_shape = tuple(input_shape)
    res = Summary(input_shape=(batch_size,) + input_shape)
    params = list(model.parameters())
    res.total_params = sum(p.numel() for p in params)
    res.trainable_params = sum(p.numel() for p in params if p.requires_grad)
    handles = []
    names = {id(m): n for n, m in model.named_modules()}

    def hook(m, inp, out):
        o = out[0] if isinstance(out, tuple) else out
        x = inp[0] if inp else None
        if not isinstance(o, Tensor):
            return
        own = sum(p.numel() for p in m.parameters(recurse=False))
        res.rows.append(LayerRow(names.get(id(m), "?"), m.describe(), tuple(o.shape), own,
                                 _flops(m, x, o), o.numel() * o.element_size()))

    for m in model.modules():
        if not any(True for _ in m.children()):
            handles.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        x = randn(batch_size, *input_shape, **({"dtype": dtype} if dtype is not None else {}),
                  **({"device": device} if device is not None else {}))
        with no_grad():
            model(x)
    except (ValueError, TypeError, IndexError, RuntimeError) as e:
        culprit = getattr(e, "_lamina_module", None)
        res.failed_layer = names.get(id(culprit), type(culprit).__name__) if culprit is not None else "?"
        if culprit is not None:
            res.failed_layer = f"{res.failed_layer} ({culprit.describe()})"
        res.error = getattr(e, "_lamina_msg", str(e))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if print_table:
        print(res)
    return res
