#!/usr/bin/env bash
# CI: build the C++ microbenchmarks (LAMINA_BENCH=ON, bench/) against one CPU variant and run every
# case once, briefly: each case checks a sample of its output against a double-precision reference,
# and lamina_bench exits 1 on a mismatch. Timings from this run mean nothing (1 rep, no warm-up);
# the point is that the benchmark still builds against the current C++ API and computes right.
# Run from the repo root with the CI venv active; called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python}
bdir=build/cpp-bench

# What a non-isolated CMake configure needs (the wheel build's isolated env is gone by now).
"$py" -m pip install -q "pybind11>=2.12" "scipy-openblas32>=0.3.28" cmake ninja

start=$(date +%s)
cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAMINA_BENCH=ON \
  -DLAMINA_CPU_VARIANTS="${LAMINA_CPU_VARIANTS:-default}" \
  -DPython_EXECUTABLE="$(command -v "$py")" \
  -Dpybind11_DIR="$("$py" -c 'import pybind11; print(pybind11.get_cmake_dir())')" >/dev/null
cmake --build "$bdir" --target lamina_bench -- -j"${JOBS:-$(nproc)}"
echo "== C++ benchmark built in $(( $(date +%s) - start )) s =="
"$bdir"/bench/lamina_bench --reps 1 --warmup 0 --min-time 0 --no-2048 --probe-seconds 0.05 \
  --json "$bdir/cpp_bench.json"
