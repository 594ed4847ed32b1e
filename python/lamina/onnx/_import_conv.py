"""ONNX Gemm/MatMul and Conv/ConvTranspose as lamina ops (Conv 1-D, 2-D, and 3-D as a sum over
depth taps of 2-D convolutions; ConvTranspose 1-D and 2-D). ONNX's asymmetric or SAME_* padding
becomes an explicit pad (or crop) around lamina's symmetric-padding kernels.
"""
from __future__ import annotations

from ..ops import conv as CV
from ..ops import indexing as I
from ..ops import linear as L
from ..ops import matmul as M
from ..ops import shape as S
from ._import_common import NodeContext, op


@op("MatMul")
def _matmul(ctx: NodeContext, ins):
    a = ctx.tensor(ins[0])
    b = ctx.tensor(ins[1], like=a)
    a = ctx.tensor(ins[0], like=b)
    if not (a.dtype.is_floating_point and b.dtype.is_floating_point):
        raise ctx.unsupported(f"MatMul of {a.dtype} x {b.dtype} (lamina's matmul is float32/float64)")
    return M.matmul(a, b)


@op("Gemm")
def _gemm(ctx, ins):
    a = ctx.tensor(ins[0])
    b = ctx.tensor(ins[1], like=a)
    c = ctx.tensor(ins[2], like=a) if len(ins) > 2 else None
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    if ctx.attr("transA", 0):
        a = S.t(a)
    if ctx.attr("transB", 0) and alpha == 1.0 and beta == 1.0 and (c is None or c.ndim == 1 and
                                                                   c.shape[0] == b.shape[0]):
        return L.linear(a, b, c)  # weight stored (out, in): lamina's fused Linear
    if ctx.attr("transB", 0):
        b = S.t(b)
    y = M.matmul(a, b)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


def _spatial(ctx, x, w_shape=None, dims=(1, 2)):
    n = x.ndim - 2
    if n not in dims:
        raise ctx.unsupported(f"{n}-D spatial input of shape {list(x.shape)} (lamina has 1-D and 2-D kernels)")
    k = ctx.attr("kernel_shape") or (list(w_shape[2:]) if w_shape is not None else None)
    return n, list(k)


def _pads(ctx, n: int, in_sizes, k, strides, dil) -> tuple[list, list]:
    """(begin, end) padding per spatial dim, auto_pad resolved as the ONNX spec does."""
    auto = ctx.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        lo, hi = [], []
        for i in range(n):
            out = -(-in_sizes[i] // strides[i])
            total = max((out - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 - in_sizes[i], 0)
            small, big = total // 2, total - total // 2
            lo.append(small if auto == "SAME_UPPER" else big)
            hi.append(big if auto == "SAME_UPPER" else small)
        return lo, hi
    if auto == "VALID":
        return [0] * n, [0] * n
    p = ctx.attr("pads") or [0] * (2 * n)
    return list(p[:n]), list(p[n:])


def _explicit_pad(x, lo, hi, value=0.0):
    flat = []
    for a, b in zip(reversed(lo), reversed(hi)):
        flat += [a, b]
    return I.pad(x, flat, "constant", value)


def _conv3d(x, w, b, st, dl, group):
    """3-D convolution of an already padded input: for each depth tap kd, the depth slices it reads
    (folded into the batch) through conv2d with that tap's 2-D kernels, summed over the taps."""
    n, c, d = x.shape[0], x.shape[1], x.shape[2]
    kd = w.shape[2]
    od = (d - ((kd - 1) * dl[0] + 1)) // st[0] + 1
    acc = None
    for t in range(kd):
        xs = x[:, :, t * dl[0]: t * dl[0] + (od - 1) * st[0] + 1: st[0]]  # [N, C, OD, H, W]
        x2 = S.reshape(S.permute(xs, 0, 2, 1, 3, 4), [n * od, c] + list(x.shape[3:]))
        y = CV.conv2d(x2, S.contiguous(w[:, :, t]), None, stride=tuple(st[1:]), dilation=tuple(dl[1:]),
                      groups=group)
        acc = y if acc is None else acc + y
    y = S.permute(S.reshape(acc, [n, od] + list(acc.shape[1:])), 0, 2, 1, 3, 4)
    return y + S.reshape(b, [1, -1, 1, 1, 1]) if b is not None else y


@op("Conv")
def _conv(ctx, ins):
    x = ctx.tensor(ins[0])
    w = ctx.tensor(ins[1], like=x)
    b = ctx.tensor(ins[2], like=x) if len(ins) > 2 else None
    if w.ndim != x.ndim:
        raise ctx.error(f"weight of shape {list(w.shape)} does not fit an input of shape {list(x.shape)} "
                        f"(a {x.ndim - 2}-D convolution needs a {x.ndim}-D weight)")
    n, k = _spatial(ctx, x, w.shape, dims=(1, 2, 3))
    st = ctx.attr("strides") or [1] * n
    dl = ctx.attr("dilations") or [1] * n
    lo, hi = _pads(ctx, n, list(x.shape[2:]), k, st, dl)
    if n == 3:
        return _conv3d(_explicit_pad(x, lo, hi), w, b, st, dl, ctx.attr("group", 1))
    if lo != hi:
        x, lo = _explicit_pad(x, lo, hi), [0] * n
    fn = CV.conv2d if n == 2 else CV.conv1d
    return fn(x, w, b, stride=tuple(st), padding=tuple(lo), dilation=tuple(dl), groups=ctx.attr("group", 1))


@op("ConvTranspose")
def _conv_transpose(ctx, ins):
    x = ctx.tensor(ins[0])
    w = ctx.tensor(ins[1], like=x)
    b = ctx.tensor(ins[2], like=x) if len(ins) > 2 else None
    n, k = _spatial(ctx, x, w.shape)
    st = ctx.attr("strides") or [1] * n
    dl = ctx.attr("dilations") or [1] * n
    opad = ctx.attr("output_padding") or [0] * n
    full = [st[i] * (x.shape[2 + i] - 1) + (k[i] - 1) * dl[i] + 1 for i in range(n)]
    out_shape = ctx.attr("output_shape")
    auto = ctx.attr("auto_pad", "NOTSET")
    if out_shape or auto in ("SAME_UPPER", "SAME_LOWER"):
        # the padding that gives the asked-for size (SAME: input * stride), split as onnxruntime does
        target = list(out_shape)[-n:] if out_shape else [x.shape[2 + i] * st[i] for i in range(n)]
        total = [full[i] + opad[i] - target[i] for i in range(n)]
        lo = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in total]
        hi = [t - lo_ for t, lo_ in zip(total, lo)]
    else:
        p = ctx.attr("pads") or [0] * (2 * n)
        lo, hi = list(p[:n]), list(p[n:])
    group = ctx.attr("group", 1)
    fn = CV.conv_transpose2d if n == 2 else CV.conv_transpose1d
    if lo == hi and all(0 <= o < max(s, d) for o, s, d in zip(opad, st, dl)) and not out_shape:
        return fn(x, w, b, stride=tuple(st), padding=tuple(lo), output_padding=tuple(opad), groups=group,
                  dilation=tuple(dl))
    # general case: the unpadded result, then crop (negative pad) / extend with zeros, then bias
    y = fn(x, w, None, stride=tuple(st), padding=0, output_padding=0, groups=group, dilation=tuple(dl))
    y = _explicit_pad(y, [-v for v in lo], [opad[i] - hi[i] for i in range(n)])
    if b is not None:
        y = y + S.reshape(b, [1, -1] + [1] * n)
    return y
