// The caching CPU allocator (see allocator.h for why). Blocks below kMinCached bytes go straight
// to aligned_alloc/free: glibc serves those from its heap without page faults. Larger sizes are
// rounded up to one of four steps per power of two (at most 25% slack) so that tensors of nearly
// the same size share blocks.
#include "allocator.h"

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
        return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
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
    return std::shared_ptr<void>(p, [bytes](void* q) {
        if (!cache().give(q, bytes)) std::free(q);
    });
}

CacheStats cpu_cache_stats() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    return CacheStats{c.cached, c.limit, c.hits, c.misses};
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
