"""lamina.save's temporary files: writers SIGKILLed mid-save leave ``.<name>.<pid>.<hex>.tmp``;
the next save to that path removes those of dead writers and never a live writer's."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lamina

if not hasattr(os, "fork") or sys.platform == "win32":
    pytest.skip("POSIX signals and advisory locks", allow_module_level=True)


# A writer saving repeatedly; with PAUSE it stops forever in the middle of writing the data
# (after the header), printing "paused" so the test knows its temporary file exists.
WRITER = r"""
import os, sys, time
import numpy as np
import lamina
from lamina import serialization
path, pause = sys.argv[1], sys.argv[2] == "1"
if pause:
    real = serialization._write_array
    def slow(f, arr):
        real(f, arr)
        print("paused", flush=True)
        time.sleep(3600)
    serialization._write_array = slow
obj = {"w": lamina.ones(1 << 18), "step": 1}
print("ready", flush=True)
while True:
    lamina.save(obj, path)
"""


def _env() -> dict:
    env = dict(os.environ)
    src = str(Path(lamina.__file__).resolve().parents[1])  # the lamina under test (installed or source)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _start(path: Path, pause: bool) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "1" if pause else "0"],
                         stdout=subprocess.PIPE, text=True, env=_env())
    line = p.stdout.readline().strip()
    assert line == "ready", f"writer did not start: {line!r}"
    if pause:
        assert p.stdout.readline().strip() == "paused"
    return p


def _kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    p.stdout.close()


def _temps(folder: Path) -> list:
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def test_killed_writers_temps_removed_live_writer_kept(tmp_path):
    target = tmp_path / "ckpt.lam"
    rng = random.Random(0)
    # Writers killed at random moments while saving in a loop (some die between saves).
    for _ in range(4):
        p = _start(target, pause=False)
        time.sleep(rng.uniform(0.0, 0.05))
        _kill(p)
    # One killed for certain mid-write, so at least one stale file exists.
    dead = _start(target, pause=True)
    dead_pid = dead.pid
    _kill(dead)
    # A file for another checkpoint in the same folder, and a non-lamina file: never touched.
    other = tmp_path / f".other.lam.{dead_pid}.deadbeef.tmp"
    other.write_bytes(b"x")
    (tmp_path / "notes.tmp").write_bytes(b"y")
    stale = [n for n in _temps(tmp_path) if n.startswith(".ckpt.lam.")]
    assert any(f".{dead_pid}." in n for n in stale), stale
    # A live writer paused in the middle of its save.
    live = _start(target, pause=True)
    try:
        live_tmp = [n for n in _temps(tmp_path) if f".ckpt.lam.{live.pid}." in n]
        assert len(live_tmp) == 1
        lamina.save({"w": lamina.arange(5)}, target)
        left = _temps(tmp_path)
        assert [n for n in left if n.startswith(".ckpt.lam.")] == live_tmp  # dead ones gone, live kept
        assert other.name in left and "notes.tmp" in left
        np.testing.assert_array_equal(lamina.load(target)["w"].numpy(), np.arange(5))
    finally:
        _kill(live)
    lamina.save({"w": lamina.arange(3)}, target)
    assert [n for n in _temps(tmp_path) if n.startswith(".ckpt.lam.")] == []
    np.testing.assert_array_equal(lamina.load(target)["w"].numpy(), np.arange(3))


def test_recycled_pid_keeps_file(tmp_path):
    """A temporary file whose PID now belongs to a running process (ours, here) is kept."""
    target = tmp_path / "m.lam"
    mine = tmp_path / f".m.lam.{os.getppid()}.0123abcd.tmp"
    mine.write_bytes(b"partial")
    lamina.save([1, 2], target)
    assert mine.exists()
    assert lamina.load(target) == [1, 2]
