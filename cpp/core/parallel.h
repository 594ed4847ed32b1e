// OpenMP helpers. One thread pool for everything: our loops run on OpenMP, and OpenBLAS is routed
// onto the same pool (see blas.cpp), so two pools never spin against each other on few cores.
// Grain-size rule: a loop runs on one thread unless it has at least `grain` units of work per
// extra thread — small tensors are not worth a fork/join (~1-2 us each).
// Exceptions never cross an OpenMP region boundary (that is std::terminate): region bodies run
// through ParallelErrors, which keeps the first exception and rethrows it after the join.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lamina {

// Elementwise work below this many elements stays on one thread.
constexpr int64_t kGrainElementwise = 32768;

// The thread count every lamina parallel region and every gemm uses, whichever Python thread
// calls. Process-wide (an atomic): a region passes it explicitly as num_threads, because OpenMP's
// own nthreads ICV is per thread and would not reach other Python threads.
void set_num_threads(int n);
int get_num_threads();

inline bool in_parallel_region() {
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return false;
#endif
}

// Collects exceptions thrown inside a parallel region: wrap each thread's work in run(), then
// call rethrow() after the region. After the first failure the other threads skip their
// remaining work (run() returns without calling f).
class ParallelErrors {
public:
    template <class F>
    void run(const F& f) noexcept {
        if (failed_.load(std::memory_order_relaxed)) return;
        try {
            f();
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu_);
            if (!first_) first_ = std::current_exception();
            failed_.store(true, std::memory_order_relaxed);
        }
    }
    void rethrow() {
        if (first_) std::rethrow_exception(first_);
    }

private:
    std::atomic<bool> failed_{false};
    std::mutex mu_;
    std::exception_ptr first_;
};

// Chunks per thread that parallel_for hands out on demand. A worker that slept after the last
// region takes ~60 us to wake on a KVM guest (GOMP_SPINCOUNT is short on purpose, see README
// "Threads and BLAS"); with one fixed half per thread the caller then waits that long at the join.
// With several chunks per thread taken from a shared counter, the caller runs the chunks the
// sleeping worker has not reached, so a late (or descheduled) worker costs about half as much.
constexpr int64_t kChunksPerThread = 4;

// Runs f(b, e) over consecutive chunks of [begin, end) on up to nthreads threads (nthreads > 1,
// outside any region), each chunk taken by whichever thread is free first. Which thread runs a
// chunk varies from call to call, so f must write only inside its chunk and compute each element
// the same way whatever the chunk (then results do not depend on the thread count or timing).
template <class F>
void parallel_chunks(int64_t begin, int64_t end, int64_t chunk, int64_t nthreads, const F& f) {
#ifdef _OPENMP
    std::atomic<int64_t> next{0};
    ParallelErrors errors;
#pragma omp parallel num_threads(static_cast<int>(nthreads))
    {
        for (;;) {
            const int64_t b = begin + next.fetch_add(1, std::memory_order_relaxed) * chunk;
            if (b >= end) break;
            errors.run([&] { f(b, std::min(end, b + chunk)); });
        }
    }
    errors.rethrow();
#else
    (void)nthreads;
    for (int64_t b = begin; b < end; b += chunk) f(b, std::min(end, b + chunk));
#endif
}

// Calls f(begin, end) on contiguous chunks of [begin, end). Chunks never overlap, so a body that
// writes only inside its own chunk needs no synchronisation. With several threads the range is
// cut into about kChunksPerThread chunks per thread (each at least grain / 2 units), handed out
// on demand (parallel_chunks); a body must not assume one chunk per thread.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
    const int64_t n = end - begin;
    if (n <= 0) return;
#ifdef _OPENMP
    int64_t nthreads = get_num_threads();
    if (grain < 1) grain = 1;
    nthreads = std::min<int64_t>(nthreads, n / grain);
    if (nthreads > 1 && !in_parallel_region()) {
        const int64_t nchunks = std::max<int64_t>(nthreads, std::min(nthreads * kChunksPerThread, 2 * n / grain));
        parallel_chunks(begin, end, (n + nchunks - 1) / nchunks, nthreads, f);
        return;
    }
#endif
    f(begin, end);
}

}  // namespace lamina
