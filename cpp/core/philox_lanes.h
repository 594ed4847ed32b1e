// Philox4x32-10 (philox.h's rounds) on W consecutive counters at once, one 32-bit SIMD lane per
// counter: 16 lanes at AVX-512, 8 at AVX2, 8 as two SSE registers at the default (x86-64-v2)
// level. Shared by the dropout masks and the RBM's Bernoulli draws, which give the same words as
// the scalar philox4x32_words for each counter. LAMINA_PHILOX_LANES is defined when a vector
// version exists for the level being compiled.
#pragma once
#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE4_1__)
#include <immintrin.h>
#endif

namespace lamina {
namespace philox_vec {

// The 32x32 -> 64-bit products come from two vpmuludq (even lanes, then odd lanes shifted down),
// blended back into per-lane low and high words.
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
    void store(uint32_t* dst) const { _mm512_storeu_si512(dst, v); }
    // hi:lo = a * m for every lane
    static void mulhilo(U32 a, U32 m, U32& hi, U32& lo) {
        const __m512i ev = _mm512_mul_epu32(a.v, m.v);
        const __m512i od = _mm512_mul_epu32(_mm512_srli_epi64(a.v, 32), m.v);
        lo = {_mm512_mask_blend_epi32(0xAAAA, ev, _mm512_slli_epi64(od, 32))};
        hi = {_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(ev, 32), od)};
    }
};
#define LAMINA_PHILOX_LANES 1
#elif defined(__AVX2__)
struct U32 {
    __m256i v;
    static constexpr int W = 8;
    static U32 set1(uint32_t a) { return {_mm256_set1_epi32(static_cast<int>(a))}; }
    static U32 iota(uint32_t a) {
        return {_mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(a)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))};
    }
    friend U32 operator^(U32 a, U32 b) { return {_mm256_xor_si256(a.v, b.v)}; }
    void store(uint32_t* dst) const { _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v); }
    static void mulhilo(U32 a, U32 m, U32& hi, U32& lo) {
        const __m256i ev = _mm256_mul_epu32(a.v, m.v);
        const __m256i od = _mm256_mul_epu32(_mm256_srli_epi64(a.v, 32), m.v);
        lo = {_mm256_blend_epi32(ev, _mm256_slli_epi64(od, 32), 0xAA)};
        hi = {_mm256_blend_epi32(_mm256_srli_epi64(ev, 32), od, 0xAA)};
    }
};
#define LAMINA_PHILOX_LANES 1
#elif defined(__SSE4_1__)
// Two SSE registers: two independent Philox chains per round keep both multiply ports busy.
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
    void store(uint32_t* dst) const {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), a);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 4), b);
    }
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
};
#define LAMINA_PHILOX_LANES 1
#endif

#ifdef LAMINA_PHILOX_LANES
// The first two output words of Philox4x32-10 for counters counter .. counter + W - 1, whose low
// 32-bit words must not wrap (callers take the scalar path for the block that would).
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

// True when the W counters starting at `counter` would wrap the low word (once per 2^32).
inline bool lanes_wrap(uint64_t counter) {
    return static_cast<uint32_t>(counter) > 0xFFFFFFFFu - static_cast<uint32_t>(U32::W - 1);
}
#endif

}  // namespace philox_vec
}  // namespace lamina
