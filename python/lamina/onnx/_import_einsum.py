"""ONNX Einsum as lamina ops: each operand's repeated letters become its diagonal (a multiply by
an identity mask and a sum), letters nobody else needs are summed out, and operands are contracted
pairwise as one batched matmul (batch letters, kept letters, contracted letters), left to right.
Implicit output (no '->'): the letters used once, in alphabetical order; '...' broadcasts.
"""
from __future__ import annotations

import string

import numpy as np

from ..ops import matmul as M
from ..ops import reduce as R
from ..ops import shape as S
from ..tensor import Tensor
from ._import_common import NodeContext, op, to_lamina

_FREE = [c for c in string.ascii_uppercase + string.ascii_lowercase]  # stand-ins for '...' dims


def _parse(ctx, eq: str, ranks: list) -> tuple[list, str]:
    eq = eq.replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ctx.error(f"equation '{eq}' has {len(terms)} operands, the node {len(ranks)}")
    used = set(eq)
    free = [c for c in _FREE if c not in used]
    n_ell = max([r - (len(t) - 3) for t, r in zip(terms, ranks) if "..." in t], default=0)
    ell = "".join(free[:n_ell])
    out_terms = []
    for t, r in zip(terms, ranks):
        if "..." in t:
            k = r - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k:])
        if len(t) != r:
            raise ctx.error(f"term '{t}' of equation '{eq}' does not match an operand of rank {r}")
        out_terms.append(t)
    if "->" in eq:
        out = rhs.replace("...", ell)
    else:
        counts = {c: "".join(out_terms).count(c) for c in "".join(out_terms)}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return out_terms, out


def _diagonal(x: Tensor, term: str) -> tuple[Tensor, str]:
    """x with each repeated letter of its term reduced to the diagonal"""
    while len(set(term)) < len(term):
        c = next(ch for ch in term if term.count(ch) > 1)
        i, j = term.index(c), term.index(c, term.index(c) + 1)
        n = x.shape[i]
        shape = [1] * x.ndim
        shape[i] = shape[j] = n
        eye = to_lamina(np.eye(n, dtype=x.dtype._np).reshape(shape))
        x = R.sum(x * eye, j)
        term = term[:j] + term[j + 1:]
    return x, term


def _sum_out(x: Tensor, term: str, keep: set) -> tuple[Tensor, str]:
    drop = [i for i, c in enumerate(term) if c not in keep]
    if drop:
        x = R.sum(x, drop)
        term = "".join(c for c in term if c in keep)
    return x, term


def _contract(a: Tensor, ta: str, b: Tensor, tb: str, keep: set) -> tuple[Tensor, str]:
    batch = [c for c in ta if c in tb and c in keep]
    con = [c for c in ta if c in tb and c not in keep]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]
    size = {c: n for t, x in ((ta, a), (tb, b)) for c, n in zip(t, x.shape)}
    for t, x in ((ta, a), (tb, b)):  # a letter of size 1 on one side broadcasts
        for c, n in zip(t, x.shape):
            size[c] = max(size[c], n)

    def arrange(x, t, order):
        x = S.permute(x, *[t.index(c) for c in order]) if list(t) != order else x
        full = [size[c] for c in order]
        return S.expand(x, *full) if list(x.shape) != full else x

    def prod(cs):
        return int(np.prod([size[c] for c in cs], dtype=np.int64))
    a3 = S.reshape(arrange(a, ta, batch + left + con), [prod(batch), prod(left), prod(con)])
    b3 = S.reshape(arrange(b, tb, batch + con + right), [prod(batch), prod(con), prod(right)])
    y = M.matmul(a3, b3)
    return S.reshape(y, [size[c] for c in batch + left + right]), "".join(batch + left + right)


@op("Einsum")
def _einsum(ctx: NodeContext, ins):
    xs = [ctx.tensor(v) for v in ins]
    if not all(x.dtype.is_floating_point for x in xs):
        raise ctx.unsupported("Einsum of integer tensors (contracted with lamina's float matmul)")
    terms, out = _parse(ctx, ctx.attr("equation"), [x.ndim for x in xs])
    ops = [_diagonal(x, t) for x, t in zip(xs, terms)]
    acc, ta = None, ""
    for k, (x, t) in enumerate(ops):
        later = set(out) | {c for _, tt in ops[k + 1:] for c in tt}  # letters still needed after this step
        if acc is None:
            acc, ta = _sum_out(x, t, later)
            continue
        x, t = _sum_out(x, t, later | set(ta))
        acc, ta = _sum_out(acc, ta, later | set(t))
        acc, ta = _contract(acc, ta, x, t, later)
    acc, ta = _sum_out(acc, ta, set(out))
    return S.permute(acc, *[ta.index(c) for c in out]) if ta != out and out else acc
