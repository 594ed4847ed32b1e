#!/usr/bin/env bash
# Incremental development build into build/dev-$NAME (default: main) without reinstalling:
#   tools/dev.sh [NAME]   then   LAMINA_EXT_DIR=build/dev-NAME PYTHONPATH=python pytest ...
# Uses the project's .venv (numpy, scipy-openblas32, pybind11, cmake, ninja must be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-main}
py=${PYTHON:-.venv/bin/python}
bdir=build/dev-$name
if [ ! -f "$bdir/build.ninja" ]; then
  cmake -S . -B "$bdir" -G Ninja -DPython_EXECUTABLE="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")" \
    -Dpybind11_DIR="$("$py" -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
    -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$bdir" --target _C -- -j"${JOBS:-2}"
echo "built: LAMINA_EXT_DIR=$bdir PYTHONPATH=python"
