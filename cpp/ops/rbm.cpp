// RBM kernels on the CPU: seeded Bernoulli / Gaussian draws and the contrastive-divergence
// statistics step (see rbm.h). Every matrix product goes through gemm; the elementwise passes
// (bias + sigmoid, draws, column means) are parallel loops over contiguous buffers.
#include "rbm.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#if defined(__AVX2__) || defined(__AVX512F__) || defined(__SSE4_1__)
#include <immintrin.h>
#endif

#include "../core/blas.h"
#include "../core/check.h"
#include "../core/dtype.h"
#include "../core/parallel.h"
#include "../core/random.h"
#include "../core/vec.h"
#include "../core/vec_math.h"

namespace lamina {

namespace {

// double: libm (float has its own add_bias_act below: std::exp stays a scalar call per element).
template <class T>
inline T sigmoid_of(T x) {
    return T(1) / (T(1) + std::exp(-x));
}

// out[r, j] = act(out[r, j] + bias[j]) for a [rows, cols] buffer that already holds the product.
template <class T>
void add_bias_act(T* out, const T* bias, int64_t rows, int64_t cols, bool sigmoid) {
    parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(cols, 1) / 8),
                 [=](int64_t b, int64_t e) {
                     for (int64_t r = b; r < e; ++r) {
                         T* o = out + r * cols;
                         if (sigmoid)
                             for (int64_t j = 0; j < cols; ++j) o[j] = sigmoid_of(o[j] + bias[j]);
                         else
                             for (int64_t j = 0; j < cols; ++j) o[j] += bias[j];
                     }
                 });
}

// float: the sigmoid of lamina::vec (the scalar fast_expf loop above vectorises well only at AVX-512).
template <>
void add_bias_act<float>(float* out, const float* bias, int64_t rows, int64_t cols, bool sigmoid) {
    using V = vec::Vectorized<float>;
    constexpr int W = V::size();
    parallel_for(0, rows, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(cols, 1) / 8),
                 [=](int64_t b, int64_t e) {
                     for (int64_t r = b; r < e; ++r) {
                         float* o = out + r * cols;
                         int64_t j = 0;
                         for (; j + W <= cols; j += W) {
                             const V x = V::loadu(o + j) + V::loadu(bias + j);
                             (sigmoid ? vec::sigmoid(x) : x).store(o + j);
                         }
                         if (j < cols) {
                             const int n = static_cast<int>(cols - j);
                             const V x = V::loadu(o + j, n) + V::loadu(bias + j, n);
                             (sigmoid ? vec::sigmoid(x) : x).store(o + j, n);
                         }
                     }
                 });
}

// Hidden probabilities [rows, H] = sigmoid(v W^T + hb).
template <class T>
void hidden_probs(const T* v, int64_t rows, const T* W, const T* hb, int64_t H, int64_t V, T* out) {
    gemm(false, true, rows, H, V, T(1), v, V, W, V, T(0), out, H);
    add_bias_act(out, hb, rows, H, true);
}

