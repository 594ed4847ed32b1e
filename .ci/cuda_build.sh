#!/usr/bin/env bash
# CI: compile and link the CUDA build (LAMINA_CUDA=ON) into build/cuda, then check that the module
# imports and reports itself built with CUDA. One CPU variant (lamina._C_default) keeps this quick:
# the CUDA objects are compiled once and linked into every variant alike (cmake/cuda.cmake), so a
# full build (all three, as `pip install . -Ccmake.define.LAMINA_CUDA=ON` makes) differs only in
# repeating the CPU compile. Run from the repo root with the CI venv active;
# called by .ci/run when nvcc is on the PATH. No GPU is needed (nor used, unless one is present).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python}
bdir=build/cuda

# cuBLAS comes from the nvidia-cublas wheel (nvidia/cu13); the rest is what a non-isolated build needs.
"$py" -m pip install -q "nvidia-cublas>=13,<14" "pybind11>=2.12" "scipy-openblas32>=0.3.28" cmake ninja

start=$(date +%s)
cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAMINA_CUDA=ON -DLAMINA_CPU_VARIANTS="${LAMINA_CPU_VARIANTS:-default}" \
  -DPython_EXECUTABLE="$(command -v "$py")" \
  -Dpybind11_DIR="$("$py" -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
  ${CMAKE_ARGS:-}
cmake --build "$bdir" --target _C -- -j"${JOBS:-$(nproc)}"
echo "== CUDA build: compiled and linked in $(( $(date +%s) - start )) s =="

# The static CUDA runtime must be linked in (no libcudart.so dependency), cuBLAS dynamically.
for so in "$bdir"/_C_*.so; do
  if readelf -d "$so" | grep -q 'libcudart\.so'; then
    echo "error: $so depends on the shared CUDA runtime; expected cudart_static" >&2
    exit 1
  fi
  readelf -d "$so" | grep -q 'libcublas\.so\.13' || { echo "error: $so is not linked to libcublas.so.13" >&2; exit 1; }
done

LAMINA_EXT_DIR="$bdir" PYTHONPATH=python "$py" - <<'PY'
import lamina

import os
assert os.path.abspath(lamina._C.__file__).startswith(os.path.abspath("build/cuda")), lamina._C.__file__
assert lamina.cuda.is_built() is True, "the CUDA build does not report is_built()"
if lamina.cuda.is_available():
    print(f"note: {lamina.cuda.device_count()} CUDA device(s) present; the GPU tests will run")
else:
    assert lamina.cuda.device_count() == 0
    try:
        lamina.zeros(2).to("cuda")
    except RuntimeError as e:
        assert "no CUDA device" in str(e), e
    else:
        raise AssertionError("to('cuda') without a device did not raise")
print("CUDA build imports: is_built=True, is_available=%s" % lamina.cuda.is_available())
PY
LAMINA_EXT_DIR="$bdir" PYTHONPATH=python "$py" -m pytest -q tests/test_cuda.py
