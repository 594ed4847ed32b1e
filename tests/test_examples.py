"""Every script in examples/ behaves like a command-line tool: ``--help`` prints usage with the
defaults and exits 0, an unknown option is a usage error (exit 2), ``--quick`` runs to the end
in a few seconds and writes nothing outside its ``--out`` folder, and a user mistake is one line
on stderr with a non-zero exit and no traceback. Examples that need ../shared/data, gymnasium,
matplotlib, tensorboardX or MPI skip cleanly without them; the MPI ones run under
``mpiexec -n 2`` with a timeout."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lamina
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
SHARED = ROOT.parent / "shared" / "data"
MPI = {"ddp_mnist.py", "pipeline_mlp.py"}
# example -> (what it needs to run, importable modules it needs)
NEEDS = {
    "char_lm.py": ([SHARED / "tinyshakespeare" / "input.txt"], ["tqdm"]),
    "dbn_mnist.py": ([SHARED / "mnist"], []),
    "sdae_mnist.py": ([SHARED / "mnist"], []),
    "finetune.py": ([SHARED / "mnist"], ["onnx", "onnxruntime"]),
    "dqn_cartpole.py": ([], ["gymnasium"]),
    "inside_training.py": ([], ["matplotlib", "tensorboardX"]),
    "vanishing_gradient.py": ([], ["matplotlib"]),
    "htm_anomaly.py": ([], []),
}
# example -> a binding of lamina._C it needs (a build without that part of the C++ skips it)
NEEDS_BINDING = {"htm_anomaly.py": "HtmSpatialPooler"}
# Examples owned elsewhere that do not take --debug yet (they do not use lamina.utils.scripts.run).
def _env() -> dict:
    e = dict(os.environ)
    src = str(Path(lamina.__file__).resolve().parents[1])   # the lamina under test
    e["PYTHONPATH"] = os.pathsep.join(p for p in [src, e.get("PYTHONPATH", "")] if p)
    return e


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}", ROOT / "examples" / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, "cli", None) or mod.main


def _help(name: str) -> str:
    entry = _load(name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as ex:
        entry(["--help"])
    assert ex.value.code == 0, f"{name} --help exited with {ex.value.code}"
    return out.getvalue()


def _skip_unless_available(name: str) -> None:
    paths, mods = NEEDS.get(name, ([], []))
    for p in paths:
        if not p.exists():
            pytest.skip(f"{name} needs {p}")
    for m in mods:
        pytest.importorskip(m)
    binding = NEEDS_BINDING.get(name)
    if binding and not hasattr(lamina._C, binding):
        pytest.skip(f"{name} needs lamina._C.{binding} (not in this build)")
    if name in MPI:
        pytest.importorskip("mpi4py")
        if _mpiexec() is None:
            pytest.skip("no mpiexec")


def _mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.is_file() else shutil.which("mpiexec")


@pytest.mark.parametrize("name", EXAMPLES)
def test_help_shows_usage_and_defaults(name):
    text = _help(name)
    assert text.startswith("usage:") and "--quick" in text, text[:300]
    assert "--debug" in text
    # every option with a value has help text; defaults other than None are shown
    if "--epochs" in text:
        assert "default:" in text
    entry = _load(name)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as ex:
        entry(["--no-such-option"])
    assert ex.value.code == 2 and "unrecognized arguments: --no-such-option" in err.getvalue()


@pytest.mark.parametrize("name", EXAMPLES)
def test_quick_run_writes_only_into_out(name, tmp_path):
    _skip_unless_available(name)
    has_out = "--out" in _help(name)
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    args = ["--quick"] + (["--out", str(out)] if has_out else [])
    cmd = [sys.executable, str(ROOT / "examples" / name), *args]
    if name in MPI:
        cmd = [_mpiexec(), "-n", "2", *cmd]
    env = _env()
    env.setdefault("OMP_NUM_THREADS", "1")
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as ex:
        pytest.fail(f"{name} --quick did not finish in 120 s\n{ex.stdout}\n{ex.stderr}")
    assert r.returncode == 0, f"{name} --quick exited with {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr
    assert not re.search(r"\bnan\b", r.stdout), f"{name} printed a nan summary:\n{r.stdout[-1500:]}"
    assert list(cwd.iterdir()) == [], f"{name} wrote into the current folder: {list(cwd.iterdir())}"
    if has_out:
        assert f"writing into {out}" in r.stdout, "the output folder is announced"


def _run(args, tmp_path):
    return subprocess.run([sys.executable, *map(str, args)], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, rc, message", [
    (["lenet_mnist.py", "--data", "/no/such/folder"], 2, "argument --data: no such folder: /no/such/folder"),
    (["mlp_digits.py", "--epochs", "0"], 2, "argument --epochs: expected an integer >= 1, got 0"),
    (["mlp_digits.py", "--lr", "-1"], 2, "argument --lr: expected a number > 0, got -1"),
    (["char_lm.py", "--data", "/no/such/corpus.txt"], 1,
     "char_lm.py: error: FileNotFoundError: corpus not found at /no/such/corpus.txt"),
])
def test_user_mistakes_are_one_line(args, rc, message, tmp_path):
    r = _run([ROOT / "examples" / args[0], *args[1:]], tmp_path)
    assert r.returncode == rc, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    if rc == 1:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        debug = _run([ROOT / "examples" / args[0], *args[1:], "--debug"], tmp_path)
        assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.parametrize("args, rc, message", [
    (["train", "lenet5", "--dataset", "mnist", "--data", "/no/such/folder"], 1,
     "lamina: error: FileNotFoundError: --data /no/such/folder: no such folder"),
    (["train", "lenet5", "--epochs", "0"], 2, "argument --epochs: expected an integer >= 1, got 0"),
    (["train", "lenet5", "--lr", "-1"], 2, "argument --lr: expected a number > 0, got -1"),
    (["train", "mlp", "--data", "/tmp"], 1, "--data is for --dataset mnist"),
    (["train", "mlp", "--dataset", "mnist"], 1, "--dataset mnist needs --data PATH"),
])
def test_cli_user_mistakes_are_one_line(args, rc, message, tmp_path):
    r = _run(["-m", "lamina", *args], tmp_path)
    assert r.returncode == rc, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    if rc == 1:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_help_shows_defaults_and_one_epoch_reads_right(tmp_path, capsys):
    from lamina.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["train", "--help"])
    assert ex.value.code == 0
    text = capsys.readouterr().out
    assert "(default: 20)" in text and "(default: digits)" in text and "(default: None)" not in text
    assert main(["train", "mlp", "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 epoch," in out and "after 1 epoch in" in out and "1 epochs" not in out


def _figures():
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "tools" / "readme_figures.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_readme_figures_reads_a_real_run_and_updates_marked_tables(tmp_path):
    fig = _figures()
    where = fig.machine(1)
    assert "1 thread(s)" in where and "UTC" in where and fig.cpu_model() in where
    # the CLI row's patterns against a real (short) run
    base = fig.TABLES["cli"][1][1]
    row = fig.Row("mlp", base.argv[:-2] + ["2", "--quiet"], base.accuracy, base.seconds)
    assert row.argv[-3:] == ["--epochs", "2", "--quiet"]
    acc, secs = fig.run_row(row, threads=1, timeout=120)
    assert acc.endswith("%") and 50 < float(acc[:-1]) <= 100 and secs.endswith(" s")
    assert fig.run_row(fig.Row("x", [sys.executable, "-c", "print('test accuracy 0.5')"], r"accuracy ([\d.]+)",
                               needs=tmp_path / "absent"), 1, 10) == ("skipped (no data)", "")
    doc = tmp_path / "README.md"
    doc.write_text("intro\n<!-- figures:cli -->\nold table\n<!-- /figures:cli -->\nrest\n")
    assert fig.update(doc, "cli", "| new |") and not fig.update(doc, "pretraining", "x")
    assert doc.read_text() == "intro\n<!-- figures:cli -->\n| new |\n<!-- /figures:cli -->\nrest\n"
    # every row of every table names a command that exists
    for _, rows in fig.TABLES.values():
        for r in rows:
            assert r.argv[1] == "-m" or (ROOT / r.argv[1]).is_file(), r.argv
