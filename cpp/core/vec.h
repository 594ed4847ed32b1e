// lamina::vec::Vectorized<T>: one small SIMD vector type (after PyTorch's at::vec::Vectorized) so
// a kernel is written once and compiled per ISA level: AVX-512 (16 floats / 8 doubles), AVX2+FMA
// (8 / 4), SSE4.1 for float at the x86-64-v2 level (8 floats in two registers), or a portable
// fixed-width array (doubles below AVX2, and non-x86 compilers). Chosen by the ISA macros.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__)) || defined(__SSE4_1__)
#include <immintrin.h>
#endif

namespace lamina::vec {

// Semantics every specialisation keeps:
// - min/max follow x86 (the second operand when either is NaN); maximum() propagates NaN.
// - comparisons are ordered (false on NaN) except !=, which is true on NaN; they return a Mask.
// - loadu(p, count) reads `count` elements and zero-fills the rest; store(p, count) writes count.
// - round_small rounds to nearest-even and is exact only for |x| < 2^22 (enough for exponents).
// - scale2n_bits(y, kk): y 2^n where kk = n + 1.5 * 2^23 (the magic-number rounding's sum, whose
//   low mantissa bits are n): an integer add to y's exponent field, right only while the result is
//   a normal number (callers check the range and fall back to scale2n).
// - frexp_sqrt2(x, e): x = m 2^e with m in [sqrt(1/2), sqrt(2)) for positive normal x, by one
//   integer subtract of sqrt(1/2)'s bits (no compare-and-select to move m into that range).
// - pow2n(n): 2^n for integral n in [-126, 127].
// - or_sign(mag, sgn) (float): mag with sgn's sign bit set into it, i.e. copysign for mag >= 0.
// - neg_min_abs(x, c) (float): -min(|x|, c) for c > 0; a NaN x gives NaN or -c (levels differ).
// - reduce_add_f64(v) (float): the lanes' sum in double (each lane widened first, so no float
//   rounding; for compensated sums whose last step must not round again).
// - lookup32(t, idx), interval_index(x, base, shift) (float): a 32-entry table by index bits; one
//   instruction each only where kTable32<V> (AVX-512), lane-by-lane fallbacks elsewhere.
// The helpers built from these members over any V (scale2n, maximum, lookup32, the generic
// neg_min_abs, interval_index) live in vec_generic.h, included at the end of this file.
template <class T, int N>
struct VecArray {
    T v[N];
    struct Mask {
        bool m[N];
        Mask operator&(const Mask& o) const { Mask r; for (int i = 0; i < N; ++i) r.m[i] = m[i] && o.m[i]; return r; }
        Mask operator|(const Mask& o) const { Mask r; for (int i = 0; i < N; ++i) r.m[i] = m[i] || o.m[i]; return r; }
        bool any() const { bool a = false; for (int i = 0; i < N; ++i) a = a || m[i]; return a; }
        bool all() const { bool a = true; for (int i = 0; i < N; ++i) a = a && m[i]; return a; }
    };
    static constexpr int size() { return N; }
    static constexpr bool kHasScalef = false;
    VecArray() = default;
    VecArray(T s) { for (int i = 0; i < N; ++i) v[i] = s; }  // NOLINT: broadcast
    static VecArray loadu(const T* p) { VecArray r; for (int i = 0; i < N; ++i) r.v[i] = p[i]; return r; }
    static VecArray loadu(const T* p, int count) {
        VecArray r(T(0));
        for (int i = 0; i < count; ++i) r.v[i] = p[i];
        return r;
    }
    void store(T* p) const { for (int i = 0; i < N; ++i) p[i] = v[i]; }
    void store(T* p, int count) const { for (int i = 0; i < count; ++i) p[i] = v[i]; }
    T operator[](int i) const { return v[i]; }
#define LAMINA_VEC_BIN(op)                                                                  \
    friend VecArray operator op(const VecArray& a, const VecArray& b) {                     \
        VecArray r; for (int i = 0; i < N; ++i) r.v[i] = a.v[i] op b.v[i]; return r;         \
    }
    LAMINA_VEC_BIN(+) LAMINA_VEC_BIN(-) LAMINA_VEC_BIN(*) LAMINA_VEC_BIN(/)
#undef LAMINA_VEC_BIN
#define LAMINA_VEC_CMP(op)                                                                  \
    friend Mask operator op(const VecArray& a, const VecArray& b) {                         \
        Mask r; for (int i = 0; i < N; ++i) r.m[i] = a.v[i] op b.v[i]; return r;             \
    }
    LAMINA_VEC_CMP(<) LAMINA_VEC_CMP(<=) LAMINA_VEC_CMP(>) LAMINA_VEC_CMP(>=) LAMINA_VEC_CMP(==)
    LAMINA_VEC_CMP(!=)
#undef LAMINA_VEC_CMP
    VecArray operator-() const { VecArray r; for (int i = 0; i < N; ++i) r.v[i] = -v[i]; return r; }
    friend VecArray fmadd(const VecArray& a, const VecArray& b, const VecArray& c) {
        VecArray r; for (int i = 0; i < N; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i]; return r;
    }
    friend VecArray min(const VecArray& a, const VecArray& b) {
        VecArray r; for (int i = 0; i < N; ++i) r.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i]; return r;
    }
    friend VecArray max(const VecArray& a, const VecArray& b) {
        VecArray r; for (int i = 0; i < N; ++i) r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i]; return r;
    }
    friend VecArray abs(const VecArray& a) {
        VecArray r; for (int i = 0; i < N; ++i) r.v[i] = a.v[i] < T(0) ? -a.v[i] : (a.v[i] == T(0) ? T(0) : a.v[i]);
        return r;
    }
    // mask ? a : b
    friend VecArray select(const Mask& m, const VecArray& a, const VecArray& b) {
        VecArray r; for (int i = 0; i < N; ++i) r.v[i] = m.m[i] ? a.v[i] : b.v[i]; return r;
    }
    friend VecArray round_small(const VecArray& a) {
        // 1.5 * 2^(mantissa bits): adding it rounds to an integer (std::nearbyint is a libm call).
        const T magic = sizeof(T) == 4 ? T(12582912.0) : T(6755399441055744.0);
        VecArray r; for (int i = 0; i < N; ++i) r.v[i] = (a.v[i] + magic) - magic; return r;
    }
    // mag with sgn's sign bit or'ed in (mag's own sign bit clear): copysign for mag >= 0.
    friend VecArray or_sign(const VecArray& mag, const VecArray& sgn) {
        VecArray r; for (int i = 0; i < N; ++i) r.v[i] = std::copysign(mag.v[i], sgn.v[i]); return r;
    }
    friend T reduce_add(const VecArray& a) { T s = 0; for (int i = 0; i < N; ++i) s += a.v[i]; return s; }
    friend T reduce_max(const VecArray& a) {
        T s = a.v[0]; for (int i = 1; i < N; ++i) s = a.v[i] > s ? a.v[i] : s; return s;
    }
    friend double reduce_add_f64(const VecArray& a) {
        double s = 0; for (int i = 0; i < N; ++i) s += static_cast<double>(a.v[i]); return s;
    }
};

