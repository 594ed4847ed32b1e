// The caching CPU allocator (see allocator.h for why). Blocks below kMinCached bytes go straight
// to aligned_alloc/free: glibc serves those from its heap without page faults. Larger sizes are
// rounded up to one of four steps per power of two (at most 25% slack) so that tensors of nearly
// the same size share blocks.
#include "allocator.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace lamina {

namespace {

constexpr size_t kMinCached = 64 * 1024;

size_t round_size(size_t n) {
    if (n < kMinCached) return ((n + 63) / 64) * 64;
    size_t p = 1;
    while (p * 2 <= n) p *= 2;             // p <= n < 2p
    const size_t step = p / 4;
    return ((n + step - 1) / step) * step;  // p, 1.25p, 1.5p, 1.75p or 2p
}

struct Cache {
    std::mutex mu;
    std::unordered_map<size_t, std::vector<void*>> free_blocks;
    size_t cached = 0;
    size_t limit = size_t(4) << 30;  // 4 GiB; lamina.set_cache_limit changes it
    size_t hits = 0, misses = 0;

    void* take(size_t bytes) {
        std::lock_guard<std::mutex> lock(mu);
        auto it = free_blocks.find(bytes);
        if (it != free_blocks.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            cached -= bytes;
            ++hits;
            return p;
        }
        ++misses;
        return nullptr;
    }

    // Keeps the block unless that would pass the limit.
    bool give(void* p, size_t bytes) {
        std::lock_guard<std::mutex> lock(mu);
        if (cached + bytes > limit) return false;
        free_blocks[bytes].push_back(p);
        cached += bytes;
        return true;
    }

    void clear() {
        std::lock_guard<std::mutex> lock(mu);
        for (auto& kv : free_blocks)
            for (void* p : kv.second) std::free(p);
        free_blocks.clear();
        cached = 0;
    }
};

// Bytes handed out and not yet released (rounded sizes, cached or not), and the high-water mark:
// lamina.memory_stats()'s allocated_bytes / peak_allocated_bytes, what the soak tests watch.
std::atomic<size_t> g_allocated{0}, g_peak{0};

void count_alloc(size_t bytes) {
    const size_t now = g_allocated.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    size_t peak = g_peak.load(std::memory_order_relaxed);
    while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}

void count_free(size_t bytes) { g_allocated.fetch_sub(bytes, std::memory_order_relaxed); }

// Never destroyed: tensors released during interpreter shutdown still find it.
Cache& cache() {
    static Cache* c = new Cache();
    return *c;
}

}  // namespace

std::shared_ptr<void> cpu_allocate(size_t nbytes) {
    // Beyond 2^62 bytes no machine has the memory, and round_size's doubling would overflow.
    if (nbytes > (size_t(1) << 62)) throw std::bad_alloc();
    const size_t bytes = round_size(nbytes ? nbytes : 64);
    if (bytes < kMinCached) {
        void* p = std::aligned_alloc(64, bytes);
        if (!p) throw std::bad_alloc();
        count_alloc(bytes);
        return std::shared_ptr<void>(p, [bytes](void* q) {
            count_free(bytes);
            std::free(q);
        });
    }
    void* p = cache().take(bytes);
    if (!p) {
        p = std::aligned_alloc(64, bytes);
        if (!p) {
            cache().clear();  // memory may be sitting in the cache: give it back and retry once
            p = std::aligned_alloc(64, bytes);
            if (!p) throw std::bad_alloc();
        }
    }
    count_alloc(bytes);
    return std::shared_ptr<void>(p, [bytes](void* q) {
        count_free(bytes);
        if (!cache().give(q, bytes)) std::free(q);
    });
}

CacheStats cpu_cache_stats() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    return CacheStats{c.cached, c.limit, c.hits, c.misses, g_allocated.load(), g_peak.load()};
}

void cpu_empty_cache() { cache().clear(); }

void cpu_set_cache_limit(size_t bytes) {
    {
        std::lock_guard<std::mutex> lock(cache().mu);
        cache().limit = bytes;
    }
    if (cpu_cache_stats().cached_bytes > bytes) cpu_empty_cache();
}

}  // namespace lamina
