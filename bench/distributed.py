"""Data-parallel scaling of lamina over MPI against PyTorch's DistributedDataParallel (gloo), in
one run on this machine.

    LAMINA_EXT_DIR=build/dev-dist PYTHONPATH=python .venv/bin/python bench/distributed.py

Training throughput (samples/s, median of repetitions after warm-up) of MLP 784-256-256-10
b256, LeNet-5 b64 (1x28x28) and the CIFAR CNN b32 (3x32x32), SGD momentum 0.9, for
  1 process x 1 thread, 1 process x 2 threads,
  2 processes x 1 thread, weak scaling (each rank runs the batch: the way DDP is used), and
  2 processes x 1 thread, strong scaling (each rank runs half the batch),
with lamina (DistributedDataParallel over MPICH) and PyTorch (DistributedDataParallel, gloo),
and the allreduce time and bandwidth from 4 KB to 64 MB (float32) of both. The configurations
run interleaved, round after round; the table shows the best round's median.

    mpiexec -n 2 python bench/distributed.py --worker breakdown --rounds 10 [--variants ...]

splits a 2-rank MLP b256 step, paired in one job: one rank alone, two independent processes, DDP's
MPI path without communication (completed requests) and with it (shared_memory=False), DDP's
shared-memory path without its waits, and with them (the default on one node); other variants
(BREAKDOWN_VARIANTS: the chunked scheme, one buffer, bucket views) on request.

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from this benchmark's own environment (and so
from the processes it starts), as in bench/compare.py: this machine's environment pins an AVX2
kernel that halves OpenBLAS's speed. Tests never do this.
"""
from __future__ import annotations

import os
import sys

_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_MARKER = "LAMINA_DIST_BENCH_REEXEC"
if __name__ == "__main__" and _MARKER not in os.environ:
    removed = ";".join(f"{k}={os.environ[k]}" for k in _BLAS_VARS if k in os.environ)
    env = {k: v for k, v in os.environ.items() if k not in _BLAS_VARS}
    env[_MARKER] = removed or "(none set)"
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# name -> (layers, input shape per sample, batch)
WORKLOADS = {
    "MLP b256": ([("flatten",), ("linear", 784, 256), ("relu",), ("linear", 256, 256), ("relu",),
                  ("linear", 256, 10)], (784,), 256),
    "LeNet-5 b64": ([("conv", 1, 6, 5, 2), ("relu",), ("maxpool", 2), ("conv", 6, 16, 5, 0), ("relu",),
                     ("maxpool", 2), ("flatten",), ("linear", 400, 120), ("relu",), ("linear", 120, 84), ("relu",),
                     ("linear", 84, 10)], (1, 28, 28), 64),
    "CIFAR CNN b32": ([("conv", 3, 32, 3, 1), ("relu",), ("maxpool", 2), ("conv", 32, 64, 3, 1), ("relu",),
                       ("maxpool", 2), ("flatten",), ("linear", 4096, 128), ("relu",), ("linear", 128, 10)],
                      (3, 32, 32), 32),
}
SIZES = [4096 * 2 ** k for k in range(15)]  # 4 KB .. 64 MB


def build(nn, layers):
    """The same nn.Sequential in lamina or torch from a framework-neutral layer list."""
    mods = []
    for kind, *a in layers:
        if kind == "conv":
            mods.append(nn.Conv2d(a[0], a[1], a[2], padding=a[3]))
        elif kind == "linear":
            mods.append(nn.Linear(*a))
        elif kind == "maxpool":
            mods.append(nn.MaxPool2d(a[0]))
        else:
            mods.append({"relu": nn.ReLU, "flatten": nn.Flatten}[kind]())
    return nn.Sequential(*mods)


def _step_fn(model, opt, loss_fn, x, y, set_to_none=True):
    def step():
        opt.zero_grad(set_to_none=set_to_none)
        loss_fn(model(x), y).backward()
        opt.step()
    return step


# ---------------------------------------------------------------------------------------------
# Workers (one process, or one rank of an mpiexec job)

def _rank_size():
    return int(os.environ.get("PMI_RANK", "0")), int(os.environ.get("PMI_SIZE", "1"))


