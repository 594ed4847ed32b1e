// OpenMP helpers. One thread pool for everything: our loops run on OpenMP, and OpenBLAS is routed
// onto the same pool (see blas.cpp), so two pools never spin against each other on few cores.
// Grain-size rule: a loop runs on one thread unless it has at least `grain` units of work per
// extra thread — small tensors are not worth a fork/join (~1-2 us each).
#pragma once
#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lamina {

// Elementwise work below this many elements stays on one thread.
constexpr int64_t kGrainElementwise = 32768;

void set_num_threads(int n);  // OpenMP and OpenBLAS together
int get_num_threads();

inline bool in_parallel_region() {
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return false;
#endif
}

// Calls f(begin, end) on contiguous chunks of [begin, end). Chunks never overlap, so a body that
// writes only inside its own chunk needs no synchronisation.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
    const int64_t n = end - begin;
    if (n <= 0) return;
#ifdef _OPENMP
    int64_t nthreads = get_num_threads();
    if (grain < 1) grain = 1;
    nthreads = std::min<int64_t>(nthreads, n / grain);
    if (nthreads > 1 && !in_parallel_region()) {
#pragma omp parallel num_threads(static_cast<int>(nthreads))
        {
            const int64_t t = omp_get_thread_num();
            const int64_t nt = omp_get_num_threads();
            const int64_t chunk = (n + nt - 1) / nt;
            const int64_t b = begin + t * chunk;
            const int64_t e = std::min(end, b + chunk);
            if (b < e) f(b, e);
        }
        return;
    }
#endif
    f(begin, end);
}

}  // namespace lamina
