#!/usr/bin/env bash
# Regenerates python/lamina/_C.pyi (type stubs of the compiled module) from a dev build:
#   tools/dev.sh main && tools/gen_stubs.sh build/dev-main
# Needs pybind11-stubgen (pip install pybind11-stubgen). tests/test_stubs.py fails when a binding
# is added without regenerating.
set -euo pipefail
cd "$(dirname "$0")/.."
ext=${1:-build/dev-main}
out=$(mktemp -d)
LAMINA_EXT_DIR=$ext PYTHONPATH=python ${PYTHON:-.venv/bin/python} -m pybind11_stubgen lamina._C -o "$out"
cp "$out/lamina/_C.pyi" python/lamina/_C.pyi
rm -rf "$out"
echo "wrote python/lamina/_C.pyi"