def _time_steps(step, sync, seconds: float, reps: int, agree=lambda k: k, cpu=None) -> list:
    """Per-step times: reps medians of windows of about `seconds` / reps each. ``agree(k)``
    returns rank 0's step count, so that every rank runs the same number of steps. ``cpu``: a
    list that receives this process's CPU time per step for each window."""
    for _ in range(3):
        step()
    sync()
    t0 = time.perf_counter()
    step()
    sync()
    one = max(time.perf_counter() - t0, 1e-5)
    k = agree(max(2, int(seconds / reps / one)))
    out = []
    for _ in range(reps):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(k):
            step()
        sync()
        out.append((time.perf_counter() - t0) / k)
        if cpu is not None:
            cpu.append((time.process_time() - c0) / k)
    return out


def _agree(bcast_object_list):
    def agree(k):
        box = [k]
        bcast_object_list(box, 0)
        return box[0]
    return agree


def _max_over_ranks(all_gather_object, size):
    def f(x):
        box = [None] * size
        all_gather_object(box, x)
        return max(box)
    return f


def worker_train(fw: str, threads: int, scaling: str, seconds: float, port: int, comm_hook: str = "none",
                 only: str | None = None, bucket_cap_mb: float = 25) -> None:
    rank, size = _rank_size()
    rng = np.random.default_rng(rank)
    res = {}
    if fw == "lamina":
        import lamina
        import lamina.distributed as dist
        from lamina import nn, optim
        from lamina.nn.parallel import DistributedDataParallel as DDP

        lamina.set_num_threads(threads)
        if size > 1:
            dist.init_process_group("mpi")
        sync = dist.barrier if size > 1 else (lambda: None)
        agree = _agree(dist.broadcast_object_list) if size > 1 else (lambda k: k)
        slowest = _max_over_ranks(dist.all_gather_object, size) if size > 1 else (lambda x: x)
        for name, (layers, shape, batch) in WORKLOADS.items():
            if only and only != name:
                continue
            b = batch // size if scaling == "strong" else batch
            lamina.manual_seed(0)
            model = build(nn, layers)
            if size > 1:
                model = DDP(model, bucket_cap_mb=bucket_cap_mb)
                if comm_hook != "none":
                    from lamina.distributed.algorithms.ddp_comm_hooks import (
                        default_hooks,
                    )
                    model.register_comm_hook(None, getattr(default_hooks, comm_hook + "_hook"))
            opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            x = lamina.from_numpy(rng.standard_normal((b,) + shape).astype(np.float32))
            y = lamina.from_numpy(rng.integers(0, 10, b))
            step = _step_fn(model, opt, nn.CrossEntropyLoss(), x, y)
            cpu = []
            ts = _time_steps(step, sync, seconds, 5, agree, cpu)
            res[name] = b * size / statistics.median(ts)
            res[name + " cpu"] = b * size / slowest(statistics.median(cpu))
    else:
        import torch
        import torch.distributed as tdist
        from torch import nn, optim

        torch.set_num_threads(threads)
        if size > 1:
            tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
        sync = tdist.barrier if size > 1 else (lambda: None)
        agree = _agree(tdist.broadcast_object_list) if size > 1 else (lambda k: k)
        slowest = _max_over_ranks(tdist.all_gather_object, size) if size > 1 else (lambda x: x)
        for name, (layers, shape, batch) in WORKLOADS.items():
            b = batch // size if scaling == "strong" else batch
            torch.manual_seed(0)
            model = build(nn, layers)
            if size > 1:
                model = nn.parallel.DistributedDataParallel(model)
            opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            x = torch.from_numpy(rng.standard_normal((b,) + shape).astype(np.float32))
            y = torch.from_numpy(rng.integers(0, 10, b))
            step = _step_fn(model, opt, nn.CrossEntropyLoss(), x, y)
            cpu = []
            ts = _time_steps(step, sync, seconds, 5, agree, cpu)
            res[name] = b * size / statistics.median(ts)
            res[name + " cpu"] = b * size / slowest(statistics.median(cpu))
        if size > 1:
            tdist.destroy_process_group()
    if rank == 0:
        print("RESULT " + json.dumps(res), flush=True)


