"""Print lamina's ONNX node-conformance coverage: for every op the onnx package has node test
cases for, the opsets those cases use and how many pass through lamina.onnx.backend, then the
pass rate over the core deep-learning ops (issue 15's list). Markdown; `--failures` lists why.

    PYTHONPATH=python python tools/onnx_coverage.py [--failures] [--core-only]
"""
from __future__ import annotations

import argparse
import collections
import time
import warnings

from lamina.onnx import backend as B

CORE = B.CORE_OPS

def run_all():
    warnings.filterwarnings("ignore")
    cases = B.node_test_cases()
    ops = B.case_op_types(cases)
    rows = collections.defaultdict(lambda: {"opsets": set(), "cases": []})
    for c in cases:
        r = rows[ops[c.name]]
        r["opsets"].update(i.version for i in c.model.opset_import if i.domain in ("", "ai.onnx"))
        try:
            B.check_case(c)
            r["cases"].append((c.name, None))
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            r["cases"].append((c.name, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--failures", action="store_true", help="list each failing case and its error")
    ap.add_argument("--core-only", action="store_true", help="only the core deep-learning ops")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = run_all()
    secs = time.perf_counter() - t0
    family = {op: fam for fam, ops in CORE.items() for op in ops}
    print("| op | family | opsets | passing / cases |")
    print("| --- | --- | --- | --- |")
    for op in sorted(rows, key=lambda o: (family.get(o, "~other"), o)):
        if args.core_only and op not in family:
            continue
        r = rows[op]
        ok = sum(err is None for _, err in r["cases"])
        ops = ", ".join(str(v) for v in sorted(r["opsets"]))
        print(f"| {op} | {family.get(op, 'other')} | {ops} | {ok} / {len(r['cases'])} |")
    core = [e for op, r in rows.items() if op in family for _, e in r["cases"]]
    every = [e for r in rows.values() for _, e in r["cases"]]
    print()
    print(f"core ops: {sum(e is None for e in core)} / {len(core)} node cases pass "
          f"({100.0 * sum(e is None for e in core) / len(core):.1f}%); all ops: "
          f"{sum(e is None for e in every)} / {len(every)}; {secs:.1f} s")
    if args.failures:
        for op in sorted(rows):
            if args.core_only and op not in family:
                continue
            for name, err in rows[op]["cases"]:
                if err is not None:
                    print(f"{op}\t{name}\t{err}")


if __name__ == "__main__":
    main()
