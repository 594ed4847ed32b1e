"""Inference latency of LeNet-5, the MLP and an LSTM classifier at batch 1 and 64, in one run:
lamina eager (no_grad), the lamina.jit.trace graph re-run, and onnxruntime on the model
lamina.onnx.export wrote, all on 1 thread (lamina.set_num_threads(1); onnxruntime with
intra/inter-op threads 1). Each configuration is checked once against eager lamina, then the
three are timed interleaved (warm-up, then rounds of one call each) with CPU time
(time.process_time, since the machine is shared) and the median per call is reported.

    LAMINA_EXT_DIR=build/ext-snap PYTHONPATH=python .venv/bin/python bench/onnx_inference.py
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lamina  # noqa: E402
import lamina.nn as nn  # noqa: E402
import lamina.onnx  # noqa: E402
from lamina import jit  # noqa: E402
from lamina.models import MLP, LeNet5  # noqa: E402
from lamina.onnx.export_impl import DEFAULT_OPSET  # noqa: E402


class LSTMClassifier(nn.Module):
    """Rows of a 28x28 image as a 28-step sequence -> LSTM(28, 128) -> Linear(128, 10) on the
    last step (the classic sequential-MNIST classifier)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(28, 128, batch_first=True)
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


MODELS = {
    "LeNet-5": (lambda: LeNet5(), (1, 28, 28)),
    "MLP 784-256-128-10": (lambda: MLP([784, 256, 128, 10]), (784,)),
    "LSTM classifier 28x28->128": (lambda: LSTMClassifier(), (28, 28)),
}


def _cpu_time(fn, rounds: int, warmup: int):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="1,64", help="batch sizes (default 1,64)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds of CPU time per configuration and batch")
    ap.add_argument("--json", default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    import onnxruntime as ort

    import hostinfo
    lamina.set_num_threads(1)
    info = hostinfo.host_info(lamina, probe_seconds=0.1)
    for line in hostinfo.header_lines(info):
        print(line)
    print(f"onnxruntime {ort.__version__}, onnx opset {DEFAULT_OPSET}; 1 thread everywhere; "
          "CPU time (process_time) medians per call, interleaved rounds")
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL

    rows = []
    batches = [int(b) for b in args.batches.split(",")]
    for name, (build, shape) in MODELS.items():
        lamina.manual_seed(0)
        model = build().eval()
        buf = io.BytesIO()
        lamina.onnx.export(model, lamina.randn(2, *shape), buf)
        sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
        graph = jit.trace(model, lamina.randn(2, *shape))
        for b in batches:
            x = lamina.randn(b, *shape)
            xn = x.numpy()
            with lamina.no_grad():
                ref = model(x).numpy()
            got_g = graph.run_no_grad(x).numpy()
            got_o = sess.run(None, {"input": xn})[0]
            err = max(float(np.abs(got_g - ref).max()), float(np.abs(got_o - ref).max())) / max(
                float(np.abs(ref).max()), 1e-3)

            def eager():
                with lamina.no_grad():
                    model(x)

            fns = {"eager": eager, "graph": lambda: graph.run_no_grad(x), "ort": lambda: sess.run(None, {"input": xn})}
            # calibrate: rounds so that each configuration gets about min_time of CPU time
            per = max(statistics.median(_cpu_time(f, 5, 2)) for f in fns.values())
            rounds = int(min(max(args.min_time / max(per, 1e-6), 20), 5000))
            times = {k: [] for k in fns}
            for _ in range(3):  # warm-up
                for f in fns.values():
                    f()
            for _ in range(rounds):
                for k, f in fns.items():
                    t0 = time.process_time()
                    f()
                    times[k].append(time.process_time() - t0)
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            rows.append(dict(model=name, batch=b, eager_ms=med["eager"], graph_ms=med["graph"], ort_ms=med["ort"],
                             eager_vs_ort=med["eager"] / med["ort"], graph_vs_ort=med["graph"] / med["ort"],
                             rounds=rounds, max_rel_err=err))
            print(f"  {name} b{b}: {rounds} rounds", flush=True)

    print()
    hdr = f"{'model':28s} {'batch':>5s} {'eager ms':>9s} {'graph ms':>9s} {'ORT ms':>9s} {'eager/ORT':>9s} " \
          f"{'graph/ORT':>9s} {'max err':>8s}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['model']:28s} {r['batch']:5d} {r['eager_ms']:9.4f} {r['graph_ms']:9.4f} {r['ort_ms']:9.4f} "
              f"{r['eager_vs_ort']:9.2f} {r['graph_vs_ort']:9.2f} {r['max_rel_err']:8.1e}")
    print("(ratios: lamina / onnxruntime, below 1 is faster; max err: |ORT or graph - eager| / max |eager|)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(host=info.get("cpu_model", ""), rows=rows), f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
