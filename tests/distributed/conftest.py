"""Multi-process tests: each runs a worker script under ``mpiexec -n N`` (the mpiexec next to
sys.executable, from the mpich wheel of the ``distributed`` extra) in a subprocess with a
timeout, so a hang fails the test instead of the suite. Skipped, with the reason, when mpi4py
or mpiexec is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKERS = Path(__file__).with_name("workers")


def _mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    if here.is_file():
        return str(here)
    return shutil.which("mpiexec")


def _skip_reason():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install '.[distributed]')"
    if _mpiexec() is None:
        return f"no mpiexec next to {sys.executable} or on PATH (pip install '.[distributed]' brings mpich)"
    return None


class MPIRun:
    """``mpirun(n, "worker.py", *args, timeout=60)`` -> CompletedProcess (stdout, stderr, returncode)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def __call__(self, n: int, worker: str, *args, timeout: float = 90, env=None, check: bool = True):
        e = dict(os.environ)
        e.setdefault("OMP_NUM_THREADS", "1")
        e["LAMINA_TEST_TMP"] = str(self.tmp_path)
        import lamina

        # The workers import the same lamina as this pytest process.
        src = str(Path(lamina.__file__).resolve().parents[1])
        e["PYTHONPATH"] = os.pathsep.join(p for p in [src, e.get("PYTHONPATH", "")] if p)
        if env:
            e.update(env)
        cmd = [_mpiexec(), "-n", str(n), sys.executable, str(WORKERS / worker), *map(str, args)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=self.tmp_path,
                               check=False)
        except subprocess.TimeoutExpired as ex:
            pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s (a hang)\nstdout:\n{ex.stdout}\n"
                        f"stderr:\n{ex.stderr}")
        if check and r.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} exited with {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r


@pytest.fixture
def mpirun(tmp_path):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    return MPIRun(tmp_path)
