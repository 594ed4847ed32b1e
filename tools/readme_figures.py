"""Regenerates the README's timing and accuracy tables: runs each command, reads the accuracy and
training time it prints, and writes Markdown tables headed by where they were measured (CPU
model, lamina's kernel level, thread count, date, load average).

    python tools/readme_figures.py                      # every table, printed
    python tools/readme_figures.py --table cli          # one table
    python tools/readme_figures.py --update README.md   # also rewrite the tables between the
                                                        # <!-- figures:NAME --> ... <!-- /figures:NAME --> markers
    python tools/readme_figures.py --threads 1 --dry-run

Wall times depend on the machine and on what else runs on it (see the load average in the
header); accuracies are fixed by the seeds for a given thread count (float sums are ordered by
thread, so another thread count can move the last digit).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MNIST = DATA / "mnist"


@dataclass
class Row:
    """One table row: the command (run from the repository root) and the regular expressions
    that find the accuracy (a fraction or a percentage) and the training time in its output."""
    label: str
    argv: list
    accuracy: str
    seconds: str | None = None
    needs: Path | None = None


def _cli(*args) -> list:
    return [sys.executable, "-m", "lamina", *args]


def _ex(name, *args) -> list:
    return [sys.executable, f"examples/{name}", *args]


_SDAE = ["--data", str(MNIST), "--out", "/tmp/readme_figures_sdae"]
_RELU = ["--sizes", "784,500,250", "--activation", "relu", "--corruption-level", "0.2", "--pretrain-epochs", "3",
         "--dropout", "0.2", "--optimizer", "adam", "--lr", "2e-3", "--epochs", "20"]
_DEFAULTS = ["--sizes", "784,500,250", "--corruption-level", "0.3", "--pretrain-epochs", "3", "--optimizer", "adam",
             "--lr", "2e-3", "--epochs", "20", "--no-augment"]

TABLES: dict[str, tuple[str, list[Row]]] = {
    "cli": ("run", [
        Row("`lamina train lenet5 --dataset digits --epochs 20`",
            _cli("train", "lenet5", "--dataset", "digits", "--epochs", "20", "--quiet"),
            r"test accuracy ([\d.]+)%", r"epochs? in ([\d.]+) s"),
        Row("`lamina train mlp --dataset digits --epochs 20`",
            _cli("train", "mlp", "--dataset", "digits", "--epochs", "20", "--quiet"),
            r"test accuracy ([\d.]+)%", r"epochs? in ([\d.]+) s"),
        Row("`lamina train lenet5 --dataset mnist --data ../shared/data/mnist --epochs 12` "
            "(8,000 / 2,000 split of the 10k set)",
            _cli("train", "lenet5", "--dataset", "mnist", "--data", str(MNIST), "--epochs", "12", "--quiet"),
            r"test accuracy ([\d.]+)%", r"epochs? in ([\d.]+) s", MNIST),
    ]),
    "pretraining": ("run (MNIST 8,000 / 2,000 from `../shared/data/mnist`)", [
        Row("`python examples/dbn_mnist.py` (784-500-500-10 sigmoid, 10 CD-1 epochs per layer, then 40 "
            "SGD epochs, lr 0.1, momentum 0.9, dropout 0.5)",
            _ex("dbn_mnist.py", "--data", str(MNIST)), r"test accuracy ([\d.]+)", r"total ([\d.]+) s", MNIST),
        Row("the same network and fine-tuning from random weights (`--no-pretrain`)",
            _ex("dbn_mnist.py", "--data", str(MNIST), "--no-pretrain"), r"test accuracy ([\d.]+)",
            r"total ([\d.]+) s", MNIST),
        Row("`python examples/sdae_mnist.py` (784-1000-1000-10 sigmoid, masking noise 0.25, 10 Adam pretraining "
            "epochs per layer (lr 1e-3) on the 8,000 training images only, then 30 SGD epochs (lr 0.1, momentum "
            "0.9, cosine schedule), no dropout, random 2-pixel shifts, 1 loader worker; seed 0)",
            _ex("sdae_mnist.py", *_SDAE), r"test accuracy ([\d.]+)", r"total time ([\d.]+) s", MNIST),
        Row("the same network and fine-tuning from random weights (`--no-pretrain`)",
            _ex("sdae_mnist.py", *_SDAE, "--no-pretrain"), r"test accuracy ([\d.]+)", r"total time ([\d.]+) s",
            MNIST),
        Row("the same recipe, seed 1 (`--seed 1`)",
            _ex("sdae_mnist.py", *_SDAE, "--seed", "1"), r"test accuracy ([\d.]+)", r"total time ([\d.]+) s", MNIST),
        Row("the same, from random weights (`--seed 1 --no-pretrain`)",
            _ex("sdae_mnist.py", *_SDAE, "--seed", "1", "--no-pretrain"), r"test accuracy ([\d.]+)",
            r"total time ([\d.]+) s", MNIST),
        Row("the former ReLU recipe: 784-500-250-10 ReLU, masking 0.2, 3 Adam pretraining epochs per layer, "
            "then 20 Adam epochs (lr 2e-3, cosine), dropout 0.2, random 2-pixel shifts (`" + " ".join(_RELU) + "`)",
            _ex("sdae_mnist.py", *_SDAE, *_RELU), r"test accuracy ([\d.]+)", r"total time ([\d.]+) s", MNIST),
        Row("the same network and fine-tuning from random weights (`... --no-pretrain`)",
            _ex("sdae_mnist.py", *_SDAE, *_RELU, "--no-pretrain"), r"test accuracy ([\d.]+)",
            r"total time ([\d.]+) s", MNIST),
        Row("`StackedDenoisingAutoencoder`'s defaults (784-500-250, sigmoid, no dropout, masking 0.3) with 3 Adam "
            "pretraining epochs per layer, then 20 Adam epochs (lr 2e-3, cosine), no augmentation (`"
            + " ".join(_DEFAULTS) + "`)",
            _ex("sdae_mnist.py", *_SDAE, *_DEFAULTS), r"test accuracy ([\d.]+)", r"total time ([\d.]+) s", MNIST),
        Row("the same, from random weights (`... --no-pretrain`)",
            _ex("sdae_mnist.py", *_SDAE, *_DEFAULTS, "--no-pretrain"), r"test accuracy ([\d.]+)",
            r"total time ([\d.]+) s", MNIST),
    ]),
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads: int) -> str:
    """One line saying where the figures were measured."""
    code = "import lamina; print(lamina.backends.cpu.get_cpu_capability(), lamina.blas_info()['corename'])"
    # check=False: a failed probe prints "?" in the line rather than stopping the figures
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=_env(threads), check=False)
    cap = out.stdout.strip() or "?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu_model()}, {os.cpu_count()} logical CPUs, lamina kernels/OpenBLAS core: {cap}, "
            f"{threads} thread(s), load average {load:.1f} at the start, "
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")


def _env(threads: int) -> dict:
    e = dict(os.environ)
    e["OMP_NUM_THREADS"] = str(threads)
    # The lamina this process would import (an installed wheel, or the source tree on PYTHONPATH);
    # the source tree only when none is importable, since python/ alone has no compiled core.
    spec = importlib.util.find_spec("lamina")
    src = str(Path(spec.origin).resolve().parents[1]) if spec and spec.origin else str(ROOT / "python")
    e["PYTHONPATH"] = os.pathsep.join(p for p in [src, e.get("PYTHONPATH", "")] if p)
    return e


def run_row(row: Row, threads: int, timeout: float) -> tuple[str, str]:
    """(accuracy, seconds) as table cells; "skipped" / "failed" when the row could not run."""
    if row.needs is not None and not row.needs.exists():
        return "skipped (no data)", ""
    t0 = time.perf_counter()
    r = subprocess.run(row.argv, capture_output=True, text=True, cwd=ROOT, env=_env(threads), timeout=timeout,
                       check=False)  # a failing row is reported as "failed" in its cell
    wall = time.perf_counter() - t0
    text = r.stdout + r.stderr
    acc = re.findall(row.accuracy, text)
    if r.returncode != 0 or not acc:
        sys.stderr.write(f"{' '.join(map(str, row.argv))} failed ({r.returncode}):\n{text[-2000:]}\n")
        return "failed", ""
    a = float(acc[-1])
    cell = f"{a:.2f}%" if a > 1 else f"{100 * a:.2f}%"
    secs = re.findall(row.seconds, text) if row.seconds else []
    return cell, f"{float(secs[-1]) if secs else wall:.1f} s"


def table(name: str, threads: int, timeout: float, dry_run: bool) -> str:
    head, rows = TABLES[name]
    lines = [f"| {head} | test accuracy | time |", "| --- | --- | --- |"]
    for row in rows:
        if dry_run:
            print("would run:", " ".join(map(str, row.argv)))
            cells = ("", "")
        else:
            cells = run_row(row, threads, timeout)
            print(f"  {cells[0]:>10} {cells[1]:>8}  {row.label[:90]}", flush=True)
        lines.append(f"| {row.label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def update(path: Path, name: str, text: str) -> bool:
    """Replaces what lies between ``<!-- figures:name -->`` and ``<!-- /figures:name -->``."""
    src = path.read_text()
    pat = re.compile(rf"(<!-- figures:{name} -->\n)(.*?)(<!-- /figures:{name} -->)", re.DOTALL)
    if not pat.search(src):
        return False
    path.write_text(pat.sub(lambda m: m.group(1) + text + "\n" + m.group(3), src, count=1))
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", choices=sorted(TABLES), action="append", help="only these tables (default: all)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS for every run (default: 2)")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per run (default: 900)")
    p.add_argument("--update", type=Path, default=None, help="rewrite the marked tables in this file")
    p.add_argument("--dry-run", action="store_true", help="print the machine line and the commands only")
    args = p.parse_args(argv)
    where = machine(args.threads)
    print(f"measured on: {where}", flush=True)
    for name in args.table or list(TABLES):
        print(f"table {name}:", flush=True)
        md = f"Measured on {where} (`python tools/readme_figures.py --table {name}`):\n\n" + \
            table(name, args.threads, args.timeout, args.dry_run)
        print(md)
        if args.update and not args.dry_run:
            ok = update(args.update, name, md)
            print(f"{'updated' if ok else 'no <!-- figures:' + name + ' --> markers in'} {args.update}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