template <int N>
inline VecArray<float, N> pow2n(const VecArray<float, N>& n) {
    VecArray<float, N> r;
    for (int i = 0; i < N; ++i) {
        const int32_t b = (static_cast<int32_t>(n.v[i]) + 127) << 23;
        std::memcpy(&r.v[i], &b, 4);
    }
    return r;
}
template <int N>
inline VecArray<float, N> scale2n_bits(const VecArray<float, N>& y, const VecArray<float, N>& kk) {
    VecArray<float, N> r;
    for (int i = 0; i < N; ++i) {
        uint32_t a, b;
        std::memcpy(&a, &y.v[i], 4);
        std::memcpy(&b, &kk.v[i], 4);
        a += b << 23;
        std::memcpy(&r.v[i], &a, 4);
    }
    return r;
}
template <int N>
inline VecArray<float, N> frexp_sqrt2(const VecArray<float, N>& x, VecArray<float, N>& e) {
    VecArray<float, N> r;
    for (int i = 0; i < N; ++i) {
        int32_t b;
        std::memcpy(&b, &x.v[i], 4);
        b -= 0x3f3504f3;
        e.v[i] = static_cast<float>(b >> 23);  // arithmetic shift (C++20 defines it; GCC always did)
        b = (b & 0x007fffff) + 0x3f3504f3;
        std::memcpy(&r.v[i], &b, 4);
    }
    return r;
}

