// Thread-count control for OpenMP and BLAS together: OpenBLAS itself always runs single-threaded
// and lamina's gemm splits work over this many OpenMP threads (see blas.cpp), so this one number
// governs both without ever touching OpenBLAS's process-wide setting.
#include "parallel.h"

#include "check.h"

namespace lamina {

// 0: not yet set (OpenMP's default then). `import lamina` sets it from the CPUs the process may use
// and its cgroup CPU quota (python/lamina/_threads.py). Read by threads without the GIL.
static std::atomic<int> g_num_threads{0};

void set_num_threads(int n) {
    LAMINA_CHECK(n >= 1, "set_num_threads: expected a positive thread count, got ", n);
    g_num_threads.store(n, std::memory_order_relaxed);
#ifdef _OPENMP
    omp_set_num_threads(n);  // this thread's ICV, for OpenMP code outside lamina's helpers
#endif
}

int get_num_threads() {
    const int n = g_num_threads.load(std::memory_order_relaxed);
    if (n > 0) return n;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace lamina
