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
#include "../core/random.h"

namespace lamina {

namespace {

// keep(i) is dropout_keep's uniform(seed, offset + i) >= p, taken on the integers behind the
// uniform: u = ((o0 : o1) >> 11) 2^-53 for Philox's first two output words, so u >= p exactly when
// the 64-bit (o0 : o1) >= ceil(p 2^53) 2^11 (p 2^53 is exact): the mask is bit for bit
// dropout_keep's (the attention and CUDA paths). The per-element call with a double compare was
// scalar code (dropout fwd 1.55x, fwd+bwd 2.6x PyTorch's time; GCC did not vectorise it at the
// AVX2 level), so Philox runs here on 8 (AVX2) or 16 (AVX-512) counters at once in 32-bit lanes,
// its 32x32->64 products from two vpmuludq (even and odd lanes); at the SSE4.1 level 8 counters
// as two registers.
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

#if defined(__AVX512F__)
struct U32 {
    __m512i v;
    static constexpr int W = 16;
    static U32 set1(uint32_t a) { return {_mm512_set1_epi32(static_cast<int>(a))}; }
    static U32 iota(uint32_t a) {
        return {_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(a)),
                                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))};
    }
    friend U32 operator^(U32 a, U32 b) { return {_mm512_xor_si512(a.v, b.v)}; }
    // hi:lo = a * m for every lane
    static void mulhilo(U32 a, U32 m, U32& hi, U32& lo) {
        const __m512i ev = _mm512_mul_epu32(a.v, m.v);
        const __m512i od = _mm512_mul_epu32(_mm512_srli_epi64(a.v, 32), m.v);
        lo = {_mm512_mask_blend_epi32(0xAAAA, ev, _mm512_slli_epi64(od, 32))};
        hi = {_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(ev, 32), od)};
    }
    using Keep = __mmask16;
    static Keep keep(U32 o0, U32 o1, const KeepRule& k) {
        const __m512i th = _mm512_set1_epi32(static_cast<int>(k.th)), tl = _mm512_set1_epi32(static_cast<int>(k.tl));
        const __mmask16 gt = _mm512_cmpgt_epu32_mask(o0.v, th), eq = _mm512_cmpeq_epi32_mask(o0.v, th);
        return static_cast<__mmask16>(gt | (eq & _mm512_cmpge_epu32_mask(o1.v, tl)));
    }
    static void apply(const float* x, float* o, Keep m, float sc) {
        _mm512_storeu_ps(o, _mm512_maskz_mul_ps(m, _mm512_loadu_ps(x), _mm512_set1_ps(sc)));
    }
    static void apply(const double* x, double* o, Keep m, double sc) {
        const __m512d s = _mm512_set1_pd(sc);
        _mm512_storeu_pd(o, _mm512_maskz_mul_pd(static_cast<__mmask8>(m), _mm512_loadu_pd(x), s));
        _mm512_storeu_pd(o + 8, _mm512_maskz_mul_pd(static_cast<__mmask8>(m >> 8), _mm512_loadu_pd(x + 8), s));
    }
};
#define LAMINA_DROPOUT_VEC 1
#elif defined(__AVX2__)
struct U32 {
    __m256i v;
    static constexpr int W = 8;
    static U32 set1(uint32_t a) { return {_mm256_set1_epi32(static_cast<int>(a))}; }
    static U32 iota(uint32_t a) {
        return {_mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(a)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))};
    }
    friend U32 operator^(U32 a, U32 b) { return {_mm256_xor_si256(a.v, b.v)}; }
    static void mulhilo(U32 a, U32 m, U32& hi, U32& lo) {
        const __m256i ev = _mm256_mul_epu32(a.v, m.v);
        const __m256i od = _mm256_mul_epu32(_mm256_srli_epi64(a.v, 32), m.v);
        lo = {_mm256_blend_epi32(ev, _mm256_slli_epi64(od, 32), 0xAA)};
        hi = {_mm256_blend_epi32(_mm256_srli_epi64(ev, 32), od, 0xAA)};
    }
    using Keep = __m256i;  // all-ones lanes are kept
    static Keep keep(U32 o0, U32 o1, const KeepRule& k) {
        const __m256i th = _mm256_set1_epi32(static_cast<int>(k.th)), tl = _mm256_set1_epi32(static_cast<int>(k.tl));
        // unsigned a >= b  <=>  max_epu32(a, b) == a
        const __m256i ge = _mm256_cmpeq_epi32(_mm256_max_epu32(o0.v, th), o0.v);
        const __m256i eq = _mm256_cmpeq_epi32(o0.v, th);
        const __m256i lo_ge = _mm256_cmpeq_epi32(_mm256_max_epu32(o1.v, tl), o1.v);
        // o0 > th, or o0 == th and o1 >= tl
        return _mm256_or_si256(_mm256_andnot_si256(eq, ge), _mm256_and_si256(eq, lo_ge));
    }
    static void apply(const float* x, float* o, Keep m, float sc) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_set1_ps(sc));
        _mm256_storeu_ps(o, _mm256_and_ps(v, _mm256_castsi256_ps(m)));
    }
    static void apply(const double* x, double* o, Keep m, double sc) {
        const __m256d s = _mm256_set1_pd(sc);
        const __m256i m0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m));
        const __m256i m1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1));
        _mm256_storeu_pd(o, _mm256_and_pd(_mm256_mul_pd(_mm256_loadu_pd(x), s), _mm256_castsi256_pd(m0)));
        _mm256_storeu_pd(o + 4, _mm256_and_pd(_mm256_mul_pd(_mm256_loadu_pd(x + 4), s), _mm256_castsi256_pd(m1)));
    }
};
#define LAMINA_DROPOUT_VEC 1
#elif defined(__SSE4_1__)
// x86-64-v2 (the `default` level): 8 counters as two SSE registers, two independent Philox chains
// per step (the scalar rounds left dropout fwd at 1.25x and fwd+bwd at 2.16x PyTorch's time).
struct U32 {
    __m128i a, b;
    static constexpr int W = 8;
    static U32 set1(uint32_t x) {
        const __m128i v = _mm_set1_epi32(static_cast<int>(x));
        return {v, v};
    }
    static U32 iota(uint32_t x) {
        const __m128i v = _mm_set1_epi32(static_cast<int>(x));
        return {_mm_add_epi32(v, _mm_setr_epi32(0, 1, 2, 3)), _mm_add_epi32(v, _mm_setr_epi32(4, 5, 6, 7))};
    }
    friend U32 operator^(U32 x, U32 y) { return {_mm_xor_si128(x.a, y.a), _mm_xor_si128(x.b, y.b)}; }
    static void mulhilo1(__m128i x, __m128i m, __m128i& hi, __m128i& lo) {
        const __m128i ev = _mm_mul_epu32(x, m);
        const __m128i od = _mm_mul_epu32(_mm_srli_epi64(x, 32), m);
        lo = _mm_blend_epi16(ev, _mm_slli_epi64(od, 32), 0xCC);  // 16-bit lanes 2,3,6,7: odd dwords
        hi = _mm_blend_epi16(_mm_srli_epi64(ev, 32), od, 0xCC);
    }
    static void mulhilo(U32 x, U32 m, U32& hi, U32& lo) {
        mulhilo1(x.a, m.a, hi.a, lo.a);
        mulhilo1(x.b, m.b, hi.b, lo.b);
    }
    struct Keep {
        __m128i a, b;  // all-ones lanes are kept
    };
    static __m128i keep1(__m128i o0, __m128i o1, __m128i th, __m128i tl) {
        // unsigned a >= b  <=>  max_epu32(a, b) == a
        const __m128i ge = _mm_cmpeq_epi32(_mm_max_epu32(o0, th), o0);
        const __m128i eq = _mm_cmpeq_epi32(o0, th);
        const __m128i lo_ge = _mm_cmpeq_epi32(_mm_max_epu32(o1, tl), o1);
        return _mm_or_si128(_mm_andnot_si128(eq, ge), _mm_and_si128(eq, lo_ge));
    }
    static Keep keep(U32 o0, U32 o1, const KeepRule& k) {
        const __m128i th = _mm_set1_epi32(static_cast<int>(k.th)), tl = _mm_set1_epi32(static_cast<int>(k.tl));
        return {keep1(o0.a, o1.a, th, tl), keep1(o0.b, o1.b, th, tl)};
    }
    static void apply(const float* x, float* o, Keep m, float sc) {
        const __m128 s = _mm_set1_ps(sc);
        _mm_storeu_ps(o, _mm_and_ps(_mm_mul_ps(_mm_loadu_ps(x), s), _mm_castsi128_ps(m.a)));
        _mm_storeu_ps(o + 4, _mm_and_ps(_mm_mul_ps(_mm_loadu_ps(x + 4), s), _mm_castsi128_ps(m.b)));
    }
    static void apply(const double* x, double* o, Keep m, double sc) {
        const __m128d s = _mm_set1_pd(sc);
        const __m128i ms[4] = {_mm_cvtepi32_epi64(m.a), _mm_cvtepi32_epi64(_mm_srli_si128(m.a, 8)),
                               _mm_cvtepi32_epi64(m.b), _mm_cvtepi32_epi64(_mm_srli_si128(m.b, 8))};
        for (int q = 0; q < 4; ++q)
            _mm_storeu_pd(o + 2 * q, _mm_and_pd(_mm_mul_pd(_mm_loadu_pd(x + 2 * q), s), _mm_castsi128_pd(ms[q])));
    }
};
#define LAMINA_DROPOUT_VEC 1
#endif

