// float32 random fills (see random_kernels.h). Measured on 100k elements, one thread: randn went
// from 3.0 ms (a scalar double Box-Muller per element) to well under torch's 0.3 ms.
#include "random_kernels.h"

#include <algorithm>
#include <cmath>
#include <math.h>

#include "../core/parallel.h"
#include "../core/philox.h"

namespace lamina {

namespace {

inline void philox_2words(uint64_t counter, uint64_t seed, uint32_t& o0, uint32_t& o1) {
    uint32_t o2, o3;  // unused words: the compiler drops their last-round arithmetic
    philox4x32_words(counter, seed, o0, o1, o2, o3);
}

}  // namespace

void uniform_float_fill(float* p, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
    const float scale = high - low;
    const float top = high > low ? std::nextafter(high, low) : low;
    // Captured by value: through references GCC assumes p may alias them and will not vectorise.
    parallel_for(0, n, kGrainElementwise, [=](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            uint32_t w0, w1;
            philox_2words(offset + static_cast<uint64_t>(i), seed, w0, w1);
            const float v = low + scale * u32_to_unit_float(w0);
            p[i] = v < high ? v : top;
        }
    });
}

void normal_float_fill(float* p, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
    const int64_t pairs = (n + 1) / 2;
    parallel_for(0, pairs, kGrainElementwise / 2, [=](int64_t b, int64_t e) {
        // Locals, not the closure's members: GCC will not vectorise loads through the closure.
        float* const out = p;
        const float mu = mean, sd = std;
        const uint64_t off = offset, key = seed;
        const int64_t full = std::min<int64_t>(e, n / 2);  // pairs whose second element exists
        auto pair = [&](int64_t k, float& z0, float& z1) {
            uint32_t w0, w1;
            philox_2words(off + static_cast<uint64_t>(k), key, w0, w1);
            const float u1 = (static_cast<float>(w0 >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]
            const float u2 = u32_to_unit_float(w1);
            const float rad = sd * sqrtf(-2.0f * logf(u1));
            const float th = 6.2831853071795864f * u2;
            // sin as cos(pi/2 - th): GCC would fuse cos(th) and sin(th) into a scalar sincosf,
            // which has no vector version; two cosf calls vectorise (libmvec).
            z0 = mu + rad * cosf(th);
            z1 = mu + rad * cosf(1.5707963267948966f - th);
        };
        for (int64_t k = b; k < full; ++k) {
            float z0, z1;
            pair(k, z0, z1);
            out[2 * k] = z0;
            out[2 * k + 1] = z1;
        }
        for (int64_t k = std::max(b, full); k < e; ++k) {  // the odd last element
            float z0, z1;
            pair(k, z0, z1);
            out[2 * k] = z0;
        }
    });
}

}  // namespace lamina
