"""lamina.distributed under ``mpiexec -n 2`` and ``-n 3`` (tests/distributed/workers/*.py, each
run in a subprocess with a timeout): collectives against NumPy, DDP equal to single-process
training, the pipeline equal to the unsplit model, fit with DDP (one checkpoint writer, resume
on another number of ranks), and faults ending the job with the failing rank's message."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest


def test_import_lamina_does_not_load_mpi():
    code = ("import sys, lamina, lamina.distributed, lamina.nn.parallel; "
            "print('mpi4py' in sys.modules, lamina.distributed.is_initialized())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_collectives_match_numpy(mpirun, n):
    r = mpirun(n, "collectives.py", timeout=90)
    for k in range(n):
        assert f"rank {k}: collectives ok" in r.stdout
    if n > 1:
        assert f"MSG1 all_reduce: tensors differ across ranks: float64 [4, 3] on rank{'s' if n > 2 else ''} 0" in r.stdout
        assert f"float64 [4, 4] on rank {n - 1}" in r.stdout


@pytest.mark.parametrize("n,mode", [(2, "shm"), (3, "shm"), (2, "buckets"), (3, "buckets"), (2, "direct"),
                                    (3, "direct")])
def test_ddp_equals_single_process(mpirun, n, mode):
    # mode "shm": the default on one node, the shared-memory reducer; the others use MPI
    # (LAMINA_DDP_SHM=0): "direct": every gradient is its own bucket, reduced in place in .grad
    # (the path large layers take); "buckets": the tiny test models' gradients share buckets
    env = None if mode == "shm" else {"LAMINA_DDP_SHM": "0"}
    r = mpirun(n, "ddp_equal.py", mode, timeout=120, env=env)
    for kind in ("mlp", "lstm", "cnn"):
        assert f"rank 0: {kind} DDP == single process" in r.stdout
    for k in range(n):
        assert f"rank {k}: static_graph ok" in r.stdout
        assert f"rank {k}: ddp ok" in r.stdout


@pytest.mark.parametrize("n", [2, 3])
def test_ddp_shared_memory_reducer_matches_mpi(mpirun, n):
    r = mpirun(n, "ddp_shm.py", timeout=120)
    for k in range(n):
        for what in ("shm == MPI", "schemes agree", "views ok", "no_sync ok", "fallbacks ok"):
            assert f"rank {k}: {what}" in r.stdout, r.stdout


@pytest.mark.parametrize("n", [2, 3])
def test_pipeline_equals_unsplit_model(mpirun, n):
    r = mpirun(n, "pipeline.py", timeout=90)
    for k in range(n):
        assert f"rank {k}: pipeline ok" in r.stdout


def _hist(tmp_path, mode, n):
    return json.loads((tmp_path / f"hist-{mode}-{n}.json").read_text())


def test_fit_with_ddp_checkpoints_on_rank0_and_resumes(mpirun, tmp_path):
    mpirun(2, "fit_ddp.py", "full", 3, timeout=90)
    full = _hist(tmp_path, "full", 2)
    assert full["epoch"] == [0, 1, 2] and full["writes"] == [3, 0]  # rank 0 writes, rank 1 never
    (tmp_path / "ckpt.lam").unlink()
    mpirun(2, "fit_ddp.py", "part", 2, timeout=90)
    assert sorted(p.name for p in tmp_path.glob("ckpt*")) == ["ckpt.lam"]  # one file, no temp leftovers
    assert len((tmp_path / "log-part.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    mpirun(2, "fit_ddp.py", "resume", 3, timeout=90)
    res = _hist(tmp_path, "resume", 2)
    assert res["epoch"] == [0, 1, 2] and res["writes"] == [1, 0]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert res["history"][key] == pytest.approx(full["history"][key], rel=1e-9, abs=1e-12), key
    mpirun(3, "fit_ddp.py", "resume", 4, timeout=90)  # resume on another number of ranks
    res3 = _hist(tmp_path, "resume", 3)
    assert res3["epoch"] == [0, 1, 2, 3] and res3["writes"] == [1, 0, 0]
    assert res3["history"]["loss"][:3] == pytest.approx(full["history"]["loss"])


def test_fit_early_stopping_is_the_same_on_every_rank(mpirun, tmp_path):
    r = mpirun(3, "fit_ddp.py", "early", 5, timeout=90)
    assert _hist(tmp_path, "early", 3)["epoch"] == [0, 1]
    for k in range(3):
        assert f"rank {k}: fit early ok, epochs [0, 1]" in r.stdout


@pytest.mark.parametrize("mode,n,needle", [
    ("raise", 2, "ValueError: rank 1 failed on purpose"),
    ("raise", 3, "ValueError: rank 2 failed on purpose"),
    ("timeout", 2, "all_reduce (argument check) on rank 0 of 2 timed out after 2 s"),
    ("mismatch", 3, ("all_reduce: tensors differ across ranks: float32 [2, 2] on rank 0; float32 [2, 3] on rank 1; "
                     "float32 [2, 4] on rank 2")),
    ("ddp", 2, ("ranks built different models: 0.weight is float32 [8, 4] on rank 0 but 0.weight is float32 [6, 4] "
                "on rank 1")),
    ("ddp_raise", 2, "ValueError: rank 1 failed in backward on purpose"),
    ("ddp_raise", 3, "ValueError: rank 2 failed in backward on purpose"),
    ("ddp_hang", 2, ("shared-memory gradient reduction (waiting for the other ranks' gradients) on rank 0 of 2 "
                     "timed out after 2 s waiting for rank(s) [1]")),
])
def test_a_failing_rank_ends_the_job_with_its_message(mpirun, mode, n, needle):
    t0 = time.monotonic()
    r = mpirun(n, "fault.py", mode, timeout=40, check=False)
    took = time.monotonic() - t0
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert needle in out, out
    assert "MPI_Abort" in out and "not reached" not in out
    assert took < 30, f"the job took {took:.1f} s to end"
