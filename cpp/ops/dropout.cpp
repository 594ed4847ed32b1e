// Dropout on the CPU: one pass over a contiguous buffer, element i reading Philox counter
// (offset + i), so the mask is the same for any thread count and can be rebuilt in backward.
#include "dropout.h"

#include <algorithm>
#include <cmath>

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE4_1__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12's false "maybe uninitialized" inside the AVX-512 intrinsics (see core/vec.h)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "../core/parallel.h"
#include "../core/philox_lanes.h"
#include "../core/random.h"

namespace lamina {

namespace {

// keep(i) is dropout_keep's uniform(seed, offset + i) >= p, taken on the integers behind the
// uniform: u = ((o0 : o1) >> 11) 2^-53 for Philox's first two output words, so u >= p exactly when
// the 64-bit (o0 : o1) >= ceil(p 2^53) 2^11 (p 2^53 is exact): the mask is bit for bit
// dropout_keep's (the attention and CUDA paths). The per-element call with a double compare was
// scalar code (dropout fwd 1.55x, fwd+bwd 2.6x PyTorch's time; GCC did not vectorise it at the
// AVX2 level), so Philox runs on 16 / 8 / 8 counters at once (core/philox_lanes.h) and the keep
// test and the masked multiply below are per-level lane code.
struct KeepRule {
    bool all, none;     // p == 0: keep everything; p == 1: keep nothing
    uint32_t th, tl;    // (o0 : o1) >= (th : tl) keeps
};

KeepRule keep_rule(double p) {
    KeepRule r{p <= 0.0, p >= 1.0, 0, 0};
    if (!r.all && !r.none) {
        const uint64_t t = static_cast<uint64_t>(std::ceil(p * 9007199254740992.0)) << 11;  // < 2^64 for p < 1
        r.th = static_cast<uint32_t>(t >> 32);
        r.tl = static_cast<uint32_t>(t);
    }
    return r;
}

inline bool keep_scalar(const KeepRule& k, uint64_t seed, uint64_t counter) {
    if (k.all || k.none) return k.all;
    uint32_t o0, o1, o2, o3;
    philox4x32_words(counter, seed, o0, o1, o2, o3);
    return o0 > k.th || (o0 == k.th && o1 >= k.tl);
}

#ifdef LAMINA_PHILOX_LANES
using philox_vec::U32;
#if defined(__AVX512F__)
using Keep = __mmask16;
inline Keep keep_lanes(U32 o0, U32 o1, const KeepRule& k) {
    const __m512i th = _mm512_set1_epi32(static_cast<int>(k.th)), tl = _mm512_set1_epi32(static_cast<int>(k.tl));
    const __mmask16 gt = _mm512_cmpgt_epu32_mask(o0.v, th), eq = _mm512_cmpeq_epi32_mask(o0.v, th);
    return static_cast<__mmask16>(gt | (eq & _mm512_cmpge_epu32_mask(o1.v, tl)));
}
inline void apply_lanes(const float* x, float* o, Keep m, float sc) {
    _mm512_storeu_ps(o, _mm512_maskz_mul_ps(m, _mm512_loadu_ps(x), _mm512_set1_ps(sc)));
}
inline void apply_lanes(const double* x, double* o, Keep m, double sc) {
    const __m512d s = _mm512_set1_pd(sc);
    _mm512_storeu_pd(o, _mm512_maskz_mul_pd(static_cast<__mmask8>(m), _mm512_loadu_pd(x), s));
    _mm512_storeu_pd(o + 8, _mm512_maskz_mul_pd(static_cast<__mmask8>(m >> 8), _mm512_loadu_pd(x + 8), s));
}
#elif defined(__AVX2__)
using Keep = __m256i;  // all-ones lanes are kept
inline Keep keep_lanes(U32 o0, U32 o1, const KeepRule& k) {
    const __m256i th = _mm256_set1_epi32(static_cast<int>(k.th)), tl = _mm256_set1_epi32(static_cast<int>(k.tl));
    // unsigned a >= b  <=>  max_epu32(a, b) == a
    const __m256i ge = _mm256_cmpeq_epi32(_mm256_max_epu32(o0.v, th), o0.v);
    const __m256i eq = _mm256_cmpeq_epi32(o0.v, th);
    const __m256i lo_ge = _mm256_cmpeq_epi32(_mm256_max_epu32(o1.v, tl), o1.v);
    // o0 > th, or o0 == th and o1 >= tl
    return _mm256_or_si256(_mm256_andnot_si256(eq, ge), _mm256_and_si256(eq, lo_ge));
}
inline void apply_lanes(const float* x, float* o, Keep m, float sc) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_set1_ps(sc));
    _mm256_storeu_ps(o, _mm256_and_ps(v, _mm256_castsi256_ps(m)));
}
inline void apply_lanes(const double* x, double* o, Keep m, double sc) {
    const __m256d s = _mm256_set1_pd(sc);
    const __m256i m0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m));
    const __m256i m1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1));
    _mm256_storeu_pd(o, _mm256_and_pd(_mm256_mul_pd(_mm256_loadu_pd(x), s), _mm256_castsi256_pd(m0)));
    _mm256_storeu_pd(o + 4, _mm256_and_pd(_mm256_mul_pd(_mm256_loadu_pd(x + 4), s), _mm256_castsi256_pd(m1)));
}
#else
// x86-64-v2 (the `default` level): two SSE registers per 8 counters (the scalar rounds left
// dropout fwd at 1.25x and fwd+bwd at 2.16x PyTorch's time).
struct Keep {
    __m128i a, b;  // all-ones lanes are kept
};
inline __m128i keep1(__m128i o0, __m128i o1, __m128i th, __m128i tl) {
    // unsigned a >= b  <=>  max_epu32(a, b) == a
    const __m128i ge = _mm_cmpeq_epi32(_mm_max_epu32(o0, th), o0);
    const __m128i eq = _mm_cmpeq_epi32(o0, th);
    const __m128i lo_ge = _mm_cmpeq_epi32(_mm_max_epu32(o1, tl), o1);
    return _mm_or_si128(_mm_andnot_si128(eq, ge), _mm_and_si128(eq, lo_ge));
}
inline Keep keep_lanes(U32 o0, U32 o1, const KeepRule& k) {
    const __m128i th = _mm_set1_epi32(static_cast<int>(k.th)), tl = _mm_set1_epi32(static_cast<int>(k.tl));
    return {keep1(o0.a, o1.a, th, tl), keep1(o0.b, o1.b, th, tl)};
}
inline void apply_lanes(const float* x, float* o, Keep m, float sc) {
    const __m128 s = _mm_set1_ps(sc);
    _mm_storeu_ps(o, _mm_and_ps(_mm_mul_ps(_mm_loadu_ps(x), s), _mm_castsi128_ps(m.a)));
    _mm_storeu_ps(o + 4, _mm_and_ps(_mm_mul_ps(_mm_loadu_ps(x + 4), s), _mm_castsi128_ps(m.b)));
}
inline void apply_lanes(const double* x, double* o, Keep m, double sc) {
    const __m128d s = _mm_set1_pd(sc);
    const __m128i ms[4] = {_mm_cvtepi32_epi64(m.a), _mm_cvtepi32_epi64(_mm_srli_si128(m.a, 8)),
                           _mm_cvtepi32_epi64(m.b), _mm_cvtepi32_epi64(_mm_srli_si128(m.b, 8))};
    for (int q = 0; q < 4; ++q)
        _mm_storeu_pd(o + 2 * q, _mm_and_pd(_mm_mul_pd(_mm_loadu_pd(x + 2 * q), s), _mm_castsi128_pd(ms[q])));
}
#endif
#endif  // LAMINA_PHILOX_LANES

