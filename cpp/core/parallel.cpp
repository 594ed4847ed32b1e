// Thread-count control for OpenMP and OpenBLAS together.
#include "parallel.h"

#include "blas.h"
#include "check.h"

namespace lamina {

static int g_num_threads = 0;  // 0: not yet set

void set_num_threads(int n) {
    LAMINA_CHECK(n >= 1, "set_num_threads: expected a positive thread count, got ", n);
    g_num_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    blas_set_num_threads(n);
}

int get_num_threads() {
    if (g_num_threads > 0) return g_num_threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace lamina