// Visible means [rows, V] = act(h W + vb): sigmoid for Bernoulli visibles, identity for Gaussian.
template <class T>
void visible_means(const T* h, int64_t rows, const T* W, const T* vb, int64_t H, int64_t V, T* out, bool gaussian) {
    gemm(false, false, rows, V, H, T(1), h, H, W, V, T(0), out, V);
    add_bias_act(out, vb, rows, V, !gaussian);
}

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE4_1__)
// Philox4x32-10's first output word (rbm_uniform_at's) for kLanes consecutive counters whose low
// words do not wrap, a lane each: the scalar rounds per element were ~12% of a 784-500 CD-1 step.
#if defined(__AVX512F__)
using U32V = __m512i;
constexpr int kLanes = 16;
inline U32V u_set1(uint32_t a) { return _mm512_set1_epi32(static_cast<int>(a)); }
inline U32V u_iota(uint32_t a) {
    return _mm512_add_epi32(u_set1(a), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}
inline U32V u_xor(U32V a, U32V b) { return _mm512_xor_si512(a, b); }
inline void u_mulhilo(U32V a, U32V m, U32V& hi, U32V& lo) {  // hi:lo = a * m, every lane
    const __m512i ev = _mm512_mul_epu32(a, m);
    const __m512i od = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    lo = _mm512_mask_blend_epi32(0xAAAA, ev, _mm512_slli_epi64(od, 32));
    hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(ev, 32), od);
}
// x[0..16) = (w >> 8) 2^-24 < x ? 1 : 0 (exact: a 24-bit integer times a power of two).
inline void u_bernoulli_store(U32V w, float* x) {
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w, 8)), _mm512_set1_ps(1.0f / 16777216.0f));
    const __mmask16 m = _mm512_cmp_ps_mask(u, _mm512_loadu_ps(x), _CMP_LT_OQ);
    _mm512_storeu_ps(x, _mm512_maskz_mov_ps(m, _mm512_set1_ps(1.0f)));
}
#elif defined(__AVX2__)
using U32V = __m256i;
constexpr int kLanes = 8;
inline U32V u_set1(uint32_t a) { return _mm256_set1_epi32(static_cast<int>(a)); }
inline U32V u_iota(uint32_t a) { return _mm256_add_epi32(u_set1(a), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
inline U32V u_xor(U32V a, U32V b) { return _mm256_xor_si256(a, b); }
inline void u_mulhilo(U32V a, U32V m, U32V& hi, U32V& lo) {
    const __m256i ev = _mm256_mul_epu32(a, m);
    const __m256i od = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    lo = _mm256_blend_epi32(ev, _mm256_slli_epi64(od, 32), 0xAA);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(ev, 32), od, 0xAA);
}
inline void u_bernoulli_store(U32V w, float* x) {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w, 8)), _mm256_set1_ps(1.0f / 16777216.0f));
    const __m256 lt = _mm256_cmp_ps(u, _mm256_loadu_ps(x), _CMP_LT_OQ);
    _mm256_storeu_ps(x, _mm256_and_ps(lt, _mm256_set1_ps(1.0f)));
}
#else
// x86-64-v2 (the default level): 8 counters as two SSE registers, two independent Philox chains.
struct U32V {
    __m128i a, b;
};
constexpr int kLanes = 8;
inline U32V u_set1(uint32_t x) {
    const __m128i v = _mm_set1_epi32(static_cast<int>(x));
    return {v, v};
}
inline U32V u_iota(uint32_t x) {
    const __m128i v = _mm_set1_epi32(static_cast<int>(x));
    return {_mm_add_epi32(v, _mm_setr_epi32(0, 1, 2, 3)), _mm_add_epi32(v, _mm_setr_epi32(4, 5, 6, 7))};
}
inline U32V u_xor(U32V x, U32V y) { return {_mm_xor_si128(x.a, y.a), _mm_xor_si128(x.b, y.b)}; }
inline void u_mulhilo1(__m128i x, __m128i m, __m128i& hi, __m128i& lo) {
    const __m128i ev = _mm_mul_epu32(x, m);
    const __m128i od = _mm_mul_epu32(_mm_srli_epi64(x, 32), m);
    lo = _mm_blend_epi16(ev, _mm_slli_epi64(od, 32), 0xCC);  // 16-bit lanes 2,3,6,7: odd dwords
    hi = _mm_blend_epi16(_mm_srli_epi64(ev, 32), od, 0xCC);
}
inline void u_mulhilo(U32V x, U32V m, U32V& hi, U32V& lo) {
    u_mulhilo1(x.a, m.a, hi.a, lo.a);
    u_mulhilo1(x.b, m.b, hi.b, lo.b);
}
inline void u_bernoulli_store1(__m128i w, float* x) {
    const __m128 u = _mm_mul_ps(_mm_cvtepi32_ps(_mm_srli_epi32(w, 8)), _mm_set1_ps(1.0f / 16777216.0f));
    _mm_storeu_ps(x, _mm_and_ps(_mm_cmplt_ps(u, _mm_loadu_ps(x)), _mm_set1_ps(1.0f)));
}
inline void u_bernoulli_store(U32V w, float* x) {
    u_bernoulli_store1(w.a, x);
    u_bernoulli_store1(w.b, x + 4);
}
#endif
// The rounds of philox.h's philox4x32_words on lanes; returns word 0.
inline U32V philox_word0_lanes(uint64_t counter, uint64_t seed) {
    U32V c0 = u_iota(static_cast<uint32_t>(counter)), c1 = u_set1(static_cast<uint32_t>(counter >> 32));
    U32V c2 = u_set1(0), c3 = u_set1(0);
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    const U32V m0 = u_set1(0xD2511F53u), m1 = u_set1(0xCD9E8D57u);
    for (int r = 0; r < 10; ++r) {
        U32V hi0, lo0, hi1, lo1;
        u_mulhilo(c0, m0, hi0, lo0);
        u_mulhilo(c2, m1, hi1, lo1);
        const U32V n0 = u_xor(u_xor(hi1, c1), u_set1(k0));
        const U32V n2 = u_xor(u_xor(hi0, c3), u_set1(k1));
        c1 = lo1;
        c3 = lo0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c0;
}
#define LAMINA_RBM_VEC 1
#endif

// x[i] = uniform(offset + i) < x[i] ? 1 : 0, in place. float: kLanes counters at a time (the
// same words as rbm_uniform_at, so rbm_noise still replays the draws); the scalar loop does the
// tail and the rare block whose counter low word would wrap.
template <class T>
void bernoulli_inplace(T* x, int64_t n, uint64_t seed, uint64_t offset) {
    parallel_for(0, n, kGrainElementwise / 8, [=](int64_t b, int64_t e) {
        T* const p = x;
        int64_t i = b;
#ifdef LAMINA_RBM_VEC
        if constexpr (std::is_same_v<T, float>) {
            for (; i + kLanes <= e; i += kLanes) {
                const uint64_t ctr = offset + static_cast<uint64_t>(i);
                if (static_cast<uint32_t>(ctr) > 0xFFFFFFFFu - (kLanes - 1)) break;  // the low word wraps
                u_bernoulli_store(philox_word0_lanes(ctr, seed), p + i);
            }
        }
#endif
        for (; i < e; ++i)
            p[i] = static_cast<T>(rbm_uniform_at(seed, offset + static_cast<uint64_t>(i))) < p[i] ? T(1) : T(0);
    });
}

// x[i] += normal(offset + i), in place.
template <class T>
void add_normal_inplace(T* x, int64_t n, uint64_t seed, uint64_t offset) {
    parallel_for(0, n, kGrainElementwise / 8, [=](int64_t b, int64_t e) {
        T* const p = x;
        for (int64_t i = b; i < e; ++i) p[i] += static_cast<T>(rbm_normal_at(seed, offset + static_cast<uint64_t>(i)));
    });
}

// out[j] (+)= scale * sum_r x[r, j]; parallel over columns so each thread writes its own slots.
// Each column is summed over r in order (the same bits as a loop per column), but row by row
// across a block of columns: unit stride, vectorised (a column at a time walked memory by rows).
template <class T>
void col_mean(const T* x, int64_t rows, int64_t cols, T scale, T* out, bool accumulate) {
    parallel_for(0, cols, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(rows, 1)),
                 [=](int64_t b, int64_t e) {
                     constexpr int64_t kBlock = 256;
                     T s[kBlock];
                     for (int64_t j0 = b; j0 < e; j0 += kBlock) {
                         const int64_t n = std::min(kBlock, e - j0);
                         for (int64_t j = 0; j < n; ++j) s[j] = T(0);
                         for (int64_t r = 0; r < rows; ++r) {
                             const T* xr = x + r * cols + j0;
                             for (int64_t j = 0; j < n; ++j) s[j] += xr[j];
                         }
                         for (int64_t j = 0; j < n; ++j)
                             out[j0 + j] = (accumulate ? out[j0 + j] : T(0)) + scale * s[j];
                     }
                 });
}

}  // namespace

