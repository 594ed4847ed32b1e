"""ONNX If and Loop, run eagerly: the condition and trip count are read when the node runs (data-
dependent control flow, as Python's own if/while over lamina tensors), and the chosen subgraph
runs with the enclosing scope's values visible. Sequence- and optional-typed values are not
supported (the importer handles tensors only).
"""
from __future__ import annotations

import numpy as np

from ..ops import join as J
from ._import_common import NodeContext, make_plan, np_of, op, run_plan, to_lamina


def _subgraph_env(ctx: NodeContext, graph) -> dict:
    from onnx import numpy_helper
    env = dict(ctx.env)  # outer-scope values are visible inside
    for t in graph.initializer:
        env[t.name] = np.array(numpy_helper.to_array(t))
    return env


def _plan(ctx: NodeContext, name: str, graph) -> list:
    if name not in ctx.subplans:
        ctx.subplans[name] = make_plan(graph.node, ctx.opset, ctx.module)
    return ctx.subplans[name]


def _truth(v) -> bool:
    return bool(np.asarray(np_of(v)).reshape(-1)[0])


@op("If")
def _if(ctx, ins):
    branch = "then_branch" if _truth(ins[0]) else "else_branch"
    g = ctx.attr(branch)
    env = _subgraph_env(ctx, g)
    run_plan(_plan(ctx, branch, g), env)
    return [env[o.name] for o in g.output]


def _stack(vals):
    """a Loop's scan output: the per-iteration values stacked along a new first axis"""
    if all(isinstance(v, np.ndarray) for v in vals):
        return np.stack(vals)
    return J.stack([to_lamina(v) if isinstance(v, np.ndarray) else v for v in vals], 0)


@op("Loop")
def _loop(ctx, ins):
    body = ctx.attr("body")
    trip = int(np.asarray(np_of(ins[0])).reshape(-1)[0]) if ins and ins[0] is not None else None
    keep = _truth(ins[1]) if len(ins) > 1 and ins[1] is not None else True
    carried = list(ins[2:])
    names = [i.name for i in body.input]
    outs = [o.name for o in body.output]
    n_car = len(carried)
    scans: list = [[] for _ in outs[1 + n_car:]]
    plan = _plan(ctx, "body", body)
    i = 0
    while keep and (trip is None or i < trip):
        env = _subgraph_env(ctx, body)
        env[names[0]] = np.array(i, dtype=np.int64)
        env[names[1]] = np.array(keep)
        for name, v in zip(names[2:], carried):
            env[name] = v
        run_plan(plan, env)
        keep = _truth(env[outs[0]])
        carried = [env[o] for o in outs[1:1 + n_car]]
        for k, o in enumerate(outs[1 + n_car:]):
            scans[k].append(env[o])
        i += 1
    if any(not s for s in scans):
        raise ctx.unsupported("a Loop that runs no iteration but has scan outputs")
    return carried + [_stack(s) for s in scans]
