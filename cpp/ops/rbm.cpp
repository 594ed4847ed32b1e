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
#include "../core/philox_lanes.h"
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

#ifdef LAMINA_PHILOX_LANES
// Philox's first word (rbm_uniform_at's) on U32::W counters at once (core/philox_lanes.h): the
// scalar rounds per element were ~12% of a 784-500 CD-1 step.
using philox_vec::U32;
// x[0..W) = (w >> 8) 2^-24 < x ? 1 : 0 (exact: a 24-bit integer times a power of two).
#if defined(__AVX512F__)
inline void bernoulli_store(U32 w, float* x) {
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w.v, 8)), _mm512_set1_ps(1.0f / 16777216.0f));
    const __mmask16 m = _mm512_cmp_ps_mask(u, _mm512_loadu_ps(x), _CMP_LT_OQ);
    _mm512_storeu_ps(x, _mm512_maskz_mov_ps(m, _mm512_set1_ps(1.0f)));
}
#elif defined(__AVX2__)
inline void bernoulli_store(U32 w, float* x) {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w.v, 8)), _mm256_set1_ps(1.0f / 16777216.0f));
    const __m256 lt = _mm256_cmp_ps(u, _mm256_loadu_ps(x), _CMP_LT_OQ);
    _mm256_storeu_ps(x, _mm256_and_ps(lt, _mm256_set1_ps(1.0f)));
}
#else
inline void bernoulli_store1(__m128i w, float* x) {
    const __m128 u = _mm_mul_ps(_mm_cvtepi32_ps(_mm_srli_epi32(w, 8)), _mm_set1_ps(1.0f / 16777216.0f));
    _mm_storeu_ps(x, _mm_and_ps(_mm_cmplt_ps(u, _mm_loadu_ps(x)), _mm_set1_ps(1.0f)));
}
inline void bernoulli_store(U32 w, float* x) {
    bernoulli_store1(w.a, x);
    bernoulli_store1(w.b, x + 4);
}
#endif
#endif  // LAMINA_PHILOX_LANES

// x[i] = uniform(offset + i) < x[i] ? 1 : 0, in place. float: U32::W counters at a time (the
// same words as rbm_uniform_at, so rbm_noise still replays the draws); the scalar loop does the
// tail and the rare block whose counter low word would wrap.
template <class T>
void bernoulli_inplace(T* x, int64_t n, uint64_t seed, uint64_t offset) {
    parallel_for(0, n, kGrainElementwise / 8, [=](int64_t b, int64_t e) {
        T* const p = x;
        int64_t i = b;
#ifdef LAMINA_PHILOX_LANES
        if constexpr (std::is_same_v<T, float>) {
            for (; i + U32::W <= e; i += U32::W) {
                const uint64_t ctr = offset + static_cast<uint64_t>(i);
                if (philox_vec::lanes_wrap(ctr)) break;
                U32 w0, w1;
                philox_vec::philox_lanes(ctr, seed, w0, w1);
                bernoulli_store(w0, p + i);
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
