"""How many threads lamina uses by default, and how its OpenMP workers wait: pure Python, no
extension, because the wait policy must be chosen before the extension (and libgomp) loads.
README, "Threads and BLAS", says why; tests/test_threads_default.py checks the parsing."""
from __future__ import annotations

import os

# libgomp's idle workers (and a master waiting at a join) spin this many pause instructions before
# sleeping (~40 ns each on this VM). Its default, 300000, is milliseconds of pause: a worker burns a
# core after every parallel region. A sleeping worker takes ~60 us to wake on this VM, and the
# Python gaps between a training step's ops are 25-80 us, so with a short spin most ops start with
# the worker asleep; with a long one a worker burns a core that another process may want. Measured
# on the 2-core VM (README, "Default thread count"), without the governor: spin 1000 (~40 us) keeps a
# DQN step beside a busy process within 1.22x of 1 thread (100: 1.09, 3000: 1.47, 10000: 2.9) but
# gives CIFAR CNN b32 only 1.64-1.67x at 2 threads (100: 1.52, 10000: 1.93, 30000: 1.88-1.91).
# The contention governor (cpp/core/thread_governor.h) removes the trade-off: while another process
# keeps our CPUs busy, regions run on one thread, the workers are not woken and sleep after their
# spin. So with the governor on the spin is long (GOVERNED_SPIN_COUNT); with it off
# (LAMINA_THREAD_GOVERNOR=0) the short spin stays, to protect a shared core. Measured with the
# governor (2026-12-01, quiet, avx512, bench/compare.py, 1-thread / 2-thread time): CIFAR CNN b32
# at spin 10000 1.86, 1.89, 1.85, 1.87 alternating with 1.62, 1.61, 1.62, 1.53 with the governor
# off (09:41); at 09:06-09:09 spin 3000: 1.68, 1.72; 10000: 1.72, 1.77, 1.82, 1.86, 1.82; 30000:
# 1.84, 1.83, 1.83. LeNet-5 1.50 (off: 1.11), MLP b256 1.46 (1.07). The contention row (DQN beside
# a busy process, default / 1-thread time) 0.97-1.00 at 10000 and 30000 (off: 1.39 at 1000, 3.28
# at 10000). Two DQN jobs at once, 2 threads each: 4081 + 3950 steps/s, as at 1 thread each
# (4073 + 4025); 2578 + 2433 without the governor at 1000, 1040 + 1043 at 10000.
# 10000 (~0.4 ms) rather than 30000: the same scaling, and less burnt while the governor has not yet
# seen a new neighbour (100-200 ms) or beside one that uses under half a CPU (it stays at 2 then).
GOVERNED_SPIN_COUNT = "10000"
SPIN_COUNT = "1000"


def governor_enabled() -> bool:
    """Whether the contention governor runs: yes unless ``LAMINA_THREAD_GOVERNOR`` is 0/false/off/no."""
    return os.environ.get("LAMINA_THREAD_GOVERNOR", "1").strip().lower() not in ("0", "false", "off", "no")


def spin_count() -> str:
    """The GOMP_SPINCOUNT lamina loads libgomp with (when the user set no wait policy)."""
    return GOVERNED_SPIN_COUNT if governor_enabled() else SPIN_COUNT


def configure_openmp_wait() -> None:
    """Loads libgomp with spin_count() unless the user chose a wait policy, then restores the
    environment. Must run before lamina's extension loads (libgomp reads its settings once)."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return  # the user's choice wins
    import ctypes
    import glob

    # A wheel repaired by auditwheel carries its own copy (lamina.libs/libgomp-<hash>.so*), which the
    # extension then links by that name; an editable or source install links the system one.
    libs = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                         "lamina.libs", "libgomp*.so*"))) + ["libgomp.so.1"]
    os.environ["GOMP_SPINCOUNT"] = spin_count()
    try:
        for lib in libs:
            try:
                # If it is already loaded (another extension), this is a no-op and its settings stand.
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                pass  # another OpenMP runtime (libomp) or none: its defaults stand
    finally:
        # Restored at once: torch's bundled libgomp and child processes see the user's environment.
        del os.environ["GOMP_SPINCOUNT"]


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _ancestors(root: str, rel: str) -> list:
    """root/rel, its parents, ..., root: a quota on any of them limits this process."""
    parts = [p for p in rel.strip("/").split("/") if p and p != ".."]
    return [os.path.join(root, *parts[:i]) for i in range(len(parts), -1, -1)]


def cgroup_cpu_limit(root: str = "/sys/fs/cgroup", self_cgroup: str = "/proc/self/cgroup") -> float | None:
    """The CPU bandwidth this process's cgroup allows, in CPUs (quota / period), or None when
    unlimited or unknown. cgroup v2: ``cpu.max`` ("max 100000" or "150000 100000"); v1:
    ``cpu.cfs_quota_us`` (-1: none) / ``cpu.cfs_period_us`` under the cpu controller's mount. The
    smallest limit along the process's cgroup path (and the mount root, as seen in containers) wins."""
    groups = {}  # controller -> path, from lines "id:controllers:path"
    for line in (_read(self_cgroup) or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) == 3:
            for c in fields[1].split(",") if fields[1] else [""]:
                groups[c] = fields[2]
    limits = []
    for d in _ancestors(root, groups.get("", "/")):  # v2
        v = (_read(os.path.join(d, "cpu.max")) or "").split()
        if len(v) == 2 and v[0] != "max":
            try:
                q, p = float(v[0]), float(v[1])
                if q > 0 and p > 0:
                    limits.append(q / p)
            except ValueError:
                pass
    for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):  # v1
        for d in _ancestors(os.path.join(root, mount), groups.get("cpu", "/")):
            q, p = _read(os.path.join(d, "cpu.cfs_quota_us")), _read(os.path.join(d, "cpu.cfs_period_us"))
            try:
                if q is not None and p is not None and float(q) > 0 and float(p) > 0:
                    limits.append(float(q) / float(p))
            except ValueError:
                pass
    return min(limits) if limits else None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; os.cpu_count() where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_num_threads(cpus: int | None = None, limit: float | None = ...) -> int:
    """lamina's default thread count: the usable CPUs, capped by the cgroup CPU quota (rounded
    down, at least 1: a thread beyond the quota is throttled mid-region and the whole fork/join
    waits for it)."""
    n = usable_cpus() if cpus is None else int(cpus)
    lim = cgroup_cpu_limit() if limit is ... else limit
    if lim is not None:
        n = min(n, int(lim))
    return max(1, n)