template <class T>
struct Vectorized : VecArray<T, 32 / sizeof(T)> {
    using Base = VecArray<T, 32 / sizeof(T)>;
    using Base::Base;
    Vectorized(const Base& b) : Base(b) {}  // NOLINT
};

#if defined(__AVX512F__)

// GCC 12 flags the _mm512_undefined_* pass-through inside _mm512_max_ps & co. as "(maybe)
// uninitialized" where they inline (a known false positive). The warning is issued in the
// including file's functions, so a push/pop around this header would not reach it: it stays off
// for files that include vec.h in AVX-512 builds.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

template <>
struct Vectorized<float> {
    __m512 v;
    struct Mask {
        __mmask16 m;
        Mask operator&(Mask o) const { return {static_cast<__mmask16>(m & o.m)}; }
        Mask operator|(Mask o) const { return {static_cast<__mmask16>(m | o.m)}; }
        bool any() const { return m != 0; }
        bool all() const { return m == 0xffff; }
    };
    static constexpr int size() { return 16; }
    Vectorized() = default;
    Vectorized(__m512 x) : v(x) {}                    // NOLINT
    Vectorized(float s) : v(_mm512_set1_ps(s)) {}     // NOLINT: broadcast
    static Vectorized loadu(const float* p) { return _mm512_loadu_ps(p); }
    static Vectorized loadu(const float* p, int count) {
        return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
    }
    void store(float* p) const { _mm512_storeu_ps(p, v); }
    void store(float* p, int count) const {
        _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1), v);
    }
    friend Vectorized operator+(Vectorized a, Vectorized b) { return _mm512_add_ps(a.v, b.v); }
    friend Vectorized operator-(Vectorized a, Vectorized b) { return _mm512_sub_ps(a.v, b.v); }
    friend Vectorized operator*(Vectorized a, Vectorized b) { return _mm512_mul_ps(a.v, b.v); }
    friend Vectorized operator/(Vectorized a, Vectorized b) { return _mm512_div_ps(a.v, b.v); }
    Vectorized operator-() const {
        return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN)));
    }
    friend Mask operator<(Vectorized a, Vectorized b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
    friend Mask operator<=(Vectorized a, Vectorized b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
    friend Mask operator>(Vectorized a, Vectorized b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
    friend Mask operator>=(Vectorized a, Vectorized b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
    friend Mask operator==(Vectorized a, Vectorized b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
    friend Mask operator!=(Vectorized a, Vectorized b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
    friend Vectorized fmadd(Vectorized a, Vectorized b, Vectorized c) { return _mm512_fmadd_ps(a.v, b.v, c.v); }
    friend Vectorized min(Vectorized a, Vectorized b) { return _mm512_min_ps(a.v, b.v); }
    friend Vectorized max(Vectorized a, Vectorized b) { return _mm512_max_ps(a.v, b.v); }
    friend Vectorized abs(Vectorized a) {
        return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(0x7fffffff)));
    }
    friend Vectorized select(Mask m, Vectorized a, Vectorized b) { return _mm512_mask_blend_ps(m.m, b.v, a.v); }
    friend Vectorized or_sign(Vectorized mag, Vectorized sgn) {  // mag | (sgn & sign bit): one vpternlogd
        return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(mag.v), _mm512_castps_si512(sgn.v),
                                                             _mm512_set1_epi32(INT32_MIN), 0xf8));
    }
    // -min(|x|, c) for c > 0 in one vrangeps (min of magnitudes, sign bit set); NaN stays NaN.
#if defined(__AVX512DQ__)
    friend Vectorized neg_min_abs(Vectorized x, Vectorized c) { return _mm512_range_ps(x.v, c.v, 0x0E); }
#endif
    friend Vectorized round_small(Vectorized a) {
        return _mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    friend float reduce_add(Vectorized a) { return _mm512_reduce_add_ps(a.v); }
    friend float reduce_max(Vectorized a) { return _mm512_reduce_max_ps(a.v); }
    friend double reduce_add_f64(Vectorized a) {  // lanes widened to double, then added
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a.v));
        const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a.v), 1)));
        return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    }
    friend Vectorized pow2n(Vectorized n) {
        const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n.v), _mm512_set1_epi32(127));
        return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
    }
    // y 2^n for integral n, rounding once into the denormals (vscalefps).
    friend Vectorized scale2n(Vectorized y, Vectorized n) { return _mm512_scalef_ps(y.v, n.v); }
    static constexpr bool kHasScalef = true;
    friend Vectorized scale2n_bits(Vectorized y, Vectorized kk) {
        return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(y.v),
                                                    _mm512_slli_epi32(_mm512_castps_si512(kk.v), 23)));
    }
    friend Vectorized frexp_sqrt2(Vectorized x, Vectorized& e) {
        const __m512i b = _mm512_sub_epi32(_mm512_castps_si512(x.v), _mm512_set1_epi32(0x3f3504f3));
        e = _mm512_cvtepi32_ps(_mm512_srai_epi32(b, 23));
        return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_and_si512(b, _mm512_set1_epi32(0x007fffff)),
                                                    _mm512_set1_epi32(0x3f3504f3)));
    }
    // t[i] per lane, i = idx's int32 bits & 31: one vpermt2ps over the table's two registers
    // (loop invariant where the table is a constant).
    friend Vectorized lookup32(const float* t, Vectorized idx) {
        return _mm512_permutex2var_ps(_mm512_loadu_ps(t), _mm512_castps_si512(idx.v), _mm512_loadu_ps(t + 16));
    }
    // max(bits(x) - base, 0) >> shift as int32 bits (x >= 0 or NaN): a table index from the exponent
    // and the top mantissa bits, so each octave above base splits into 2^(23 - shift) intervals.
    friend Vectorized interval_index(Vectorized x, int32_t base, int shift) {
        const __m512i d = _mm512_max_epi32(_mm512_sub_epi32(_mm512_castps_si512(x.v), _mm512_set1_epi32(base)),
                                           _mm512_setzero_si512());
        return _mm512_castsi512_ps(_mm512_srl_epi32(d, _mm_cvtsi32_si128(shift)));
    }
};