Tensor rbm_sample_bernoulli(const Tensor& p_) {
    LAMINA_CHECK_RUNTIME(p_.device().is_cpu(), "rbm_sample_bernoulli: only implemented for CPU tensors");
    const Tensor p = p_.contiguous();
    Tensor out = p.clone();
    Generator& g = default_generator();
    const uint64_t seed = g.seed, offset = g.reserve(static_cast<uint64_t>(p.numel()));
    dispatch_float(p.dtype(), "rbm_sample_bernoulli", [&](auto tag) {
        using T = decltype(tag);
        bernoulli_inplace(out.data<T>(), out.numel(), seed, offset);
    });
    return out;
}

Tensor rbm_noise(int64_t n, uint64_t seed, uint64_t offset, bool normal, DType dtype) {
    LAMINA_CHECK(n >= 0, "rbm_noise: n has to be non-negative, got ", n);
    Tensor out = Tensor::empty({n}, dtype);
    dispatch_float(dtype, "rbm_noise", [&](auto tag) {
        using T = decltype(tag);
        T* o = out.data<T>();
        for (int64_t i = 0; i < n; ++i) {
            const uint64_t c = offset + static_cast<uint64_t>(i);
            o[i] = static_cast<T>(normal ? rbm_normal_at(seed, c) : rbm_uniform_at(seed, c));
        }
    });
    return out;
}

