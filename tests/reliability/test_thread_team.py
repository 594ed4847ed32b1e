"""OpenMP may give a parallel region fewer threads than lamina asks for (OMP_THREAD_LIMIT,
OMP_DYNAMIC, a runtime out of threads). Every kernel must then still cover all of its work.

Regression (found by the ThreadSanitizer run, tools/sanitize.sh thread, which caps teams at one
thread): the direct conv2d split its tasks over the requested thread count, so with a smaller team
the missing threads' output rows were never written and training diverged to inf/nan."""
from __future__ import annotations

import os
import subprocess
import sys

import lamina

PROGRAM = r"""
import numpy as np
import lamina
from lamina import nn

def run(threads):
    lamina.set_num_threads(threads)
    lamina.manual_seed(0)
    rng = np.random.default_rng(0)
    # 16 images of 16x16, pad 1: the direct conv path, an OpenMP region over (image, row) tasks;
    # then a second conv, pooling and a linear layer, trained two steps.
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))
    opt = lamina.optim.SGD(model.parameters(), lr=0.05)
    out = []
    for _ in range(2):
        x = lamina.from_numpy(rng.standard_normal((16, 3, 16, 16)).astype(np.float32))
        y = model(x)
        out.append(y.detach().numpy().copy())
        opt.zero_grad()
        (y * y).mean().backward()
        opt.step()
    return out + [p.detach().numpy().copy() for p in model.parameters()]

ref = run(1)
for n in (2, 4):
    got = run(n)
    for i, (a, b) in enumerate(zip(ref, got)):
        assert np.isfinite(b).all(), f"{n} threads asked, 1 given: array {i} is not finite"
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=f"{n} threads asked, 1 given: array {i}")
print("team ok")
"""


def test_kernels_cover_all_work_when_the_team_is_smaller_than_asked():
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    # The lamina under test (an installed wheel or the source tree), not whatever is on the path.
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(lamina.__file__)),
                                         env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "team ok" in r.stdout, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr[-4000:]}"