#ifdef LAMINA_DROPOUT_VEC
// Philox4x32-10 (philox.h's rounds) on W consecutive counters whose low words do not wrap;
// returns the first two output words.
inline void philox_lanes(uint64_t counter, uint64_t seed, U32& o0, U32& o1) {
    U32 c0 = U32::iota(static_cast<uint32_t>(counter)), c1 = U32::set1(static_cast<uint32_t>(counter >> 32));
    U32 c2 = U32::set1(0), c3 = U32::set1(0);
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    const U32 m0 = U32::set1(0xD2511F53u), m1 = U32::set1(0xCD9E8D57u);
    for (int r = 0; r < 10; ++r) {
        U32 hi0, lo0, hi1, lo1;
        U32::mulhilo(c0, m0, hi0, lo0);
        U32::mulhilo(c2, m1, hi1, lo1);
        const U32 n0 = hi1 ^ c1 ^ U32::set1(k0);
        const U32 n2 = hi0 ^ c3 ^ U32::set1(k1);
        c1 = lo1;
        c3 = lo0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    o0 = c0;
    o1 = c1;
}
#endif

// out[i] = keep(i) ? in[i] * scale : 0 over contiguous buffers.
template <class T>
void mask_kernel(const T* x, T* o, int64_t n, double p, uint64_t seed, uint64_t offset) {
    const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    const KeepRule k = keep_rule(p);
    parallel_for(0, n, kGrainElementwise / 8, [&](int64_t b, int64_t e) {
#ifdef LAMINA_DROPOUT_VEC
        constexpr int W = U32::W;
#else
        constexpr int W = 1;
#endif
        int64_t i = b;
        while (i < e) {
#ifdef LAMINA_DROPOUT_VEC
            if (!k.all && !k.none) {
                for (; i + W <= e; i += W) {
                    const uint64_t ctr = offset + static_cast<uint64_t>(i);
                    if (static_cast<uint32_t>(ctr) > 0xFFFFFFFFu - (W - 1)) break;  // the low word wraps
                    U32 o0, o1;
                    philox_lanes(ctr, seed, o0, o1);
                    U32::apply(x + i, o + i, U32::keep(o0, o1, k), scale);
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