template <>
struct Vectorized<double> {
    __m512d v;
    struct Mask {
        __mmask8 m;
        Mask operator&(Mask o) const { return {static_cast<__mmask8>(m & o.m)}; }
        Mask operator|(Mask o) const { return {static_cast<__mmask8>(m | o.m)}; }
        bool any() const { return m != 0; }
    };
    static constexpr int size() { return 8; }
    Vectorized() = default;
    Vectorized(__m512d x) : v(x) {}                   // NOLINT
    Vectorized(double s) : v(_mm512_set1_pd(s)) {}    // NOLINT: broadcast
    static Vectorized loadu(const double* p) { return _mm512_loadu_pd(p); }
    static Vectorized loadu(const double* p, int count) {
        return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << count) - 1), p);
    }
    void store(double* p) const { _mm512_storeu_pd(p, v); }
    void store(double* p, int count) const {
        _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << count) - 1), v);
    }
    double operator[](int i) const { alignas(64) double t[8]; _mm512_store_pd(t, v); return t[i]; }
    friend Vectorized operator+(Vectorized a, Vectorized b) { return _mm512_add_pd(a.v, b.v); }
    friend Vectorized operator-(Vectorized a, Vectorized b) { return _mm512_sub_pd(a.v, b.v); }
    friend Vectorized operator*(Vectorized a, Vectorized b) { return _mm512_mul_pd(a.v, b.v); }
    friend Vectorized operator/(Vectorized a, Vectorized b) { return _mm512_div_pd(a.v, b.v); }
    Vectorized operator-() const { return _mm512_sub_pd(_mm512_setzero_pd(), v); }
    friend Mask operator<(Vectorized a, Vectorized b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ)}; }
    friend Mask operator<=(Vectorized a, Vectorized b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LE_OQ)}; }
    friend Mask operator>(Vectorized a, Vectorized b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)}; }
    friend Mask operator>=(Vectorized a, Vectorized b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GE_OQ)}; }
    friend Mask operator==(Vectorized a, Vectorized b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_EQ_OQ)}; }
    friend Mask operator!=(Vectorized a, Vectorized b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
    friend Vectorized fmadd(Vectorized a, Vectorized b, Vectorized c) { return _mm512_fmadd_pd(a.v, b.v, c.v); }
    friend Vectorized min(Vectorized a, Vectorized b) { return _mm512_min_pd(a.v, b.v); }
    friend Vectorized max(Vectorized a, Vectorized b) { return _mm512_max_pd(a.v, b.v); }
    friend Vectorized abs(Vectorized a) {
        return _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(INT64_MAX)));
    }
    friend Vectorized select(Mask m, Vectorized a, Vectorized b) { return _mm512_mask_blend_pd(m.m, b.v, a.v); }
    friend Vectorized round_small(Vectorized a) {
        return _mm512_roundscale_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    friend double reduce_add(Vectorized a) { return _mm512_reduce_add_pd(a.v); }
    friend double reduce_max(Vectorized a) { return _mm512_reduce_max_pd(a.v); }
};