// out[i] = keep(i) ? in[i] * scale : 0 over contiguous buffers.
template <class T>
void mask_kernel(const T* x, T* o, int64_t n, double p, uint64_t seed, uint64_t offset) {
    const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    const KeepRule k = keep_rule(p);
    parallel_for(0, n, kGrainElementwise / 8, [&](int64_t b, int64_t e) {
#ifdef LAMINA_PHILOX_LANES
        constexpr int W = U32::W;
#else
        constexpr int W = 1;
#endif
        int64_t i = b;
        while (i < e) {
#ifdef LAMINA_PHILOX_LANES
            if (!k.all && !k.none) {
                for (; i + W <= e; i += W) {
                    const uint64_t ctr = offset + static_cast<uint64_t>(i);
                    if (philox_vec::lanes_wrap(ctr)) break;
                    U32 o0, o1;
                    philox_vec::philox_lanes(ctr, seed, o0, o1);
                    apply_lanes(x + i, o + i, keep_lanes(o0, o1, k), scale);
                }
            }
#endif
            // the tail, or W elements past a wrap of the counter's low word (once per 2^32)
            for (const int64_t stop = std::min(e, i + W); i < stop; ++i)
                o[i] = keep_scalar(k, seed, offset + static_cast<uint64_t>(i)) ? x[i] * scale : T(0);
        }
    });
}

Tensor apply_mask(const Tensor& in_, double p, uint64_t seed, uint64_t offset, const char* op) {
    LAMINA_CHECK(p >= 0.0 && p <= 1.0, op, ": dropout probability has to be between 0 and 1, but got ", p);
    LAMINA_CHECK_RUNTIME(in_.device().is_cpu(), op, ": only implemented for CPU tensors");
    const Tensor in = in_.contiguous();
    Tensor out = Tensor::empty(in.shape(), in.dtype());
    dispatch_float(in.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        mask_kernel<T>(in.data<T>(), out.data<T>(), in.numel(), p, seed, offset);
    });
    return out;
}

}  // namespace

std::tuple<Tensor, uint64_t, uint64_t> dropout_forward(const Tensor& x, double p) {
    Generator& g = default_generator();
    const uint64_t seed = g.seed, offset = g.reserve(static_cast<uint64_t>(x.numel()));
    return {apply_mask(x, p, seed, offset, "dropout"), seed, offset};
}

Tensor dropout_backward(const Tensor& dout, double p, uint64_t seed, uint64_t offset) {
    return apply_mask(dout, p, seed, offset, "dropout backward");
}

Tensor dropout_mask(const Shape& shape, DType dtype, double p, uint64_t seed, uint64_t offset) {
    Tensor ones = Tensor::empty(shape, dtype);
    dispatch_float(dtype, "dropout_mask", [&](auto tag) {
        using T = decltype(tag);
        T* o = ones.data<T>();
        for (int64_t i = 0; i < ones.numel(); ++i) o[i] = T(1);
    });
    return apply_mask(ones, p, seed, offset, "dropout_mask");
}

}  // namespace lamina
