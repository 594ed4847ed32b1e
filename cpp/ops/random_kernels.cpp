// float32 random fills (see random_kernels.h). The Philox words come from philox_lanes (16 counters
// per AVX-512 step, 8 at AVX2 and at the SSE level) into a small buffer, and the arithmetic on them
// is a straight loop over that buffer, vectorised by the compiler (libmvec's logf / cosf for the
// normals). GCC auto-vectorised the scalar philox4x32_words itself only with 64-bit multiplies
// (vpmullq / emulated at AVX2), ~3.4 ns per counter; the lanes take ~1.5 (AVX-512) / ~2.2 (AVX2).
// Values are those of the scalar definition: the same counters and words, bit for bit
// (tests/test_random.py checks rand against a numpy Philox under every capability).
#include "random_kernels.h"

#include <algorithm>
#include <cmath>
#include <math.h>

#include "../core/parallel.h"
#include "../core/philox.h"
#include "../core/philox_lanes.h"

namespace lamina {

namespace {

// Counters per buffer: one buffer of words (two for the normals) stays in L1.
constexpr int64_t kBlock = 512;

// w0[j] (and w1[j] when given) = words 0 and 1 of Philox counter `counter + j`, j < len.
void philox_words(uint64_t counter, uint64_t seed, int64_t len, uint32_t* w0, uint32_t* w1) {
    int64_t j = 0;
#ifdef LAMINA_PHILOX_LANES
    using U = philox_vec::U32;
    for (; j + U::W <= len; j += U::W) {
        const uint64_t c = counter + static_cast<uint64_t>(j);
        if (philox_vec::lanes_wrap(c)) break;  // the low word wraps inside this step: scalar from here
        U o0, o1;
        philox_vec::philox_lanes(c, seed, o0, o1);
        o0.store(w0 + j);
        if (w1) o1.store(w1 + j);
    }
#endif
    for (; j < len; ++j) {
        uint32_t o0, o1, o2, o3;
        philox4x32_words(counter + static_cast<uint64_t>(j), seed, o0, o1, o2, o3);
        w0[j] = o0;
        if (w1) w1[j] = o1;
    }
}

}  // namespace

void uniform_float_fill(float* p, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
    const float scale = high - low;
    const float top = high > low ? std::nextafter(high, low) : low;
    // Captured by value: through references GCC assumes p may alias them and will not vectorise.
    parallel_for(0, n, kGrainElementwise, [=](int64_t b, int64_t e) {
        alignas(64) uint32_t w[kBlock];
        float* const out = p;
        const float lo = low, sc = scale, hi = high, tp = top;
        for (int64_t i0 = b; i0 < e; i0 += kBlock) {  // element i uses word 0 of counter offset + i
            const int64_t len = std::min(kBlock, e - i0);
            philox_words(offset + static_cast<uint64_t>(i0), seed, len, w, nullptr);
            for (int64_t j = 0; j < len; ++j) {
                const float v = lo + sc * u32_to_unit_float(w[j]);
                out[i0 + j] = v < hi ? v : tp;
            }
        }
    });
}

void normal_float_fill(float* p, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
    const int64_t pairs = (n + 1) / 2;
    parallel_for(0, pairs, kGrainElementwise / 2, [=](int64_t b, int64_t e) {
        alignas(64) uint32_t w0[kBlock], w1[kBlock];
        alignas(64) float z0[kBlock], z1[kBlock];
        // Locals, not the closure's members: GCC will not vectorise loads through the closure.
        float* const out = p;
        const float mu = mean, sd = std;
        for (int64_t k0 = b; k0 < e; k0 += kBlock) {  // pair k: words 0, 1 of counter offset + k
            const int64_t len = std::min(kBlock, e - k0);
            philox_words(offset + static_cast<uint64_t>(k0), seed, len, w0, w1);
            for (int64_t j = 0; j < len; ++j) {  // Box-Muller
                const float u1 = (static_cast<float>(w0[j] >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]
                const float u2 = u32_to_unit_float(w1[j]);
                const float rad = sd * sqrtf(-2.0f * logf(u1));
                const float th = 6.2831853071795864f * u2;
                // sin as cos(pi/2 - th): GCC would fuse cos(th) and sin(th) into a scalar sincosf,
                // which has no vector version; two cosf calls vectorise (libmvec).
                z0[j] = mu + rad * cosf(th);
                z1[j] = mu + rad * cosf(1.5707963267948966f - th);
            }
            // Interleave; the last pair of an odd n has only its first element.
            const int64_t full = std::min(len, n / 2 - k0);
            for (int64_t j = 0; j < full; ++j) {
                out[2 * (k0 + j)] = z0[j];
                out[2 * (k0 + j) + 1] = z1[j];
            }
            if (full < len) out[2 * (k0 + full)] = z0[full];
        }
    });
}

}  // namespace lamina