#elif defined(__AVX2__) && defined(__FMA__)

template <>
struct Vectorized<float> {
    __m256 v;
    struct Mask {
        __m256 m;  // all-ones lanes where true
        Mask operator&(Mask o) const { return {_mm256_and_ps(m, o.m)}; }
        Mask operator|(Mask o) const { return {_mm256_or_ps(m, o.m)}; }
        bool any() const { return _mm256_movemask_ps(m) != 0; }
        bool all() const { return _mm256_movemask_ps(m) == 0xff; }
    };
    static constexpr int size() { return 8; }
    Vectorized() = default;
    Vectorized(__m256 x) : v(x) {}                   // NOLINT
    Vectorized(float s) : v(_mm256_set1_ps(s)) {}    // NOLINT: broadcast
    static __m256i tail_mask(int count) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static Vectorized loadu(const float* p) { return _mm256_loadu_ps(p); }
    static Vectorized loadu(const float* p, int count) { return _mm256_maskload_ps(p, tail_mask(count)); }
    void store(float* p) const { _mm256_storeu_ps(p, v); }
    void store(float* p, int count) const { _mm256_maskstore_ps(p, tail_mask(count), v); }
    friend Vectorized operator+(Vectorized a, Vectorized b) { return _mm256_add_ps(a.v, b.v); }
    friend Vectorized operator-(Vectorized a, Vectorized b) { return _mm256_sub_ps(a.v, b.v); }
    friend Vectorized operator*(Vectorized a, Vectorized b) { return _mm256_mul_ps(a.v, b.v); }
    friend Vectorized operator/(Vectorized a, Vectorized b) { return _mm256_div_ps(a.v, b.v); }
    Vectorized operator-() const { return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f)); }
    friend Mask operator<(Vectorized a, Vectorized b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
    friend Mask operator<=(Vectorized a, Vectorized b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
    friend Mask operator>(Vectorized a, Vectorized b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
    friend Mask operator>=(Vectorized a, Vectorized b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
    friend Mask operator==(Vectorized a, Vectorized b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
    friend Mask operator!=(Vectorized a, Vectorized b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NEQ_UQ)}; }
    friend Vectorized fmadd(Vectorized a, Vectorized b, Vectorized c) { return _mm256_fmadd_ps(a.v, b.v, c.v); }
    friend Vectorized min(Vectorized a, Vectorized b) { return _mm256_min_ps(a.v, b.v); }
    friend Vectorized max(Vectorized a, Vectorized b) { return _mm256_max_ps(a.v, b.v); }
    friend Vectorized abs(Vectorized a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v); }
    friend Vectorized select(Mask m, Vectorized a, Vectorized b) { return _mm256_blendv_ps(b.v, a.v, m.m); }
    friend Vectorized or_sign(Vectorized mag, Vectorized sgn) {
        return _mm256_or_ps(mag.v, _mm256_and_ps(sgn.v, _mm256_set1_ps(-0.0f)));
    }
    friend Vectorized round_small(Vectorized a) {
        return _mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    friend float reduce_add(Vectorized a) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    friend float reduce_max(Vectorized a) {
        __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        s = _mm_max_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    friend double reduce_add_f64(Vectorized a) {  // lanes widened to double, then added
        const __m256d w = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a.v)),
                                        _mm256_cvtps_pd(_mm256_extractf128_ps(a.v, 1)));
        const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(w), _mm256_extractf128_pd(w, 1));
        return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    }
    friend Vectorized pow2n(Vectorized n) {
        const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n.v), _mm256_set1_epi32(127));
        return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
    }
    static constexpr bool kHasScalef = false;
    friend Vectorized scale2n_bits(Vectorized y, Vectorized kk) {
        return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y.v),
                                                    _mm256_slli_epi32(_mm256_castps_si256(kk.v), 23)));
    }
    friend Vectorized frexp_sqrt2(Vectorized x, Vectorized& e) {
        const __m256i b = _mm256_sub_epi32(_mm256_castps_si256(x.v), _mm256_set1_epi32(0x3f3504f3));
        e = _mm256_cvtepi32_ps(_mm256_srai_epi32(b, 23));
        return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)),
                                                    _mm256_set1_epi32(0x3f3504f3)));
    }
};

