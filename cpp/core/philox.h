// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. Value i of a random op depends only on (seed, offset + i), so results
// are the same for any thread count and on the GPU, which shares this code through LAMINA_HD.
#pragma once
#include <cmath>
#include <cstdint>

#include "hostdev.h"

namespace lamina {

struct Philox4 {
    uint32_t v[4];
};

// The rounds on scalars, results through references: loops that call this vectorise (a struct
// with an array member, returned by value, kept GCC from vectorising them).
LAMINA_HD void philox4x32_words(uint64_t counter, uint64_t seed, uint32_t& o0, uint32_t& o1, uint32_t& o2,
                                uint32_t& o3) {
    uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
    uint32_t c2 = 0, c3 = 0;
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
        const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
        c1 = static_cast<uint32_t>(p1);
        c3 = static_cast<uint32_t>(p0);
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    o0 = c0;
    o1 = c1;
    o2 = c2;
    o3 = c3;
}

LAMINA_HD Philox4 philox4x32(uint64_t counter, uint64_t seed) {
    Philox4 r;
    philox4x32_words(counter, seed, r.v[0], r.v[1], r.v[2], r.v[3]);
    return r;
}

// Uniform in [0, 1) with 24 (float) or 53 (double) random bits.
LAMINA_HD float u32_to_unit_float(uint32_t x) { return (x >> 8) * (1.0f / 16777216.0f); }
LAMINA_HD double u64_to_unit_double(uint32_t hi, uint32_t lo) {
    const uint64_t x = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
    return static_cast<double>(x & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Element i of a uniform stream: one Philox call per element keeps the mapping trivial.
LAMINA_HD double philox_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
    const Philox4 r = philox4x32(offset + i, seed);
    return u64_to_unit_double(r.v[0], r.v[1]);
}

// Element i of a standard normal stream (Box-Muller on the call's four words).
LAMINA_HD double philox_normal(uint64_t seed, uint64_t offset, uint64_t i) {
    const Philox4 r = philox4x32(offset + i, seed);
    double u1 = u64_to_unit_double(r.v[0], r.v[1]);
    const double u2 = u64_to_unit_double(r.v[2], r.v[3]);
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace lamina
