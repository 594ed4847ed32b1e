#!/usr/bin/env bash
# Incremental development build into build/dev-$NAME (default: main) without reinstalling:
#   tools/dev.sh [NAME]   then   LAMINA_EXT_DIR=build/dev-NAME PYTHONPATH=python pytest ...
# Builds one CPU variant, this host's best (lamina._C_avx512, _C_avx2 or _C_default), so a rebuild
# compiles each changed file once. LAMINA_CPU_VARIANTS="default;avx512" (or "all") picks others;
# it is applied whenever it differs from the build folder's setting. A build folder configured
# before CPU dispatch existed gets the host's best too.
# Uses the project's .venv (numpy, scipy-openblas32, pybind11, cmake, ninja must be installed).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-main}
py=${PYTHON:-.venv/bin/python}
bdir=build/dev-$name

host_best() {  # the level names of cmake/cpu_variants.cmake, from the kernel's CPU flags
  local f
  f=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  has() { for x in "$@"; do [[ $f == *" $x "* ]] || return 1; done; }
  if has avx512f avx512bw avx512cd avx512dq avx512vl avx2 fma bmi2 movbe; then echo avx512
  elif has avx2 fma bmi1 bmi2 f16c movbe; then echo avx2
  else echo default; fi
}
variants=${LAMINA_CPU_VARIANTS:-}
[ "$variants" = all ] && variants="default;avx2;avx512"

if [ ! -f "$bdir/build.ninja" ]; then
  cmake -S . -B "$bdir" -G Ninja -DPython_EXECUTABLE="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")" \
    -Dpybind11_DIR="$("$py" -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
    -DCMAKE_BUILD_TYPE=Release -DLAMINA_CPU_VARIANTS="${variants:-$(host_best)}" ${CMAKE_ARGS:-} >/dev/null
else
  have=$(sed -n 's/^LAMINA_CPU_VARIANTS:[A-Z]*=//p' "$bdir/CMakeCache.txt")
  want=${variants:-${have:-$(host_best)}}
  if [ "$have" != "$want" ]; then
    cmake "$bdir" -DLAMINA_CPU_VARIANTS="$want" >/dev/null
  fi
fi
cmake --build "$bdir" --target _C -- -j"${JOBS:-2}"
echo "built: LAMINA_EXT_DIR=$bdir PYTHONPATH=python"