std::tuple<Tensor, Tensor, Tensor, Tensor, double, Tensor, uint64_t, uint64_t> rbm_cd_step(
    const Tensor& v0_, const Tensor& W_, const Tensor& vb_, const Tensor& hb_, int64_t k,
    const std::optional<Tensor>& chain_, bool gaussian) {
    const char* op = "rbm_cd_step";
    LAMINA_CHECK(v0_.dim() == 2, op, ": data has to be 2-D [batch, n_visible], got ", v0_.dim(), "-D");
    LAMINA_CHECK(W_.dim() == 2, op, ": weight has to be 2-D [n_hidden, n_visible], got ", W_.dim(), "-D");
    const int64_t B = v0_.size(0), V = v0_.size(1), H = W_.size(0);
    LAMINA_CHECK(W_.size(1) == V, op, ": weight [", H, ", ", W_.size(1), "] does not match data with ", V,
                 " visible units");
    LAMINA_CHECK(vb_.numel() == V, op, ": visible bias has ", vb_.numel(), " elements, expected ", V);
    LAMINA_CHECK(hb_.numel() == H, op, ": hidden bias has ", hb_.numel(), " elements, expected ", H);
    LAMINA_CHECK(B > 0, op, ": empty batch");
    LAMINA_CHECK(k >= 1, op, ": k (Gibbs steps) has to be at least 1, got ", k);
    const DType dt = v0_.dtype();
    LAMINA_CHECK_TYPE(W_.dtype() == dt && vb_.dtype() == dt && hb_.dtype() == dt, op,
                      ": data, weight and biases must share a dtype, got ", dtype_name(dt), ", ",
                      dtype_name(W_.dtype()), ", ", dtype_name(vb_.dtype()), ", ", dtype_name(hb_.dtype()));
    LAMINA_CHECK_RUNTIME(v0_.device().is_cpu() && W_.device().is_cpu(), op, ": only implemented for CPU tensors");
    int64_t Bc = B;
    if (chain_) {
        LAMINA_CHECK(chain_->dim() == 2 && chain_->size(1) == V, op, ": persistent chain has to be [chains, ", V,
                     "], got ", chain_->dim(), "-D with last size ", chain_->dim() ? chain_->size(-1) : 0);
        LAMINA_CHECK_TYPE(chain_->dtype() == dt, op, ": persistent chain dtype ", dtype_name(chain_->dtype()),
                          " differs from the data's ", dtype_name(dt));
        Bc = chain_->size(0);
        LAMINA_CHECK(Bc > 0, op, ": empty persistent chain");
    }
    const Tensor v0 = v0_.contiguous(), W = W_.contiguous(), vb = vb_.contiguous(), hb = hb_.contiguous();
    Generator& g = default_generator();
    const uint64_t per_step = static_cast<uint64_t>(Bc) * static_cast<uint64_t>(H + V);
    const uint64_t seed = g.seed, offset = g.reserve(per_step * static_cast<uint64_t>(k));

    Tensor dW = Tensor::empty({H, V}, dt), dvb = Tensor::empty({V}, dt), dhb = Tensor::empty({H}, dt);
    Tensor vk = chain_ ? chain_->contiguous().clone() : v0.clone();
    Tensor hmean = Tensor::empty({H}, dt);
    double recon = 0.0;
    dispatch_float(dt, op, [&](auto tag) {
        using T = decltype(tag);
        const T *w = W.data<T>(), *x = v0.data<T>(), *b_v = vb.data<T>(), *b_h = hb.data<T>();
        // Positive phase and the deterministic reconstruction.
        Tensor ph0 = Tensor::empty({B, H}, dt), pv0 = Tensor::empty({B, V}, dt);
        T *ph0p = ph0.data<T>(), *pv0p = pv0.data<T>();
        hidden_probs(x, B, w, b_h, H, V, ph0p);
        gemm(true, false, H, V, B, T(1) / T(B), ph0p, H, x, V, T(0), dW.data<T>(), V);
        col_mean(x, B, V, T(1) / T(B), dvb.data<T>(), false);
        col_mean(ph0p, B, H, T(1) / T(B), hmean.data<T>(), false);
        visible_means(ph0p, B, w, b_v, H, V, pv0p, gaussian);
        // Eight partial sums: one add chain (4 cycles an element) was ~2% of a 784-500 step.
        double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        const int64_t BV = B * V;
        int64_t i = 0;
        for (; i + 8 <= BV; i += 8)
            for (int j = 0; j < 8; ++j) {
                const double d = static_cast<double>(x[i + j]) - static_cast<double>(pv0p[i + j]);
                part[j] += d * d;
            }
        for (; i < BV; ++i) {
            const double d = static_cast<double>(x[i]) - static_cast<double>(pv0p[i]);
            part[0] += d * d;
        }
        const double se = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        recon = se / static_cast<double>(BV);
        // Negative phase: k Gibbs steps from the chain start.
        T* v = vk.data<T>();
        Tensor ph = chain_ ? Tensor::empty({Bc, H}, dt) : ph0.clone();
        Tensor h = Tensor::empty({Bc, H}, dt);
        T *php = ph.data<T>(), *hp = h.data<T>();
        if (chain_) hidden_probs(v, Bc, w, b_h, H, V, php);
        for (int64_t s = 0; s < k; ++s) {
            const uint64_t base = offset + static_cast<uint64_t>(s) * per_step;
            std::copy(php, php + Bc * H, hp);
            bernoulli_inplace(hp, Bc * H, seed, base);
            visible_means(hp, Bc, w, b_v, H, V, v, gaussian);
            const uint64_t vbase = base + static_cast<uint64_t>(Bc * H);
            if (gaussian)
                add_normal_inplace(v, Bc * V, seed, vbase);
            else
                bernoulli_inplace(v, Bc * V, seed, vbase);
            hidden_probs(v, Bc, w, b_h, H, V, php);
        }
        gemm(true, false, H, V, Bc, T(-1) / T(Bc), php, H, v, V, T(1), dW.data<T>(), V);
        col_mean(v, Bc, V, T(-1) / T(Bc), dvb.data<T>(), true);
        std::copy(hmean.data<T>(), hmean.data<T>() + H, dhb.data<T>());
        col_mean(php, Bc, H, T(-1) / T(Bc), dhb.data<T>(), true);
    });
    return {dW, dvb, dhb, vk, recon, hmean, seed, offset};
}

}  // namespace lamina