class _DoneRequest:
    """A completed MPI request: DDP "without communication" (breakdown worker)."""

    def Test(self, *a):
        return True

    def Wait(self, *a):
        return None


BREAKDOWN_VARIANTS = {  # name -> what the breakdown worker builds
    "1 rank alone": "rank 0 trains while rank 1 sleeps",
    "2 independent": "both ranks train their own model, no DDP",
    "MPI no-comm": "DDP's MPI path, every allreduce replaced by a completed request",
    "DDP (MPI)": "DDP(shared_memory=False): bucketed MPI_Iallreduce",
    "shm no-comm": "the shared-memory path without its waits (hooks, scaling copies, posts and sums)",
    "DDP (shm)": "the default on one node: the shared-memory path",
    "shm chunked": "the shared-memory path as first built: chunked scheme, gradients copied in their hooks",
    "shm at once": "the shared-memory path with each gradient copied into the window in its hook",
    "shm view": "the shared-memory path, gradient_as_bucket_view=True",
    "shm view zeroed": "the shared-memory path, gradient_as_bucket_view=True, zero_grad(set_to_none=False)",
    "shm 1 buffer": "the shared-memory path with one buffer per segment instead of two used in turn "
                    "(backward's writes then go to lines the other rank read in the last sum) and private sums",
    "shm private sums": "the shared-memory path with the sums written into private memory (the whole scheme) "
                        "instead of reduced in place in the window with .grad viewing this rank's segment",
    "shm copied": "the shared-memory path with each gradient copied (scaled) into the window at the end of "
                  "backward instead of written there by its op (before the linear gradient destinations)",
}
DEFAULT_BREAKDOWN = ["1 rank alone", "2 independent", "MPI no-comm", "DDP (MPI)", "shm no-comm", "DDP (shm)"]