template <>
struct Vectorized<double> {
    __m256d v;
    struct Mask {
        __m256d m;
        Mask operator&(Mask o) const { return {_mm256_and_pd(m, o.m)}; }
        Mask operator|(Mask o) const { return {_mm256_or_pd(m, o.m)}; }
        bool any() const { return _mm256_movemask_pd(m) != 0; }
    };
    static constexpr int size() { return 4; }
    Vectorized() = default;
    Vectorized(__m256d x) : v(x) {}                  // NOLINT
    Vectorized(double s) : v(_mm256_set1_pd(s)) {}   // NOLINT: broadcast
    static __m256i tail_mask(int count) {
        return _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3));
    }
    static Vectorized loadu(const double* p) { return _mm256_loadu_pd(p); }
    static Vectorized loadu(const double* p, int count) { return _mm256_maskload_pd(p, tail_mask(count)); }
    void store(double* p) const { _mm256_storeu_pd(p, v); }
    void store(double* p, int count) const { _mm256_maskstore_pd(p, tail_mask(count), v); }
    double operator[](int i) const { alignas(32) double t[4]; _mm256_store_pd(t, v); return t[i]; }
    friend Vectorized operator+(Vectorized a, Vectorized b) { return _mm256_add_pd(a.v, b.v); }
    friend Vectorized operator-(Vectorized a, Vectorized b) { return _mm256_sub_pd(a.v, b.v); }
    friend Vectorized operator*(Vectorized a, Vectorized b) { return _mm256_mul_pd(a.v, b.v); }
    friend Vectorized operator/(Vectorized a, Vectorized b) { return _mm256_div_pd(a.v, b.v); }
    Vectorized operator-() const { return _mm256_xor_pd(v, _mm256_set1_pd(-0.0)); }
    friend Mask operator<(Vectorized a, Vectorized b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
    friend Mask operator<=(Vectorized a, Vectorized b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LE_OQ)}; }
    friend Mask operator>(Vectorized a, Vectorized b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)}; }
    friend Mask operator>=(Vectorized a, Vectorized b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GE_OQ)}; }
    friend Mask operator==(Vectorized a, Vectorized b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_EQ_OQ)}; }
    friend Mask operator!=(Vectorized a, Vectorized b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_NEQ_UQ)}; }
    friend Vectorized fmadd(Vectorized a, Vectorized b, Vectorized c) { return _mm256_fmadd_pd(a.v, b.v, c.v); }
    friend Vectorized min(Vectorized a, Vectorized b) { return _mm256_min_pd(a.v, b.v); }
    friend Vectorized max(Vectorized a, Vectorized b) { return _mm256_max_pd(a.v, b.v); }
    friend Vectorized abs(Vectorized a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v); }
    friend Vectorized select(Mask m, Vectorized a, Vectorized b) { return _mm256_blendv_pd(b.v, a.v, m.m); }
    friend Vectorized round_small(Vectorized a) {
        return _mm256_round_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    friend double reduce_add(Vectorized a) {
        __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a.v), _mm256_extractf128_pd(a.v, 1));
        return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
    }
    friend double reduce_max(Vectorized a) {
        __m128d s = _mm_max_pd(_mm256_castpd256_pd128(a.v), _mm256_extractf128_pd(a.v, 1));
        return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
    }
};

