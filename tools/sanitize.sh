#!/usr/bin/env bash
# Builds lamina under a sanitizer into build/sanitize-<kind> (one CPU variant, this host's best) and
# runs a subset of the test suite against it with the sanitizer runtime preloaded into CPython:
#   tools/sanitize.sh [address|thread] [pytest arguments...]    (README, "Reliability")
# Test paths given replace the default subset; flags alone (-x, -v, --durations=10) are added to it.
# address = AddressSanitizer + UndefinedBehaviorSanitizer; thread = ThreadSanitizer. Exits non-zero
# when pytest fails or the log holds a sanitizer report; the log is build/sanitize-<kind>/pytest.log.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address}
[ $# -gt 0 ] && shift
py=${PYTHON:-.venv/bin/python}
bdir=build/sanitize-$kind

case $kind in
  address)
    flags=address,undefined
    runtime=$(g++ -print-file-name=libasan.so)
    # The core, tensor, op, autograd, serialization, reader and fuzz tests: everything that drives
    # the C++ core directly. ~3x slower than a normal build.
    default_tests=(tests/ops tests/autograd tests/test_tensor.py tests/test_views.py
                   tests/test_errors.py tests/test_serialization.py tests/test_numpy.py
                   tests/test_random.py tests/data/test_word_vectors.py tests/fuzz
                   tests/reliability)
    ;;
  thread)
    flags=thread
    runtime=$(g++ -print-file-name=libtsan.so)
    # Python threads running ops at once with the GIL released (DESIGN.md, "Threads and BLAS"),
    # thread-local grad/anomaly/trace state, DataLoader worker processes (their feeder threads and
    # forks), Ctrl-C handling (a signal arriving while ops run) and the tracer's other-thread check.
    # Then the tests that call set_num_threads(n > 1): with teams capped at one thread they check
    # that every kernel covers its work whatever team it gets (tests/reliability/test_thread_team.py).
    # Not the conv tests that compare with PyTorch: its oneDNN conv backward hangs in a barrier when
    # OMP_THREAD_LIMIT gives it fewer threads than it planned for.
    default_tests=(tests/test_threads.py tests/test_threads_default.py tests/data/test_dataloader_workers.py
                   tests/reliability/test_interrupts.py tests/reliability/test_thread_team.py
                   tests/onnx/test_trace.py::test_other_threads_are_not_recorded
                   tests/ops/test_dropout.py::test_dropout_independent_of_thread_count
                   tests/ops/test_attention.py::test_sdpa_empty_and_threads
                   tests/ops/test_rnn.py::test_two_threads_match_one_thread
                   tests/ops/test_norm.py::test_layer_norm_weight_grad_thread_independent
                   tests/test_random.py::test_same_results_with_1_and_2_threads
                   tests/models/test_rbm.py::test_cd_step_independent_of_thread_count)
    ;;
  *) echo "usage: tools/sanitize.sh [address|thread] [pytest args...]" >&2; exit 2 ;;
esac

host_best() {  # as tools/dev.sh
  local f
  f=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  has() { for x in "$@"; do [[ $f == *" $x "* ]] || return 1; done; }
  if has avx512f avx512bw avx512cd avx512dq avx512vl avx2 fma bmi2 movbe; then echo avx512
  elif has avx2 fma bmi1 bmi2 f16c movbe; then echo avx2
  else echo default; fi
}

