// The seeded generator: state is (seed, offset). Each random op reserves a range of counters,
// so lamina.manual_seed(s) makes every random op reproducible, and the state is two integers that
// a checkpoint can save and restore.
#pragma once
#include <atomic>
#include <cstdint>

namespace lamina {

// Ops run with the GIL released, so both fields are atomics: threads drawing at once reserve
// disjoint counter ranges (distinct streams), and reseeding never tears a read. A single thread
// sees exactly the sequence it would alone. Ops read `seed` and then `reserve()`; a manual_seed
// racing with a draw in another thread gives that draw either stream, never an invalid one.
struct Generator {
    std::atomic<uint64_t> seed{0x853c49e6748fea9bull};
    std::atomic<uint64_t> offset{0};
    // Reserves n counters; returns the first.
    uint64_t reserve(uint64_t n) { return offset.fetch_add(n); }
};

Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace lamina