#elif defined(__SSE4_1__)

// x86-64-v2 (the portable `default` level): 8 floats as two SSE registers, so kernels see the same
// width as with AVX2 and every operation is two independent instructions (no FMA at this level:
// fmadd rounds twice). The plain-array fallback compiled to scalar code for the transcendental
// loops, 4-8x slower than PyTorch's SSE paths.
template <>
struct Vectorized<float> {
    __m128 lo, hi;
    struct Mask {
        __m128 lo, hi;  // all-ones lanes where true
        Mask operator&(Mask o) const { return {_mm_and_ps(lo, o.lo), _mm_and_ps(hi, o.hi)}; }
        Mask operator|(Mask o) const { return {_mm_or_ps(lo, o.lo), _mm_or_ps(hi, o.hi)}; }
        int bits() const { return _mm_movemask_ps(lo) | (_mm_movemask_ps(hi) << 4); }
        bool any() const { return bits() != 0; }
        bool all() const { return bits() == 0xff; }
    };
    static constexpr int size() { return 8; }
    Vectorized() = default;
    Vectorized(__m128 a, __m128 b) : lo(a), hi(b) {}
    Vectorized(float s) : lo(_mm_set1_ps(s)), hi(_mm_set1_ps(s)) {}  // NOLINT: broadcast
    static Vectorized loadu(const float* p) { return {_mm_loadu_ps(p), _mm_loadu_ps(p + 4)}; }
    static Vectorized loadu(const float* p, int count) {
        alignas(16) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < count; ++i) t[i] = p[i];
        return {_mm_load_ps(t), _mm_load_ps(t + 4)};
    }
    void store(float* p) const {
        _mm_storeu_ps(p, lo);
        _mm_storeu_ps(p + 4, hi);
    }
    void store(float* p, int count) const {
        alignas(16) float t[8];
        _mm_store_ps(t, lo);
        _mm_store_ps(t + 4, hi);
        for (int i = 0; i < count; ++i) p[i] = t[i];
    }
#define LAMINA_SSE2(name, f) \
    friend Vectorized name(Vectorized a, Vectorized b) { return {f(a.lo, b.lo), f(a.hi, b.hi)}; }
    LAMINA_SSE2(operator+, _mm_add_ps)
    LAMINA_SSE2(operator-, _mm_sub_ps)
    LAMINA_SSE2(operator*, _mm_mul_ps)
    LAMINA_SSE2(operator/, _mm_div_ps)
    LAMINA_SSE2(min, _mm_min_ps)
    LAMINA_SSE2(max, _mm_max_ps)
#undef LAMINA_SSE2
#define LAMINA_SSE_CMP(op, f) \
    friend Mask operator op(Vectorized a, Vectorized b) { return {f(a.lo, b.lo), f(a.hi, b.hi)}; }
    LAMINA_SSE_CMP(<, _mm_cmplt_ps)
    LAMINA_SSE_CMP(<=, _mm_cmple_ps)
    LAMINA_SSE_CMP(>, _mm_cmpgt_ps)
    LAMINA_SSE_CMP(>=, _mm_cmpge_ps)
    LAMINA_SSE_CMP(==, _mm_cmpeq_ps)
    LAMINA_SSE_CMP(!=, _mm_cmpneq_ps)  // unordered: true on NaN, as the other levels
