"""How much lamina.train.TensorBoard slows training: LeNet-5 on the bundled digits (1,500 training
images, batch 32, 47 batches an epoch, 297 validation images), fit with and without the callback.

    python bench/tensorboard_overhead.py [--repeats 5] [--epochs 3] [--threads 1]

Configurations run interleaved after a warm-up; each fit's process CPU time and wall time are
divided by its epochs, and the medians over the repeats are printed with the overhead against no
callback. The callback's one-off costs (opening the writer, the ONNX graph) fall in on_train_begin
and are counted too, spread over the epochs of the run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time

import lamina
import numpy as np
from lamina import nn
from lamina.data.datasets.digits import load_digits
from lamina.models.lenet import LeNet5

CONFIGS = {
    "no callback": None,
    "TensorBoard scalars only": {"histogram_freq": 0, "write_images": False, "write_graph": False},
    "TensorBoard default (histograms, images, graph)": {},
    "default + batch scalars (update_freq=1)": {"update_freq": 1},
}


def run(cfg, data, epochs: int, log_root: str) -> tuple:
    (xt, yt), (xv, yv) = data
    lamina.manual_seed(0)
    model = LeNet5(input_size=8)
    opt = lamina.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    cbs = [] if cfg is None else [lamina.train.TensorBoard(tempfile.mkdtemp(dir=log_root), **cfg)]
    c0, w0 = time.process_time(), time.perf_counter()
    lamina.train.fit(model, nn.CrossEntropyLoss(), opt, (xt, yt), val_data=(xv, yv), epochs=epochs, batch_size=32,
                     callbacks=cbs, progress=False)
    return (time.process_time() - c0) / epochs, (time.perf_counter() - w0) / epochs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    lamina.set_num_threads(a.threads)
    x, y = load_digits()
    x = (x.astype(np.float32) / 16.0)[:, None]
    data = ((x[:1500], y[:1500]), (x[1500:], y[1500:]))
    root = tempfile.mkdtemp()
    try:
        for cfg in CONFIGS.values():  # warm-up: imports, allocator, first tensorboardX writer
            run(cfg, data, 1, root)
        res = {k: ([], []) for k in CONFIGS}
        for _ in range(a.repeats):
            for k, cfg in CONFIGS.items():
                c, w = run(cfg, data, a.epochs, root)
                res[k][0].append(c)
                res[k][1].append(w)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = statistics.median(res["no callback"][0])
    print(f"LeNet-5, digits 8x8, {a.epochs} epochs per fit, {a.repeats} repeats, {a.threads} thread(s), "
          f"CPU level {lamina.backends.cpu.get_cpu_capability()}")
    print(f"{'configuration':<50} {'CPU s/epoch':>11} {'wall s/epoch':>12} {'CPU overhead':>12}")
    out = {}
    for k, (cs, ws) in res.items():
        c, w = statistics.median(cs), statistics.median(ws)
        out[k] = {"cpu_s_per_epoch": c, "wall_s_per_epoch": w, "cpu_overhead": c / base - 1}
        print(f"{k:<50} {c:>11.4f} {w:>12.4f} {100 * (c / base - 1):>+11.1f}%")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
