"""The wheel builds with the normal command (``pip wheel . --no-deps``, build isolation on), installs
into a fresh virtual environment with its declared dependencies (numpy, scipy-openblas32), and
imports and multiplies from a neutral directory, i.e. without this checkout on sys.path.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SNIPPET = ("import numpy as np, lamina; r = (lamina.ones(2, 3) @ lamina.ones(3, 2)).numpy(); "
           "print(lamina.__file__); print(float(r.sum())); assert np.array_equal(r, np.full((2, 2), 3.0))")


def _run(cmd, cwd, env, timeout):
    t0 = time.time()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, (f"{' '.join(map(str, cmd))} failed ({p.returncode}) after {time.time() - t0:.0f}s\n"
                               f"--- stdout ---\n{p.stdout[-4000:]}\n--- stderr ---\n{p.stderr[-4000:]}")
    return p


@pytest.mark.slow
def test_wheel_builds_installs_and_imports(tmp_path):
    if not (os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
        pytest.skip("no C++ compiler on PATH: the wheel cannot be built here")
    env = dict(os.environ)
    for k in ("LAMINA_EXT_DIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(k, None)
    # cmake and ninja from this interpreter's environment, so the isolated build need not fetch them
    env["PATH"] = os.pathsep.join([str(pathlib.Path(sys.executable).parent), env.get("PATH", "")])

    wheels = tmp_path / "wheels"
    # The normal command, with build isolation. Build isolation puts the build requirements in a new
    # temporary environment each time, which changes every compile line, so an in-tree build dir
    # would be rebuilt from scratch anyway: build in tmp, leaving build/ to whoever else uses it.
    # A full build takes ~4 min on 2 idle cores; the timeout leaves room for a busy machine.
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(wheels),
          f"-Cbuild-dir={tmp_path / 'build'}"], cwd=ROOT, env=env, timeout=1800)
    built = sorted(wheels.glob("lamina-*.whl"))
    assert len(built) == 1, f"expected one lamina wheel in {wheels}, found {os.listdir(wheels)}"

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env, timeout=300)
    vpy = venv / "bin" / "python"
    _run([str(vpy), "-m", "pip", "install", str(built[0])], cwd=tmp_path, env=env, timeout=600)

    neutral = tmp_path / "elsewhere"
    neutral.mkdir()
    p = _run([str(vpy), "-c", SNIPPET], cwd=neutral, env=env, timeout=120)
    where, total = p.stdout.split()[-2:]
    assert str(venv) in where, f"imported lamina from {where}, not from the fresh venv"
    assert float(total) == 12.0