#undef LAMINA_SSE_CMP
    Vectorized operator-() const {
        const __m128 s = _mm_set1_ps(-0.0f);
        return {_mm_xor_ps(lo, s), _mm_xor_ps(hi, s)};
    }
    friend Vectorized fmadd(Vectorized a, Vectorized b, Vectorized c) { return a * b + c; }
    friend Vectorized abs(Vectorized a) {
        const __m128 s = _mm_set1_ps(-0.0f);
        return {_mm_andnot_ps(s, a.lo), _mm_andnot_ps(s, a.hi)};
    }
    friend Vectorized select(Mask m, Vectorized a, Vectorized b) {
        return {_mm_blendv_ps(b.lo, a.lo, m.lo), _mm_blendv_ps(b.hi, a.hi, m.hi)};
    }
    friend Vectorized or_sign(Vectorized mag, Vectorized sgn) {
        const __m128 s = _mm_set1_ps(-0.0f);
        return {_mm_or_ps(mag.lo, _mm_and_ps(sgn.lo, s)), _mm_or_ps(mag.hi, _mm_and_ps(sgn.hi, s))};
    }
    friend Vectorized round_small(Vectorized a) {
        constexpr int r = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
        return {_mm_round_ps(a.lo, r), _mm_round_ps(a.hi, r)};
    }
    friend float reduce_add(Vectorized a) {
        __m128 s = _mm_add_ps(a.lo, a.hi);
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        return _mm_cvtss_f32(s);
    }
    friend float reduce_max(Vectorized a) {
        __m128 s = _mm_max_ps(a.lo, a.hi);
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
        return _mm_cvtss_f32(s);
    }
    friend double reduce_add_f64(Vectorized a) {  // lanes widened to double, then added
        const __m128d w = _mm_add_pd(_mm_add_pd(_mm_cvtps_pd(a.lo), _mm_cvtps_pd(_mm_movehl_ps(a.lo, a.lo))),
                                     _mm_add_pd(_mm_cvtps_pd(a.hi), _mm_cvtps_pd(_mm_movehl_ps(a.hi, a.hi))));
        return _mm_cvtsd_f64(_mm_add_sd(w, _mm_unpackhi_pd(w, w)));
    }
    friend Vectorized pow2n(Vectorized n) {
        auto one = [](__m128 x) {
            const __m128i e = _mm_add_epi32(_mm_cvtps_epi32(x), _mm_set1_epi32(127));
            return _mm_castsi128_ps(_mm_slli_epi32(e, 23));
        };
        return {one(n.lo), one(n.hi)};
    }
    static constexpr bool kHasScalef = false;
    friend Vectorized scale2n_bits(Vectorized y, Vectorized kk) {
        auto one = [](__m128 a, __m128 k) {
            return _mm_castsi128_ps(_mm_add_epi32(_mm_castps_si128(a), _mm_slli_epi32(_mm_castps_si128(k), 23)));
        };
        return {one(y.lo, kk.lo), one(y.hi, kk.hi)};
    }
    friend Vectorized frexp_sqrt2(Vectorized x, Vectorized& e) {
        auto one = [](__m128 a, __m128& ea) {
            const __m128i b = _mm_sub_epi32(_mm_castps_si128(a), _mm_set1_epi32(0x3f3504f3));
            ea = _mm_cvtepi32_ps(_mm_srai_epi32(b, 23));
            return _mm_castsi128_ps(_mm_add_epi32(_mm_and_si128(b, _mm_set1_epi32(0x007fffff)),
                                                  _mm_set1_epi32(0x3f3504f3)));
        };
        Vectorized r;
        r.lo = one(x.lo, e.lo);
        r.hi = one(x.hi, e.hi);
        return r;
    }
};

#endif

}  // namespace lamina::vec

// Helpers written once over any Vectorized (scale2n, maximum, lookup32, neg_min_abs, ...).
#include "vec_generic.h"
