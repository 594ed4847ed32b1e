"""The wheel builds with the normal command (``pip wheel . --no-deps``, build isolation on), installs
into a fresh virtual environment with its declared dependencies (numpy, scipy-openblas32), and from a
neutral directory (without this checkout on sys.path) runs a smoke test under every CPU capability
the host supports (LAMINA_CPU_CAPABILITY per run): a small conv, matmul and sigmoid against numpy.

The wheel holds all three CPU variants, so building it compiles the core three times (README, "CPU
dispatch and wheels"). LAMINA_TEST_WHEEL=<path to a .whl> (e.g. from tools/build_wheel.sh) tests that
wheel instead of building one.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMOKE = r"""
import numpy as np, lamina
from lamina.nn import functional as F
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
a = rng.standard_normal((5, 7)).astype(np.float32)
b = rng.standard_normal((7, 6)).astype(np.float32)
# conv2d (no padding) by explicit windows
ref = np.zeros((2, 4, 7, 6), np.float32)
for i in range(7):
    for j in range(6):
        ref[:, :, i, j] = np.einsum("nchw,ochw->no", x[:, :, i:i + 3, j:j + 3], w)
np.testing.assert_allclose(F.conv2d(lamina.tensor(x), lamina.tensor(w)).numpy(), ref, rtol=1e-4, atol=1e-4)
np.testing.assert_allclose((lamina.tensor(a) @ lamina.tensor(b)).numpy(), a @ b, rtol=1e-5, atol=1e-5)
np.testing.assert_allclose(lamina.sigmoid(lamina.tensor(a * 5)).numpy(), 1 / (1 + np.exp(-a * 5)), rtol=1e-5, atol=1e-6)
print(lamina.__file__)
print(lamina._C.__name__)
print(",".join(lamina.backends.cpu.get_supported_capabilities()))
print(lamina.backends.cpu.get_cpu_capability())
"""


def _run(cmd, cwd, env, timeout):
    t0 = time.time()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, (f"{' '.join(map(str, cmd))} failed ({p.returncode}) after {time.time() - t0:.0f}s\n"
                               f"--- stdout ---\n{p.stdout[-4000:]}\n--- stderr ---\n{p.stderr[-4000:]}")
    return p


@pytest.mark.slow
def test_wheel_builds_installs_and_runs_every_capability(tmp_path):
    env = dict(os.environ)
    for k in ("LAMINA_EXT_DIR", "LAMINA_CPU_CAPABILITY", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(k, None)
    given = os.environ.get("LAMINA_TEST_WHEEL")
    if given:
        wheel = pathlib.Path(given)
        assert wheel.is_file(), f"LAMINA_TEST_WHEEL={given} is not a file"
    else:
        if not (os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
            pytest.skip("no C++ compiler on PATH: the wheel cannot be built here")
        # cmake and ninja from this interpreter's environment, so the isolated build need not fetch them
        env["PATH"] = os.pathsep.join([str(pathlib.Path(sys.executable).parent), env.get("PATH", "")])
        wheels = tmp_path / "wheels"
        # The normal command, with build isolation. Build isolation puts the build requirements in a
        # new temporary environment each time, which changes every compile line, so an in-tree build
        # dir would be rebuilt from scratch anyway: build in tmp, leaving build/ to whoever else uses
        # it. Three CPU variants: about three times the single-module build (README).
        t0 = time.time()
        _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(wheels),
              f"-Cbuild-dir={tmp_path / 'build'}"], cwd=ROOT, env=env, timeout=3600)
        print(f"wheel built in {time.time() - t0:.0f} s")
        built = sorted(wheels.glob("lamina-*.whl"))
        assert len(built) == 1, f"expected one lamina wheel in {wheels}, found {os.listdir(wheels)}"
        wheel = built[0]

    names = zipfile.ZipFile(wheel).namelist()
    for mod in ("_C_default", "_C_avx2", "_C_avx512", "_cpuinfo"):
        assert any(n.startswith(f"lamina/{mod}.") and n.endswith(".so") for n in names), \
            f"{wheel.name} lacks lamina/{mod}: a portable wheel holds every CPU level"

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env, timeout=300)
    vpy = venv / "bin" / "python"
    _run([str(vpy), "-m", "pip", "install", str(wheel)], cwd=tmp_path, env=env, timeout=600)

    neutral = tmp_path / "elsewhere"
    neutral.mkdir()
    p = _run([str(vpy), "-c", SMOKE], cwd=neutral, env=env, timeout=120)
    where, module, supported, chosen = p.stdout.split()[-4:]
    assert str(venv) in where, f"imported lamina from {where}, not from the fresh venv"
    supported = supported.split(",")
    assert chosen == supported[-1] and module == f"lamina._C_{chosen.lower()}", (chosen, supported, module)
    print(f"unforced: {module} ({chosen}); this CPU supports {supported}")
    for cap in supported:
        q = _run([str(vpy), "-c", SMOKE], cwd=neutral, env={**env, "LAMINA_CPU_CAPABILITY": cap.lower()}, timeout=120)
        got = q.stdout.split()[-1]
        assert got == cap, f"LAMINA_CPU_CAPABILITY={cap.lower()} loaded {got}"
        print(f"LAMINA_CPU_CAPABILITY={cap.lower()}: smoke test passed on {q.stdout.split()[-3]}")
