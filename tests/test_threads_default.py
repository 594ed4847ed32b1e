"""The default thread count (issue 13): never more than the CPUs this process may run on (affinity)
or its cgroup CPU quota (parsed from fake cgroup v1/v2 files here), OMP_NUM_THREADS and
set_num_threads still win; lamina's OpenMP wait setting leaves the environment as it found it.
Subprocesses, because the default is decided once, at import."""
import os
import subprocess
import sys

import lamina
import pytest
from lamina import _threads

_OMP_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def _run(code: str, **env_over) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _OMP_VARS}
    env.update(env_over)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip()


needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no sched_setaffinity")


@needs_affinity
def test_default_follows_restricted_affinity():
    cpu = min(os.sched_getaffinity(0))
    out = _run(f"import os; os.sched_setaffinity(0, {{{cpu}}}); import lamina; n = lamina.get_num_threads(); "
               "lamina.set_num_threads(3); print(n, lamina.get_num_threads())")
    assert out.split() == ["1", "3"]  # one usable CPU -> 1 thread; set_num_threads still overrides


@needs_affinity
def test_default_never_exceeds_affinity():
    out = _run("import os; import lamina; print(lamina.get_num_threads(), len(os.sched_getaffinity(0)))")
    n, cpus = map(int, out.split())
    assert 1 <= n <= cpus
    assert _threads.default_num_threads() <= len(os.sched_getaffinity(0))


def test_omp_num_threads_wins():
    assert _run("import lamina; print(lamina.get_num_threads())", OMP_NUM_THREADS="3") == "3"


def test_wait_setting_restores_environment():
    code = "import os, lamina; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    assert _run(code) == "None None"  # set only while libgomp loads
    assert _run(code, GOMP_SPINCOUNT="7") == "7 None"  # the user's choice is left alone


def test_set_num_threads_overrides_in_process():
    old = lamina.get_num_threads()
    try:
        lamina.set_num_threads(1)
        assert lamina.get_num_threads() == 1
    finally:
        lamina.set_num_threads(old)


# ---- cgroup quota parsing on fake files ---------------------------------------------------------


def _fake(tmp_path, files: dict, self_cgroup: str):
    for rel, text in files.items():
        p = tmp_path / "cg" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tmp_path / "self").write_text(self_cgroup)
    return _threads.cgroup_cpu_limit(str(tmp_path / "cg"), str(tmp_path / "self"))


@pytest.mark.parametrize("files,self_cgroup,want", [
    ({"cpu.max": "max 100000\n"}, "0::/\n", None),                      # v2, unlimited
    ({"cpu.max": "150000 100000\n"}, "0::/\n", 1.5),                    # v2 at the mount root (container)
    ({"a/b/cpu.max": "max 100000", "a/cpu.max": "50000 100000"}, "0::/a/b\n", 0.5),  # a parent's quota
    ({"a/b/cpu.max": "300000 100000", "cpu.max": "max 100000"}, "0::/a/b\n", 3.0),
    ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, "1:cpu:/\n", None),  # v1 none
    ({"cpu,cpuacct/user/cpu.cfs_quota_us": "200000", "cpu,cpuacct/user/cpu.cfs_period_us": "100000"},
     "4:cpu,cpuacct:/user\n0::/\n", 2.0),                               # v1, joint mount, own group
    ({"cpu.max": "garbage"}, "0::/\n", None),
    ({}, "", None),                                                     # no cgroup files at all
])
def test_cgroup_cpu_limit(tmp_path, files, self_cgroup, want):
    got = _fake(tmp_path, files, self_cgroup)
    assert got == (pytest.approx(want) if want is not None else None)


@pytest.mark.parametrize("cpus,limit,want", [(2, None, 2), (8, 1.5, 1), (4, 0.5, 1), (2, 16.0, 2), (16, 4.0, 4)])
def test_default_num_threads_caps_by_quota(cpus, limit, want):
    assert _threads.default_num_threads(cpus=cpus, limit=limit) == want