def worker_breakdown(rounds: int, steps: int, variants: list) -> None:
    """Where a 2-rank MLP b256 step goes, measured paired: one ``mpiexec -n 2`` job alternates
    windows of ``steps`` steps of each of ``variants`` (BREAKDOWN_VARIANTS; "1 rank alone" first,
    the reference); a round counts when every variant is within 15% of its own best (the machine
    is shared)."""
    import lamina
    import lamina.distributed as dist
    from lamina import nn, optim
    from lamina.nn.parallel import DistributedDataParallel as DDP

    class ChunkedDDP(DDP):
        _shm_whole, _shm_defer = False, False

    class AtOnceDDP(DDP):
        _shm_defer = False

    class OneBufferDDP(DDP):
        _shm_buffers = 1
        _shm_grads_in_window = False

    class PrivateSumsDDP(DDP):
        _shm_grads_in_window = False

    lamina.set_num_threads(1)
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    layers, shape, b = WORKLOADS["MLP b256"]
    rng = np.random.default_rng(rank)
    x = lamina.from_numpy(rng.standard_normal((b,) + shape).astype(np.float32))
    y = lamina.from_numpy(rng.integers(0, 10, b))
    loss_fn = nn.CrossEntropyLoss()

    def make(v):
        lamina.manual_seed(0)
        m = build(nn, layers)
        if v == "DDP (MPI)" or v == "MPI no-comm":
            m = DDP(m, shared_memory=False)
        elif v.startswith("shm") or v == "DDP (shm)":
            cls = {"shm chunked": ChunkedDDP, "shm at once": AtOnceDDP, "shm 1 buffer": OneBufferDDP,
                   "shm private sums": PrivateSumsDDP}.get(v, DDP)
            m = cls(m, gradient_as_bucket_view=v.startswith("shm view"))
            assert m._shm is not None, "the shared-memory path is off (LAMINA_DDP_SHM=0?)"
        if v == "shm no-comm":
            m._shm._wait = lambda *a: None  # the ranks never wait for each other; all else runs
        if v == "shm copied":
            m._shm_unset_dests()
        if v == "MPI no-comm":
            pg = m.process_group

            class Comm:
                def __getattr__(self, k):
                    return getattr(pg.comm, k)

                def Iallreduce(self, *a):
                    return _DoneRequest()

            m.process_group = type("FakeGroup", (), {"comm": Comm(), "MPI": pg.MPI, "size": pg.size,
                                                     "rank": pg.rank, "timeout": pg.timeout})()
        step = _step_fn(m, optim.SGD(m.parameters(), lr=0.01, momentum=0.9), loss_fn, x, y,
                        set_to_none=not v.endswith("zeroed"))
        for _ in range(20):
            step()
        return step

    variants = ["1 rank alone"] + [v for v in variants if v != "1 rank alone"]
    fns = {v: make(v) for v in variants if v != "1 rank alone"}
    fns["1 rank alone"] = fns.get("2 independent") or make("2 independent")
    res = {v: [] for v in variants}
    for _ in range(rounds):
        for v in variants:
            dist.barrier()
            if v == "1 rank alone" and rank == 1:
                time.sleep(1.3 * 2.3e-3 * steps)  # past rank 0's window, so as not to spin in the barrier meanwhile
                dist.barrier()
                continue
            t0 = time.perf_counter()
            for _ in range(steps):
                fns[v]()
            res[v].append((time.perf_counter() - t0) / steps)
            if v == "1 rank alone":
                dist.barrier()
    if rank != 0:
        return
    r = np.array([res[v] for v in variants])
    quiet = np.all(r <= 1.15 * r.min(axis=1, keepdims=True), axis=0)
    print(f"MLP b256, ms per step; {int(quiet.sum())} of {rounds} rounds quiet (every variant within 15% of its best); "
          f"load average {os.getloadavg()[0]:.2f}")
    if not quiet.any():
        print("  (no quiet round: medians of all rounds)")
        quiet[:] = True
    med = np.median(r[:, quiet], axis=1)
    ref2 = med[variants.index("2 independent")] if "2 independent" in variants else None
    for v, t in zip(variants, med):
        extra = "" if v == variants[0] else f"  +{(t - med[0]) * 1e6:4.0f} us  scaling {2 * med[0] / t:.2f}x"
        if ref2 is not None and v not in ("1 rank alone", "2 independent"):
            extra += f"  ({2 * ref2 / t:.2f}x vs 2 independent)"
        print(f"  {v:<15} {t * 1e3:.3f}{extra}")


