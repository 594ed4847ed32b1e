// CPU memory for tensors and kernel scratch: 64-byte aligned blocks, with large blocks kept in a
// size-bucketed cache when freed. Fresh large allocations come from mmap and pay a page fault per
// 4 KiB on first touch (measured: a 64 MB add ran at 6 GB/s instead of 37 GB/s); a training step
// frees and reallocates the same sizes every iteration, so after the first step it allocates
// nothing new.
#pragma once
#include <cstddef>
#include <memory>
#include <stdexcept>

namespace lamina {

// An allocation that cannot be satisfied, or a size that does not fit in 64 bits: the bindings map
// it to Python's MemoryError (cpp/bindings/errors.cpp). Here rather than in check.h so adding it
// did not rebuild every file.
struct MemoryError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Aligned block of at least `nbytes`; freed (or cached) when the last owner lets go.
std::shared_ptr<void> cpu_allocate(size_t nbytes);

// Scratch buffer for kernels (im2col columns, per-thread accumulators), from the same cache.
template <class T>
struct ScratchBuffer {
    std::shared_ptr<void> block;
    T* data = nullptr;
    ScratchBuffer() = default;
    explicit ScratchBuffer(size_t n) : block(n ? cpu_allocate(n * sizeof(T)) : nullptr),
                                       data(static_cast<T*>(block.get())) {}
    T* get() const { return data; }
};

struct CacheStats {
    size_t cached_bytes = 0;   // held in the cache, ready for reuse
    size_t limit_bytes = 0;    // the cache never holds more than this
    size_t hits = 0, misses = 0;
    size_t allocated_bytes = 0;       // in live tensors and scratch buffers now
    size_t peak_allocated_bytes = 0;  // the most allocated_bytes has been
};

CacheStats cpu_cache_stats();
void cpu_empty_cache();                 // returns every cached block to the system
void cpu_set_cache_limit(size_t bytes);  // 0 disables caching

}  // namespace lamina
