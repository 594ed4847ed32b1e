// Transcendentals over lamina::vec::Vectorized, written once for every ISA level: float gets
// Cephes-style range reduction + polynomials (<= 2 ulp, tests/ops/test_vec_math.py sweeps them);
// double stays on libm lane by lane (its users asked for accuracy, and no kernel is double-bound).
#pragma once
#include <cmath>
#include <limits>

#include "vec.h"
#include "vec_tanh_table.h"

namespace lamina::vec {

using VecF = Vectorized<float>;
using VecD = Vectorized<double>;

// f applied lane by lane (the double path: libm's correctly rounded-ish scalar functions).
template <class V, class F>
inline V map_lanes(const V& x, const F& f) {
    using T = decltype(f(0.0));
    T t[V::size()];
    x.store(t);
    for (int i = 0; i < V::size(); ++i) t[i] = f(t[i]);
    return V::loadu(t);
}

// exp's core: x = n ln 2 + r with n = round(x / ln 2) and r in two pieces (Cephes), then
// exp(x) = 2^n (1 + q), q = r + r^2 P(r) with a degree-4 P (a relative minimax-like fit on
// |r| <= ln2/2, 3.1e-9 with float coefficients; Cephes' degree 5 carried a term it did not need).
// Kept apart from the final 1 + q so expm1 gets q without cancellation. |x| <= 104.
// n comes from the 1.5 * 2^23 trick, kk = x / ln 2 + 1.5 * 2^23 in one FMA (a rounding
// instruction costs twice the latency), and kk's low mantissa bits are n itself (scale2n_bits).
// P is evaluated by Estrin's scheme (three levels of FMAs instead of Horner's four) for latency;
// over many independent vectors the instruction count is what counts (hence degree 4).
constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
inline VecF exp_q(const VecF& x, VecF& n, VecF& kk) {
    kk = fmadd(x, VecF(1.44269504088896341f), VecF(kRoundMagic));
    n = kk - VecF(kRoundMagic);
    VecF r = fmadd(n, VecF(-0.693359375f), x);
    r = fmadd(n, VecF(2.12194440e-4f), r);
    const VecF r2 = r * r;
    const VecF a = fmadd(VecF(1.6666521132e-1f), r, VecF(4.9999994040e-1f));
    const VecF b = fmadd(VecF(8.3686867729e-3f), r, VecF(4.1668277234e-2f));
    const VecF y = fmadd(fmadd(VecF(1.3819824671e-3f), r2, b), r2, a);
    return fmadd(y, r2, r);
}

// exp_q's 1 + q for exp itself, the same polynomial 1 + r + r^2 P(r) by Horner's rule: six FMAs
// where Estrin's scheme plus the final + 1 took seven vector ops (Horner's longer chain does not
// show over many independent vectors). The last step fma(p, r, 1) rounds once, and p's own
// rounding reaches the result times |r| <= ln2/2.
inline VecF exp_p1(const VecF& x, VecF& n, VecF& kk) {
    kk = fmadd(x, VecF(1.44269504088896341f), VecF(kRoundMagic));
    n = kk - VecF(kRoundMagic);
    VecF r = fmadd(n, VecF(-0.693359375f), x);
    r = fmadd(n, VecF(2.12194440e-4f), r);
    VecF p = fmadd(VecF(1.3819824671e-3f), r, VecF(8.3686867729e-3f));
    p = fmadd(p, r, VecF(4.1668277234e-2f));
    p = fmadd(p, r, VecF(1.6666521132e-1f));
    p = fmadd(p, r, VecF(4.9999994040e-1f));
    p = fmadd(p, r, VecF(1.0f));
    return fmadd(p, r, VecF(1.0f));
}

// exp: 2^n goes on through vscalefps on AVX-512, which rounds once into the denormals; x is clamped
// first so n stays in range (exp(89) overflows to inf and exp(-104) underflows to 0 by themselves,
// as the true values do; the operand order lets a NaN through: x86 min/max return their second
// operand on NaN). Without vscalefps, a vector whose lanes all have x in [-86.5, 88] (results
// normal: the usual case) needs no clamp and gets 2^n as an integer add to the exponent field
// (scale2n_bits); any other vector (denormal results, overflow, NaN) takes the clamped path with
// two factors 2^(n/2). 1 + q: one rounding at the end (adding 1 to r first would round twice).
inline VecF exp(const VecF& x) {
    VecF n, kk;
    if constexpr (!VecF::kHasScalef) {
        if (((x >= VecF(-86.5f)) & (x <= VecF(88.0f))).all()) return scale2n_bits(exp_p1(x, n, kk), kk);
    }
    const VecF xc = min(VecF(89.0f), max(VecF(-104.0f), x));
    return scale2n(exp_p1(xc, n, kk), n);
}
inline VecD exp(const VecD& x) { return map_lanes(x, [](double v) { return std::exp(v); }); }

// exp for x <= 0 or NaN (a softmax line's x - max): only the lower end needs the range check.
inline VecF exp_nonpos(const VecF& x) {
    VecF n, kk;
    if constexpr (!VecF::kHasScalef) {
        if ((x >= VecF(-86.5f)).all()) return scale2n_bits(exp_q(x, n, kk) + VecF(1.0f), kk);
    }
    return scale2n(exp_q(max(VecF(-104.0f), x), n, kk) + VecF(1.0f), n);  // max keeps a NaN
}
inline VecD exp_nonpos(const VecD& x) { return exp(x); }

// exp_nonpos for x in [-86.5, 0] or NaN, checked by the caller for a whole line (softmax_line.h's
// tame lines): no clamp and no per-vector range test. Same bits as exp_nonpos there; a NaN lane
// may come out as any value (2^n of a NaN n), so callers must let NaN through another operand.
inline VecF exp_nonpos_tame(const VecF& x) {
    VecF n, kk;
    const VecF y = exp_q(x, n, kk) + VecF(1.0f);
    if constexpr (VecF::kHasScalef) return scale2n(y, n);
    else return scale2n_bits(y, kk);
}
inline VecD exp_nonpos_tame(const VecD& x) { return exp(x); }

// log (Cephes logf): x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) = t - t^2/2 + t^3 P(t) for
// t = m - 1, plus e ln 2 in two pieces; P by Estrin's scheme (latency, as in exp).
// log_core takes positive normal finite x (e_adj: added to the exponent, -23 for a denormal
// scaled by 2^23); log() sends a vector holding a zero, negative, denormal, inf or NaN lane down
// the slow path with the selects, so ordinary inputs skip them.
// kDegree: Cephes' degree-8 P, or a degree-7 relative fit of log1p on [sqrt(1/2) - 1, sqrt(2) - 1]
// (5.9e-9 with float coefficients; two instructions fewer). The log op takes 7 (0.88 ulp on every
// 5th float, 0.86 with 8); log1p_pos keeps 8: softplus through it reached 2.11 ulp with 7.
template <bool kAdjust, int kDegree>
inline VecF log_core(const VecF& x, const VecF& e_adj) {
    static_assert(kDegree == 7 || kDegree == 8, "log_core: degree 7 or 8");
    VecF e;
    const VecF m = frexp_sqrt2(x, e) - VecF(1.0f);
    if constexpr (kAdjust) e = e + e_adj;
    const VecF z = m * m;
    const VecF z2 = z * z;
    VecF y;
    if constexpr (kDegree == 8) {
        const VecF p01 = fmadd(VecF(-2.4999993993e-1f), m, VecF(3.3333331174e-1f));
        const VecF p23 = fmadd(VecF(-1.6668057665e-1f), m, VecF(2.0000714765e-1f));
        const VecF p45 = fmadd(VecF(-1.2420140846e-1f), m, VecF(1.4249322787e-1f));
        const VecF p67 = fmadd(VecF(-1.1514610310e-1f), m, VecF(1.1676998740e-1f));
        const VecF q0 = fmadd(p23, z, p01);
        const VecF q1 = fmadd(p67, z, p45);
        y = fmadd(VecF(7.0376836292e-2f), z2 * z2, fmadd(q1, z2, q0));
    } else {
        const VecF p01 = fmadd(VecF(-2.5000819564e-01f), m, VecF(3.3333331347e-01f));
        const VecF p23 = fmadd(VecF(-1.6623410583e-01f), m, VecF(2.0001243055e-01f));
        const VecF p45 = fmadd(VecF(-1.3159550726e-01f), m, VecF(1.4201539755e-01f));
        const VecF p67 = fmadd(VecF(-7.6369404793e-02f), m, VecF(1.2762485445e-01f));
        y = fmadd(fmadd(p67, z, p45), z2, fmadd(p23, z, p01));
    }
    y = y * (m * z);  // m z off the polynomial's chain
    y = fmadd(e, VecF(-2.12194440e-4f), y);
    y = fmadd(z, VecF(-0.5f), y);
    VecF r = m + y;
    return fmadd(e, VecF(0.693359375f), r);
}
// log with an 8-entry table where a lane permute is one instruction (AVX2 vpermps, AVX-512 the
// same table twice): x = 2^e m with m in [sqrt(1/2), sqrt(2)) (frexp_sqrt2's split), cut into 8
// intervals by the top 3 bits of m's offset from sqrt(1/2); in interval j
//   log(x) = e ln2 + L_j + log1p(r),  r = m c_j - 1 (one FMA; c_4 = 1 around m = 1, so r = m - 1
//   exactly there), |r| <= 0.058, log1p(r) = r + r^2 P(r) with P of degree 3 (0.13 ulp).
// c_j lies within 2^-9 of the interval's 1/centre and was searched so that -log(c_j) is within
// 2^-30 of L_j, a multiple of 2^-16: e ln2_hi + L_j (ln2_hi a multiple of 2^-9, |e| <= 149) is
// then exact in float, and log(x) = that + (e ln2_lo + log1p(r)) rounds twice, the first time
// on a term under a quarter of the result. 22 vector ops against the polynomial's 26
// (compare.py log 128x784 at AVX2: see git log). tools/gen_log_table.py makes the tables and P;
// tests/ops/test_vec_math_log_table.py checks these claims against the numbers below.
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
inline constexpr bool kLogTable = true;
alignas(32) inline constexpr float kLogC[8] = {1.352956f, 1.245546f, 1.1621286f, 1.0768616f,
                                               1.0f, 0.9086783f, 0.8152427f, 0.74152845f};
alignas(32) inline constexpr float kLogL[8] = {-0.3022918701171875f, -0.219573974609375f,
                                               -0.1502532958984375f, -0.0740509033203125f, 0.0f,
                                               0.09576416015625f, 0.2042694091796875f,
                                               0.299041748046875f};
// t[idx & 7] per lane (idx: int32 bits in a float vector).
inline VecF lookup8(const float* t, const VecF& idx) {
#if defined(__AVX512F__)
    return _mm512_permutexvar_ps(_mm512_castps_si512(idx.v), _mm512_broadcast_f32x8(_mm256_load_ps(t)));
#else
    return _mm256_permutevar8x32_ps(_mm256_load_ps(t), _mm256_castps_si256(idx.v));
#endif
}
// The top 3 bits of m's offset from sqrt(1/2), for m from frexp_sqrt2 (int32 bits).
inline VecF log_interval(const VecF& m) {
#if defined(__AVX512F__)
    return _mm512_castsi512_ps(
        _mm512_srli_epi32(_mm512_sub_epi32(_mm512_castps_si512(m.v), _mm512_set1_epi32(0x3f3504f3)), 20));
#else
    return _mm256_castsi256_ps(
        _mm256_srli_epi32(_mm256_sub_epi32(_mm256_castps_si256(m.v), _mm256_set1_epi32(0x3f3504f3)), 20));
#endif
}
template <bool kAdjust>
inline VecF log_table_core(const VecF& x, const VecF& e_adj) {
    VecF e;
    const VecF m = frexp_sqrt2(x, e);
    if constexpr (kAdjust) e = e + e_adj;
    const VecF j = log_interval(m);
    const VecF r = fmadd(m, lookup8(kLogC, j), VecF(-1.0f));
    VecF p = fmadd(VecF(0.20066355f), r, VecF(-0.25069964f));
    p = fmadd(p, r, VecF(0.33333266f));
    p = fmadd(p, r, VecF(-0.4999994f));
    p = fmadd(r * r, p, r);
    const VecF hi = fmadd(e, VecF(0.693359375f), lookup8(kLogL, j));  // exact
    return hi + fmadd(e, VecF(-2.12194440e-4f), p);
}
#else
inline constexpr bool kLogTable = false;
template <bool kAdjust>
inline VecF log_table_core(const VecF& x, const VecF&) { return x; }  // not used at this level
#endif

template <int kDegree = 7>
inline VecF log(const VecF& x) {
    const float inf = std::numeric_limits<float>::infinity();
    const float fmin = std::numeric_limits<float>::min();
    constexpr bool kTable = kLogTable && kDegree == 7;  // the log op; log1p_pos keeps degree 8
    if (((x >= VecF(fmin)) & (x < VecF(inf))).all()) {
        if constexpr (kTable) return log_table_core<false>(x, x);
        else return log_core<false, kDegree>(x, x);
    }
    const auto tiny = x < VecF(fmin);
    const VecF xs = select(tiny, x * VecF(8388608.0f), x), ea = select(tiny, VecF(-23.0f), VecF(0.0f));
    VecF r;
    if constexpr (kTable) r = log_table_core<true>(xs, ea);
    else r = log_core<true, kDegree>(xs, ea);
    VecF out = select(x == VecF(0.0f), VecF(-inf), r);
    out = select(x == VecF(inf), x, out);
    return select(x < VecF(0.0f), VecF(std::numeric_limits<float>::quiet_NaN()), select(x != x, x, out));
}
inline VecD log(const VecD& x) { return map_lanes(x, [](double v) { return std::log(v); }); }

// log1p(u) for u >= 0 (softplus's tail): below 2^-9 three terms of the series (next term u^4/4
// is under half an ulp), else log(1 + u) scaled by u / ((1 + u) - 1), which cancels the rounding
// of 1 + u: log(w) + (u - (w - 1)) / w, the rounding error u - (w - 1) being exact.
inline VecF log1p_pos(const VecF& u) {
    const VecF w = u + VecF(1.0f);
    const VecF d = w - VecF(1.0f);
    const VecF series = u * fmadd(u, fmadd(u, VecF(1.0f / 3.0f), VecF(-0.5f)), VecF(1.0f));
    return select(u < VecF(0.001953125f), series, log<8>(w) + (u - d) / w);
}
inline VecD log1p_pos(const VecD& u) { return map_lanes(u, [](double v) { return std::log1p(v); }); }

// expm1(x) for x <= 0 (elu): 2^n q + (2^n - 1) in one fused step; 2^n - 1 is exact for the
// n >= -24 that matter (below -18 the answer is -1 in float), and n = 0 near 0 gives q itself.
inline VecF expm1_neg(const VecF& x) {
    const VecF xc = max(VecF(-18.0f), x);  // keeps a NaN (x86 max returns its second operand)
    VecF n, kk;
    const VecF q = exp_q(xc, n, kk);
    const VecF p = pow2n(n);
    return select(x < VecF(-18.0f), VecF(-1.0f), fmadd(p, q, p - VecF(1.0f)));
}
inline VecD expm1_neg(const VecD& x) { return map_lanes(x, [](double v) { return std::expm1(v); }); }

// sigmoid: never exponentiates a positive number; (x >= 0 ? 1 : e) / (1 + e), e = exp(-|x|).
// The float form also corrects for the rounding of 1 + e (err, exact by Fast2Sum): q (1 - err/d).
// The correction is tiny, so its own rounding does not matter and no FMA is needed (x86-64-v2).
inline VecF sigmoid(const VecF& x) {
    const VecF e = exp(-abs(x));
    const VecF num = select(x >= VecF(0.0f), VecF(1.0f), e);
    const VecF d = VecF(1.0f) + e;
    const VecF err = (VecF(1.0f) - d) + e;
    const VecF q = num / d;
    // 1/d for the correction without a second division: q itself for x >= 0, 1 - q below (the
    // correction is ~2^-24 of q, so 1 - q's rounding does not show).
    const VecF inv_d = select(x >= VecF(0.0f), q, VecF(1.0f) - q);
    return q - q * err * inv_d;
}
inline VecD sigmoid(const VecD& x) {
    const VecD e = exp(-abs(x));
    return select(x >= VecD(0.0), VecD(1.0), e) / (VecD(1.0) + e);
}

// tanh where a 32-entry permute is one instruction (AVX-512): tanh(a) = a P_i(a - C[i]) for
// a = min(|x|, 9.02), P_i of degree 6 from vec_tanh_table.h's 32 intervals (interval_index: four
// per octave from the bits of a). No exp and no division: 8 permutes and 8 FMA-port instructions
// against ~30 for the formula below (compare.py tanh 128x784, 1 thread: 1.18-1.29 -> see git log).
// a P keeps tanh's relative accuracy down to the denormals (P_0(t) = 1 + O(t^2) there, so a
// denormal comes back exactly); 9.02 gives 1 (tanh rounds to 1 from 9.01); a NaN passes through
// min (second operand) and the FMAs; the sign goes back on as a bit.
inline VecF tanh_table(const VecF& x) {
    const VecF ac = min(VecF(9.02f), abs(x));
    const VecF i = interval_index(ac, 0x3d800000 /* 0.0625f */, 21);
    const VecF t = ac - lookup32(kTanhC, i);
    VecF p = fmadd(lookup32(kTanhP6, i), t, lookup32(kTanhP5, i));
    p = fmadd(p, t, lookup32(kTanhP4, i));
    p = fmadd(p, t, lookup32(kTanhP3, i));
    p = fmadd(p, t, lookup32(kTanhP2, i));
    p = fmadd(p, t, lookup32(kTanhP1, i));
    p = fmadd(p, t, lookup32(kTanhP0, i));
    return or_sign(ac * p, x);
}

// tanh: Cephes' odd polynomial below |x| = 0.625 (no cancellation near 0), else
// 1 - 2 / (exp(2|x|) + 1) with the sign put back. Both are computed and one is selected.
// 2|x| is clamped to 20 (tanh is 1 in float from |x| = 9.01), so exp never overflows and takes its
// fast path without a range check; the sign goes on as a bit (or_sign), and a NaN passes through
// min (second operand), exp and the division by itself. (Without a one-instruction 32-entry
// lookup, tanh_table's permutes would cost more than this formula: AVX2 measured ~0.35 of
// PyTorch's time with it.)
inline VecF tanh(const VecF& x) {
    if constexpr (kTable32<VecF>) return tanh_table(x);
    const VecF ax = abs(x);
    const VecF z = x * x;
    VecF p(-5.70498872745e-3f);
    p = fmadd(p, z, VecF(2.06390887954e-2f));
    p = fmadd(p, z, VecF(-5.37397155531e-2f));
    p = fmadd(p, z, VecF(1.33314422036e-1f));
    p = fmadd(p, z, VecF(-3.33332819422e-1f));
    const VecF small = fmadd(p * z, ax, ax);  // magnitudes; the sign goes on once, so tanh(-0) = -0
    VecF n, kk;
    const VecF e = scale2n_bits(exp_q(min(VecF(20.0f), ax + ax), n, kk) + VecF(1.0f), kk);
    const VecF big = VecF(1.0f) - VecF(2.0f) / (e + VecF(1.0f));
    return or_sign(select(ax < VecF(0.625f), small, big), x);
}
inline VecD tanh(const VecD& x) { return map_lanes(x, [](double v) { return std::tanh(v); }); }

// Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 (exact GELU), with Cephes' float erf/erfc:
// erf(z) = z T(z^2) for |z| < 1, erfc(a) = exp(-a^2) P(1/a^2) / a (R for a >= 2). The left tail
// takes erfc directly, so Phi keeps its digits where 1 + erf(z) would cancel.
inline VecF normal_cdf(const VecF& x) {
    const VecF z = x * VecF(0.70710678118654752440f);
    const VecF a = abs(z);
    const VecF zz = z * z;
    VecF t(7.853861353153693e-5f);
    t = fmadd(t, zz, VecF(-8.010193625184903e-4f));
    t = fmadd(t, zz, VecF(5.188327685732524e-3f));
    t = fmadd(t, zz, VecF(-2.685381193529856e-2f));
    t = fmadd(t, zz, VecF(1.128358514861418e-1f));
    t = fmadd(t, zz, VecF(-3.761262582423300e-1f));
    t = fmadd(t, zz, VecF(1.128379165726710e+0f));
    const VecF erf_small = z * t;
    const VecF q = VecF(1.0f) / a;
    const VecF y = q * q;
    VecF p(2.326819970068386e-2f);
    p = fmadd(p, y, VecF(-1.387039388740657e-1f));
    p = fmadd(p, y, VecF(3.687424674597105e-1f));
    p = fmadd(p, y, VecF(-5.824733027278666e-1f));
    p = fmadd(p, y, VecF(6.210004621745983e-1f));
    p = fmadd(p, y, VecF(-4.944515323274145e-1f));
    p = fmadd(p, y, VecF(3.404879937665872e-1f));
    p = fmadd(p, y, VecF(-2.741127028184656e-1f));
    p = fmadd(p, y, VecF(5.638259427386472e-1f));
    VecF r(-1.047766399936249e+1f);
    r = fmadd(r, y, VecF(1.297719955372516e+1f));
    r = fmadd(r, y, VecF(-7.495518717768503e+0f));
    r = fmadd(r, y, VecF(2.921019019210786e+0f));
    r = fmadd(r, y, VecF(-1.015265279202700e+0f));
    r = fmadd(r, y, VecF(4.218463358204948e-1f));
    r = fmadd(r, y, VecF(-2.820767439740514e-1f));
    r = fmadd(r, y, VecF(5.641895067754075e-1f));
    // erfc(a) / 2 for a >= 1; exp(-a^2) underflows to 0 far out, and 0 * q stays 0 (q = 0 at inf).
    const VecF half_erfc = VecF(0.5f) * exp(-zz) * q * select(a < VecF(2.0f), p, r);
    const VecF mid = fmadd(VecF(0.5f), erf_small, VecF(0.5f));
    const VecF big = select(z > VecF(0.0f), VecF(1.0f) - half_erfc, half_erfc);
    return select(x != x, x, select(a < VecF(1.0f), mid, big));
}
inline VecD normal_cdf(const VecD& x) {
    return map_lanes(x, [](double v) { return 0.5 * std::erfc(-v * 0.70710678118654752440); });
}

// GELU (erf form) and its slope Phi(x) + x phi(x).
template <class V>
inline V gelu(const V& x) { return x * normal_cdf(x); }

// Float GELU, x Phi(x), in two pieces instead of normal_cdf's erf + two erfc fits + select (a
// quarter fewer instructions). |x| < 0.85: x Phi = x (1/2 + x C(x^2)) (minimax, 8e-9 relative).
// Beyond: the tail h = Phi(-|x|) = exp(-x^2/2) t R(t), t = 1/(1 + 0.49|x|) (one fit for the whole
// tail on [0.85, 16]; |x| is clamped at 16, where exp(-x^2/2) is already 0), and
// x Phi = x - x h for x > 0 as one FMA (no rounding of 1 - h); x h for x < 0 keeps h's relative
// accuracy. R has degree 5 (was 7 with t = 1/(1 + |x|/4), 4e-8 relative throughout): it is
// fitted (tools/fit_gelu_tail.py) to an error budget, not a flat 4e-8. For x > 0 an error in h
// reaches x - x h times h / (1 - h) (1/4 at 0.85, falling fast), and for x < 0 the 2-ulp claim
// does not hold anyway (exp(-x^2/2) turns x^2's rounding into ~x^2 ulp; test_vec_math.py allows
// 16 + 2x^2 there); within half of that budget: 1.5e-7 relative near 0.85, more further out. The centre needs its own piece: near 0, h ~ 1/2 carries a few roundings that
// x - x h would pass on whole (5 ulp). Coefficients: relative minimax-like fits against mpmath.
// Every vector computes both pieces: an all-centre or all-tail early-out never fires on real
// data (16 lanes of x ~ 2 N(0,1) are all inside 0.85 with probability 0.33^16).
// Instruction count is what bounds it (AVX-512: ~44 -> ~40 vector ops, 1.16 -> see git log):
// - a = -min(|x|, 16) serves the centre's x^2, t, the exponent and the tail's multiplier, so
//   exp's argument is >= -128 and needs no clamp of its own. neg_min_abs is one vrangeps at
//   AVX-512 (two ops elsewhere; 128x784 kernel 31.7 -> 29.6 us, the loop is bound by its ~32
//   vector ops on two ports). A NaN x gives a = NaN there and a = -16 elsewhere; either way the
//   NaN comes through min(a, x) below, and the select takes the tail (NaN > -0.85 is false);
// - h = 2^n (m + m q) for exp(-x^2/2) = 2^n (1 + q), m = t R(t): one rounding where
//   exp(...) * m took three;
// - tail = min(a, x) h + max(x, 0): x - min(x, 16) h for x > 0 (x = inf: inf - 16 * 0) and x h
//   for x <= 0 (x = -inf: -inf * 0 = NaN, as PyTorch; NaN: min's second operand) in one FMA.
inline VecF gelu(const VecF& x) {
    const VecF a = neg_min_abs(x, VecF(16.0f));  // -min(|x|, 16); a NaN x gives NaN or -16
    const VecF s = a * a;
    VecF c(9.966331214e-05f);
    c = fmadd(c, s, VecF(-1.177583610e-03f));
    c = fmadd(c, s, VecF(9.971060528e-03f));
    c = fmadd(c, s, VecF(-6.649015443e-02f));
    c = fmadd(c, s, VecF(3.989422771e-01f));
    const VecF mid = x * fmadd(x, c, VecF(0.5f));  // x Phi(x); the product keeps gelu(-0) = -0
    // A division: vrcp14ps + a Newton step measured no faster at AVX-512 (the divider runs beside).
    const VecF t = VecF(1.0f) / fmadd(a, VecF(-0.49f), VecF(1.0f));
    VecF r(1.0223690420e-01f);
    r = fmadd(r, t, VecF(-2.7694770694e-01f));
    r = fmadd(r, t, VecF(1.5722875297e-01f));
    r = fmadd(r, t, VecF(1.2441480905e-01f));
    r = fmadd(r, t, VecF(1.9831247628e-01f));
    r = fmadd(r, t, VecF(1.9535323977e-01f));
    const VecF m = r * t;
    // exp(-s/2) = 2^n (1 + q) as in exp_q, on u = s + 2 n ln2 = -2r, without forming -s/2:
    // n from one FMA (the same n), the reduction in one step with ln2 in one float (its error,
    // n * 1.9e-9 relative, is ~0.03 s ulp: inside the x < 0 budget of 2 s, and where x > 0
    // n is 0 or -1), and q = u P(u) by Horner with P of degree 4 (1 + q within 1.8 ulp of
    // exp(-u/2) on |u| <= ln2, a relative fit; exp_q's degree 5 is more than the tail's budget
    // needs). Three vector ops fewer than exp_q(-s/2).
    const VecF kk = fmadd(s, VecF(-0.5f * 1.44269504088896341f), VecF(kRoundMagic));
    const VecF n = kk - VecF(kRoundMagic);
    const VecF u = fmadd(n, VecF(2.0f * 0.693147180559945f), s);  // in [-ln2, ln2]
    VecF p = fmadd(VecF(-2.597652783e-04f), u, VecF(2.618145198e-03f));
    p = fmadd(p, u, VecF(-2.083389461e-02f));
    p = fmadd(p, u, VecF(1.249980778e-01f));
    p = fmadd(p, u, VecF(-0.5f));
    const VecF q = p * u;
    VecF h;
    if constexpr (VecF::kHasScalef) {
        h = scale2n(fmadd(m, q, m), n);  // vscalefps rounds once into the denormals
    } else if (((s <= VecF(160.0f))).all()) {
        h = scale2n_bits(fmadd(m, q, m), kk);  // m (1 + q) >= 2^-7: 2^n of it stays normal
    } else {
        h = scale2n(fmadd(m, q, m), n);
    }
    const VecF tail = fmadd(min(a, x), h, max(x, VecF(0.0f)));
    return select(a > VecF(-0.85f), mid, tail);
}
template <class V>
inline V gelu_grad(const V& x) {
    using T = decltype(reduce_add(x));
    const V pdf = exp(V(T(-0.5)) * x * x) * V(T(0.39894228040143267794));
    return fmadd(x, pdf, normal_cdf(x));
}

// GELU, tanh form: 0.5 x (1 + tanh(u)), u = k (x + 0.044715 x^3), from e = exp(-|2u|) once:
// tanh(|u|) = (1 - e) / (1 + e), so 0.5 x (1 +- q) with q = (1 - e) / (1 + e) where 1 + tanh(u)
// is at least 1/2 (2u >= -1), and x e / (1 + e) == x sigmoid(2u) below, where 1 + tanh(u)
// would cancel. The float reference formulas.h uses x sigmoid(2u) throughout (same function).
inline VecF gelu_tanh(const VecF& x) {
    const VecF v = VecF(0.79788456080286535588f * 2.0f) * fmadd(VecF(0.044715f) * x * x, x, x);
    const VecF e = exp(-abs(v));
    const auto tail = v < VecF(-1.0f);
    const VecF q = select(tail, e, VecF(1.0f) - e) / (VecF(1.0f) + e);
    const VecF hx = VecF(0.5f) * x;
    return select(tail, x * q, fmadd(select(v < VecF(0.0f), -hx, hx), q, hx));
}
inline VecD gelu_tanh(const VecD& x) {
    const VecD u2 = VecD(2.0 * 0.79788456080286535588) * fmadd(VecD(0.044715) * x * x, x, x);
    return x * sigmoid(u2);
}

// d/dx x s(2u) = s + x s (1 - s) 2u', u = k (x + c x^3): the same as the tanh form's slope.
template <class V>
inline V gelu_tanh_grad(const V& x) {
    using T = decltype(reduce_add(x));
    const V k2(T(2 * 0.79788456080286535588));
    const V x2 = x * x;
    const V s = sigmoid(k2 * fmadd(V(T(0.044715)) * x2, x, x));
    const V du2 = k2 * fmadd(V(T(3 * 0.044715)), x2, V(T(1)));
    return fmadd(x * s * (V(T(1)) - s), du2, s);
}

}  // namespace lamina::vec