def worker_allreduce(fw: str, port: int) -> None:
    rank, size = _rank_size()
    res = {}
    if fw == "lamina":
        import lamina
        import lamina.distributed as dist

        dist.init_process_group("mpi")
        pg = dist.get_default_group()
        for check in (True, False):
            pg.check_collectives = check
            for nbytes in SIZES:
                t = lamina.ones(nbytes // 4)
                ts = _time_steps(lambda t=t: dist.all_reduce(t), dist.barrier, 0.25, 3,
                                 _agree(dist.broadcast_object_list))
                res[f"{'checked' if check else 'raw'} {nbytes}"] = min(ts)
    else:
        import torch
        import torch.distributed as tdist

        torch.set_num_threads(1)
        tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
        for nbytes in SIZES:
            t = torch.ones(nbytes // 4)
            ts = _time_steps(lambda t=t: tdist.all_reduce(t), tdist.barrier, 0.25, 3,
                             _agree(tdist.broadcast_object_list))
            res[f"gloo {nbytes}"] = min(ts)
        tdist.destroy_process_group()
    if rank == 0:
        print("RESULT " + json.dumps(res), flush=True)


# ---------------------------------------------------------------------------------------------
# Driver

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mpiexec() -> str:
    p = Path(sys.executable).parent / "mpiexec"
    return str(p) if p.is_file() else (shutil.which("mpiexec") or "mpiexec")


def launch(procs: int, threads: int, args: list, timeout: float = 600) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one machine: gloo over loopback
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    if procs > 1:
        cmd = [_mpiexec(), "-n", str(procs)] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


CONFIGS = [  # (label, processes, threads, scaling)
    ("1 proc x 1 thr", 1, 1, "weak"),
    ("1 proc x 2 thr", 1, 2, "weak"),
    ("2 proc x 1 thr (weak)", 2, 1, "weak"),
    ("2 proc x 1 thr (strong)", 2, 1, "strong"),
]


def _fmt_bytes(n: int) -> str:
    return f"{n // 1024 ** 2} MB" if n >= 1024 ** 2 else f"{n // 1024} KB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=["train", "allreduce", "breakdown"],
                    help="breakdown: run as mpiexec -n 2 python bench/distributed.py --worker breakdown")
    ap.add_argument("--fw", choices=["lamina", "torch"], default="lamina")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--scaling", choices=["weak", "strong"], default="weak")
    ap.add_argument("--seconds", type=float, default=2.0, help="measured time per workload and configuration")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (the best round's median is shown)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--comm-hook", default="none", choices=["none", "allreduce", "fp16_compress", "bf16_compress"],
                    help="train worker, lamina: DDP communication hook from ddp_comm_hooks.default_hooks")
    ap.add_argument("--only", default=None, help="train worker: run only this workload (e.g. 'MLP b256')")
    ap.add_argument("--steps", type=int, default=100, help="breakdown worker: steps per window")
    ap.add_argument("--variants", default=",".join(DEFAULT_BREAKDOWN),
                    help="breakdown worker: comma-separated, from: " + ", ".join(BREAKDOWN_VARIANTS))
    ap.add_argument("--bucket-cap-mb", type=float, default=25, help="train worker, lamina: DDP bucket_cap_mb")
    a = ap.parse_args()
    if a.worker == "train":
        return worker_train(a.fw, a.threads, a.scaling, a.seconds, a.port, a.comm_hook, a.only, a.bucket_cap_mb)
    if a.worker == "allreduce":
        return worker_allreduce(a.fw, a.port)
    if a.worker == "breakdown":
        variants = [v.strip() for v in a.variants.split(",") if v.strip()]
        unknown = [v for v in variants if v not in BREAKDOWN_VARIANTS]
        if unknown:
            ap.error(f"--variants: unknown {unknown}; known: {list(BREAKDOWN_VARIANTS)}")
        return worker_breakdown(a.rounds, a.steps, variants)

    sys.path.insert(0, str(HERE))
    import lamina
    import torch
    from hostinfo import header_lines, host_info

    info = host_info(lamina, probe_seconds=0.2)
    from mpi4py import MPI

    print("\n".join(header_lines(info)))
    print(f"MPI: {MPI.Get_library_version().splitlines()[0].strip()} (mpi4py {__import__('mpi4py').__version__}); "
          f"torch {torch.__version__} (DistributedDataParallel, gloo)")
    print(f"OpenBLAS variables removed for this benchmark's processes: {os.environ.get(_MARKER)}")
    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} (2 cores; other jobs may share them)")

    samples = {}  # (fw, label, workload) -> [samples/s per round]
    for rnd in range(a.rounds):
        for label, procs, thr, scaling in CONFIGS:
            for fw in ("lamina", "torch"):
                args = ["--worker", "train", "--fw", fw, "--threads", str(thr), "--scaling", scaling,
                        "--seconds", str(a.seconds), "--port", str(_free_port())]
                res = launch(procs, thr, args)
                for w, v in res.items():
                    samples.setdefault((fw, label, w), []).append(v)
        print(f"  round {rnd + 1}/{a.rounds} done", file=sys.stderr, flush=True)

    best = {k: max(v) for k, v in samples.items()}
    print("\nTraining throughput, samples/s (global: all ranks), best of rounds of medians; "
          "weak = each rank runs the batch, strong = each rank runs batch / 2")
    head = f"{'workload':<15} {'configuration':<25} {'lamina':>9} {'torch':>9} {'lamina/torch':>12} " \
           f"{'lamina scaling':>15} {'torch scaling':>14}"
    print(head)
    print("-" * len(head))
    for w in WORKLOADS:
        base_l, base_t = best[("lamina", CONFIGS[0][0], w)], best[("torch", CONFIGS[0][0], w)]
        for label, *_ in CONFIGS:
            lv, tv = best[("lamina", label, w)], best[("torch", label, w)]
            print(f"{w:<15} {label:<25} {lv:9.0f} {tv:9.0f} {lv / tv:12.2f} {lv / base_l:14.2f}x {tv / base_t:13.2f}x")
    print("\nCPU-time estimate, samples/s = batch x ranks / the slowest rank's CPU time per step: what the "
          "configuration gives when each process has a core to itself (this VM's cores are shared with other "
          "jobs). 1 proc x 2 thr is left out: its CPU time adds both threads.")
    head = f"{'workload':<15} {'configuration':<25} {'lamina':>9} {'torch':>9} {'lamina scaling':>15} {'torch scaling':>14}"
    print(head)
    print("-" * len(head))
    for w in WORKLOADS:
        cl, ct = best[("lamina", CONFIGS[0][0], w + " cpu")], best[("torch", CONFIGS[0][0], w + " cpu")]
        for label, _, thr, _ in CONFIGS:
            if thr > 1:
                continue
            lv, tv = best[("lamina", label, w + " cpu")], best[("torch", label, w + " cpu")]
            print(f"{w:<15} {label:<25} {lv:9.0f} {tv:9.0f} {lv / cl:14.2f}x {tv / ct:13.2f}x")
    mlp = "MLP b256"
    s = best[("lamina", "2 proc x 1 thr (weak)", mlp)] / best[("lamina", "1 proc x 1 thr", mlp)]
    vs = best[("lamina", "2 proc x 1 thr (weak)", mlp)] / best[("torch", "2 proc x 1 thr (weak)", mlp)]
    print(f"\ntargets on {mlp} (wall clock): 2 proc x 1 thr / 1 proc x 1 thr = {s:.2f}x (target >= 1.8x: "
          f"{'met' if s >= 1.8 else 'NOT met'}); lamina / PyTorch DDP at 2 x 1 = {vs:.2f} (target >= 1: "
          f"{'met' if vs >= 1 else 'NOT met'})")
    sc = best[("lamina", "2 proc x 1 thr (weak)", mlp + " cpu")] / best[("lamina", "1 proc x 1 thr", mlp + " cpu")]
    vc = best[("lamina", "2 proc x 1 thr (weak)", mlp + " cpu")] / best[("torch", "2 proc x 1 thr (weak)", mlp + " cpu")]
    print(f"same on the CPU-time estimate: {sc:.2f}x (target >= 1.8x: {'met' if sc >= 1.8 else 'NOT met'}); "
          f"lamina / PyTorch DDP {vc:.2f} (target >= 1: {'met' if vc >= 1 else 'NOT met'})")

    ar_l = launch(2, 1, ["--worker", "allreduce", "--fw", "lamina"])
    ar_t = launch(2, 1, ["--worker", "allreduce", "--fw", "torch", "--port", str(_free_port())])
    print("\nallreduce, 2 processes, float32 sum (time: best of 3 medians; bandwidth = bytes / time; "
          "lamina checked = the default, which first exchanges dtype and shape; raw = check_collectives=False)")
    head = f"{'size':>7} {'lamina us':>10} {'raw us':>9} {'gloo us':>9} {'lamina GB/s':>12} {'raw GB/s':>9} {'gloo GB/s':>10}"
    print(head)
    print("-" * len(head))
    for n in SIZES:
        tl, tr, tg = ar_l[f"checked {n}"], ar_l[f"raw {n}"], ar_t[f"gloo {n}"]
        print(f"{_fmt_bytes(n):>7} {tl * 1e6:10.1f} {tr * 1e6:9.1f} {tg * 1e6:9.1f} {n / tl / 1e9:12.2f} "
              f"{n / tr / 1e9:9.2f} {n / tg / 1e9:10.2f}")
    load1 = os.getloadavg()
    print(f"\nload average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps({
            "host": {k: v for k, v in info.items() if k != "fma_peak"}, "load": [load0, load1],
            "samples_per_s": {" | ".join(k): v for k, v in samples.items()},
            "allreduce": {"lamina": ar_l, "torch": ar_t}}, indent=1))


if __name__ == "__main__":
    main()
