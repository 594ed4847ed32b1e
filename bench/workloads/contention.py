"""The contention row (issue 13): a DQN training step at the default thread count while another
process keeps one core busy, against the same step at 1 thread."""
from __future__ import annotations

import numpy as np

from .registry import Case, copy_params, register, rel_err, snapshot, update_err
from .train import _seq

# ---- contention (issue 13): a core shared with another busy process ----------------------------


def _busy_helper():
    """Starts a process that spins on a CPU (a second job, an MPI rank, a build) and returns a
    function that stops it; it is also stopped at exit."""
    import atexit
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])

    def stop():
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    atexit.register(stop)
    return stop


def _rate(step, seconds: float) -> float:
    import time
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(20):
            step()
        n += 20
    return n / (time.perf_counter() - t0)


@register("contention DQN MLP 4-128-128-2 b64 step", "contention", "step", steps=1,
          desc="one busy process running; both frameworks at lamina's default thread count (not --threads); "
               "fwd + MSE + bwd + Adam, DQNAgent's default network and batch")
def _contention_dqn(ctx):
    """A DQN update at lamina.rl.DQNAgent's defaults (hidden (128, 128), batch 64) while another
    process keeps a core busy, from build until the case is dropped. lamina runs at its default
    thread count and torch at the same count. The check also times lamina at its default against
    lamina at 1 thread (interleaved) and prints that ratio: the target is <= 1.3 (issue 13)."""
    import weakref

    lm, torch = ctx.lm, ctx.torch
    layers = [("linear", 4, 128), ("relu",), ("linear", 128, 128), ("relu",), ("linear", 128, 2)]
    lmodel, tmodel = _seq(lm.nn, layers), _seq(torch.nn, layers)
    copy_params(lmodel, tmodel)
    lopt, topt = lm.optim.Adam(lmodel.parameters(), lr=1e-3), torch.optim.Adam(tmodel.parameters(), lr=1e-3)
    lx, tx = ctx.pair(ctx.randn(64, 4))
    ly, ty = ctx.pair(ctx.randn(64, 2))
    # The default as lamina computes it at import (affinity, cgroup quota); the harness has already
    # called set_num_threads(--threads), so it is asked for again here.
    n_default = lm._threads.default_num_threads()
    lm.set_num_threads(n_default)
    torch.set_num_threads(n_default)

    def run_l():
        lopt.zero_grad()
        out = lm.nn.functional.mse_loss(lmodel(lx), ly)
        out.backward()
        lopt.step()
        return out

    def run_t():
        topt.zero_grad()
        out = torch.nn.functional.mse_loss(tmodel(tx), ty)
        out.backward()
        topt.step()
        return out

    def check():
        lb, tb = snapshot(lmodel.parameters()), snapshot(tmodel.parameters())
        res = [("loss(step 1)", rel_err(run_l(), run_t())),
               ("param update of step 1", update_err(lb, snapshot(lmodel.parameters()), tb,
                                                     snapshot(tmodel.parameters())))]
        one, dflt = [], []
        for _ in range(5):  # interleaved, medians: the busy process and the machine's load vary
            lm.set_num_threads(1)
            one.append(_rate(run_l, 0.2))
            lm.set_num_threads(n_default)
            dflt.append(_rate(run_l, 0.2))
        r1, rd = float(np.median(one)), float(np.median(dflt))
        print(f"\n    contention: lamina 1 thread {r1:.0f} steps/s, default ({n_default} threads) {rd:.0f} "
              f"steps/s: default / 1-thread time = {r1 / rd:.2f} (target <= 1.3)", flush=True)
        return res

    case = Case(run_l, run_t, check)
    weakref.finalize(case, _busy_helper())  # stopped when the harness drops the case
    return case
