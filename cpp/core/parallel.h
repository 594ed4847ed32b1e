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
#include <memory>
#include <mutex>

#include "thread_governor.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lamina {

// Elementwise work below this many elements stays on one thread.
constexpr int64_t kGrainElementwise = 32768;

// The configured thread count (lamina.set_num_threads / get_num_threads), whichever Python thread
// calls. Process-wide (an atomic): a region passes its count explicitly as num_threads, because
// OpenMP's own nthreads ICV is per thread and would not reach other Python threads. Regions and
// gemm run on effective_num_threads() (thread_governor.h): this count, lowered while other
// processes keep this process's CPUs busy. Read it once per region: it may change between calls.
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

// Chunks per thread that parallel_for_fine hands out on demand. A worker that slept after the last
// region takes ~60 us to wake on a KVM guest (GOMP_SPINCOUNT is short on purpose, see README
// "Threads and BLAS"); with one fixed half per thread the caller then waits that long at the join.
// With several chunks per thread, the caller runs the chunks the sleeping worker has not reached,
// so a late (or descheduled) worker costs about half as much.
constexpr int64_t kChunksPerThread = 4;

namespace detail {
// One thread's share of the chunks, [lo, hi) packed in one word: the owner takes from the front,
// other threads steal from the back. Own cache line each.
struct alignas(64) ChunkRange {
    std::atomic<uint64_t> v{0};
    static uint64_t pack(uint64_t lo, uint64_t hi) { return lo | (hi << 32); }
    // Takes the front (owner) or back (thief) chunk; -1 when the range is empty.
    int64_t take(bool front) {
        uint64_t cur = v.load(std::memory_order_relaxed);
        for (;;) {
            const uint64_t lo = cur & 0xffffffffu, hi = cur >> 32;
            if (lo >= hi) return -1;
            const uint64_t nxt = front ? pack(lo + 1, hi) : pack(lo, hi - 1);
            if (v.compare_exchange_weak(cur, nxt, std::memory_order_relaxed))
                return static_cast<int64_t>(front ? lo : hi - 1);
        }
    }
};
}  // namespace detail

// Runs f(b, e) over consecutive chunks of [begin, end) on up to nthreads threads (nthreads > 1,
// outside any region). Thread t first runs its own contiguous share in order (the same split as a
// static schedule, so consecutive ops touch the same memory from the same core), then steals the
// chunks other threads have not started, from the back of their shares. A team smaller than asked
// (OMP_THREAD_LIMIT) still runs every chunk. Which thread runs a chunk varies from call to call,
// so f must write only inside its chunk and compute each element the same way whatever the chunk
// (then results do not depend on the thread count or timing). Fewer than 2^32 chunks.
template <class F>
void parallel_chunks(int64_t begin, int64_t end, int64_t chunk, int64_t nthreads, const F& f) {
#ifdef _OPENMP
    const int64_t nchunks = (end - begin + chunk - 1) / chunk, per = (nchunks + nthreads - 1) / nthreads;
    detail::ChunkRange stack_ranges[8];
    std::unique_ptr<detail::ChunkRange[]> heap_ranges;
    detail::ChunkRange* ranges = stack_ranges;
    if (nthreads > 8) {
        heap_ranges.reset(new detail::ChunkRange[static_cast<size_t>(nthreads)]);
        ranges = heap_ranges.get();
    }
    for (int64_t t = 0; t < nthreads; ++t)
        ranges[t].v.store(detail::ChunkRange::pack(uint64_t(std::min(nchunks, t * per)),
                                                   uint64_t(std::min(nchunks, (t + 1) * per))),
                          std::memory_order_relaxed);
    ParallelErrors errors;
#pragma omp parallel num_threads(static_cast<int>(nthreads))
    {
        const int64_t tid = omp_get_thread_num();
        auto run = [&](int64_t c) {
            const int64_t b = begin + c * chunk;
            errors.run([&] { f(b, std::min(end, b + chunk)); });
        };
        for (int64_t c; (c = ranges[tid].take(true)) >= 0;) run(c);
        for (int64_t k = 1; k < nthreads; ++k) {
            detail::ChunkRange& r = ranges[(tid + k) % nthreads];
            for (int64_t c; (c = r.take(false)) >= 0;) run(c);
        }
    }
    errors.rethrow();
#else
    (void)nthreads;
    for (int64_t b = begin; b < end; b += chunk) f(b, std::min(end, b + chunk));
#endif
}

// Threads for a loop of n units with at least `grain` units per thread (0 or 1: run serially).
// A loop too small to split never asks the governor (no clock read on the smallest ops).
inline int64_t loop_threads(int64_t n, int64_t grain) {
    if (in_parallel_region()) return 1;
    const int64_t most = n / std::max<int64_t>(grain, 1);
    if (most <= 1) return most;
    return std::min<int64_t>(effective_num_threads(), most);
}

// Calls f(begin, end) on contiguous chunks of [begin, end), one per thread (the static split: a
// body with per-chunk setup, such as an RNN's row block re-reading its weights every step, keeps
// its block sizes). Chunks never overlap, so a body that writes only inside its own chunk needs no
// synchronisation. A thread that finishes first also runs a chunk whose thread has not started
// yet (parallel_chunks), so a late worker never costs more than running its chunk here.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
    const int64_t n = end - begin;
    if (n <= 0) return;
    const int64_t nthreads = loop_threads(n, grain);
    if (nthreads > 1) return parallel_chunks(begin, end, (n + nthreads - 1) / nthreads, nthreads, f);
    f(begin, end);
}

// parallel_for for bodies with no per-chunk setup (elementwise maps, pooling, per-channel sums):
// about kChunksPerThread chunks per thread, each at least `grain` units, handed out on demand
// (parallel_chunks), so a worker that wakes ~60 us late costs about half of that, not all of it.
template <class F>
void parallel_for_fine(int64_t begin, int64_t end, int64_t grain, const F& f) {
    const int64_t n = end - begin;
    if (n <= 0) return;
    const int64_t nthreads = loop_threads(n, grain);
    if (nthreads > 1) {
        const int64_t nchunks =
            std::max(nthreads, std::min(nthreads * kChunksPerThread, n / std::max<int64_t>(grain, 1)));
        return parallel_chunks(begin, end, (n + nchunks - 1) / nchunks, nthreads, f);
    }
    f(begin, end);
}

}  // namespace lamina
