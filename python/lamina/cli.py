"""The ``lamina`` command line (also ``python -m lamina``)."""
from __future__ import annotations

import argparse
import sys
import time


def _demo(args) -> int:
    import lamina

    lamina.manual_seed(0)
    if args.threads:
        lamina.set_num_threads(args.threads)
    print(f"lamina {lamina.__version__}: OpenBLAS kernel {lamina.blas_info()['corename']}, "
          f"{lamina.get_num_threads()} thread(s)")
    for n in (256, 512, 1024):
        a, b = lamina.randn(n, n), lamina.randn(n, n)
        a @ b  # warm-up
        reps, best = 5, float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
        print(f"  sgemm {n:5d}^2: {2 * n ** 3 / best / 1e9:8.1f} GFLOP/s")
    return 0


def main(argv=None) -> int:
    """Entry point: ``lamina demo``."""
    p = argparse.ArgumentParser(prog="lamina", description="lamina command line")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="multiply matrices and print GFLOP/s")
    d.add_argument("--threads", type=int, default=0)
    d.set_defaults(func=_demo)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