if [ ! -f "$bdir/build.ninja" ]; then
  mkdir -p "$bdir"
  # -O1 (SANITIZE_OPT) after the targets' own -O3: a third of the compile time on this 2-core
  # machine, and the usual level for sanitizer runs. A compiler launcher is the one place that can
  # append a flag after a target's options without touching the project's CMake files.
  printf '#!/bin/sh\nexec "$@" %s\n' "${SANITIZE_OPT:--O1}" > "$bdir/cc-launcher.sh"
  chmod +x "$bdir/cc-launcher.sh"
  # RelWithDebInfo: line numbers in reports, and pybind11 adds no LTO (slow links under ASan).
  cmake -S . -B "$bdir" -G Ninja -DPython_EXECUTABLE="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")" \
    -Dpybind11_DIR="$("$py" -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAMINA_CPU_VARIANTS="${LAMINA_CPU_VARIANTS:-$(host_best)}" \
    -DCMAKE_CXX_COMPILER_LAUNCHER="$PWD/$bdir/cc-launcher.sh" -DLAMINA_SANITIZE="$flags" >/dev/null
fi
cmake --build "$bdir" --target _C -- -j"${JOBS:-2}"
[ "${SANITIZE_BUILD_ONLY:-0}" = 1 ] && exit 0

# CPython and NumPy are not instrumented, so the runtime must be loaded first (LD_PRELOAD), and
# libstdc++ with it: python does not link it, and ASan's __cxa_throw interceptor finds no real
# __cxa_throw otherwise ("CHECK failed: asan_interceptors.cpp ... real___cxa_throw") at the first
# C++ exception.
runtime="$runtime $(g++ -print-file-name=libstdc++.so)"
# detect_leaks=0: CPython keeps interned objects and module state alive at exit by design, which
# LeakSanitizer reports as thousands of leaks; lamina's own lifetime checks are the soak tests.
# PYTHONMALLOC=malloc: Python objects go through malloc, so ASan guards their edges too.
export LD_PRELOAD=$runtime
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:detect_odr_violation=0:verify_asan_link_order=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=0}
# libgomp and OpenBLAS are not instrumented: TSan cannot see their barriers and reports every
# parallel loop (the shared variables the caller writes before the fork, read by the pool's threads:
# hundreds of reports in parallel.h, iter.h, blas.cpp). So the thread build runs each op on one
# OpenMP thread and checks the races between Python threads (which run ops concurrently with the GIL
# released). OMP_THREAD_LIMIT, not OMP_NUM_THREADS: the tests call set_num_threads(2), which passes
# num_threads(2) to every region; the limit caps that too (get_num_threads() still says 2). Reports go to files
# (log_path), one per process: the tests run programs in subprocesses, whose stderr pytest keeps.
# Suppressions (tools/tsan.supp) cover uninstrumented third-party code only, each with its reason.
# die_after_fork=0: DataLoader workers are forked from a process with threads and start threads of
# their own; TSan would kill them ("starting new threads after multi-threaded fork is not
# supported"). The children still run instrumented; only their reports are best-effort.
rm -f "$bdir"/tsan-report.*
export TSAN_OPTIONS=${TSAN_OPTIONS:-ignore_noninstrumented_modules=1:report_signal_unsafe=0:halt_on_error=0:exitcode=0:die_after_fork=0:suppressions=$PWD/tools/tsan.supp:log_path=$PWD/$bdir/tsan-report:history_size=4}
[ "$kind" = thread ] && export OMP_NUM_THREADS=1 OMP_THREAD_LIMIT=1
export PYTHONMALLOC=malloc LAMINA_EXT_DIR=$PWD/$bdir PYTHONPATH=python

# Only options given (-x, -v, -k ...): they apply to the default subset, never to the whole suite.
tests=("$@")
paths=0
for a in "$@"; do [[ $a == -* ]] || paths=1; done
[ $paths -eq 0 ] && tests+=("${default_tests[@]}")
log=$bdir/pytest.log
start=$SECONDS
set +e
"$py" -m pytest -q -p no:cacheprovider "${tests[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
pat='runtime error:|ERROR: (Address|Thread|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer'
reports=$(cat "$log" "$bdir"/tsan-report.* 2>/dev/null | grep -cE "$pat" || true)
echo "sanitize.sh: $kind: pytest exit $rc, $reports sanitizer report(s), $((SECONDS - start)) s; log $log" \
     "$(ls "$bdir"/tsan-report.* >/dev/null 2>&1 && echo "and $bdir/tsan-report.<pid>")"
[ "$rc" -eq 0 ] && [ "$reports" -eq 0 ]
