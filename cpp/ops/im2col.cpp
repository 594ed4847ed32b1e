// CPU im2col / col2im. Each column-matrix row is one (channel, kh, kw) tap: for every output row
// we find the valid output columns once, copy them (vector steps, stride 2 as even-element picks)
// and zero the borders.
#include "im2col.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "../core/parallel.h"
#include "../core/vec.h"

namespace lamina {

namespace {

// Channels per thread so that each thread moves at least kGrainElementwise elements.
int64_t channel_grain(const ConvGeometry& g) {
    const int64_t per_channel = std::max<int64_t>(1, g.KH * g.KW * g.OH * g.OW);
    return std::max<int64_t>(1, kGrainElementwise / per_channel);
}

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// One vector of the even elements p[0], p[2], ... of the first `count` elements from p
// (count <= 2 * lanes - 1; the rest read as zeros, nothing past them is touched): a row's tail.
inline vec::Vectorized<float> evens(const float* p, int count) {
#if defined(__AVX512F__)
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512 a = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << std::min(count, 16)) - 1), p);
    const __m512 b = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << std::max(count - 16, 0)) - 1), p + 16);
    return _mm512_permutex2var_ps(a, idx, b);
#else
    const __m256 a = vec::Vectorized<float>::loadu(p, std::min(count, 8)).v;
    const __m256 b = vec::Vectorized<float>::loadu(p + 8, std::max(count - 8, 0)).v;
    // per 128-bit half: a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs in order 0 2 1 3
    const __m256 x = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(x), _MM_SHUFFLE(3, 1, 2, 0)));
#endif
}

// The same with all 2 * lanes elements readable: plain loads.
inline vec::Vectorized<float> evens_full(const float* p) {
#if defined(__AVX512F__)
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_loadu_ps(p + 16));
#else
    const __m256 x = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(x), _MM_SHUFFLE(3, 1, 2, 0)));
#endif
}
#endif

// d[i] = src[i * sw] for i < n. At AVX2 / AVX-512: vector steps with one masked tail, and float
// rows at stride 2 as even-element picks. A plain loop left a row of 56 (conv e) as three vectors
// and eight scalar copies at AVX-512, and stride 2 as scalar copies; the baseline level keeps it.
template <class T>
inline void copy_row(T* d, const T* src, int64_t n, int64_t sw) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
    using V = vec::Vectorized<T>;
    constexpr int64_t lanes = V::size();
    if (sw == 1) {
        int64_t i = 0;
        for (; i + lanes <= n; i += lanes) V::loadu(src + i).store(d + i);
        if (i < n) V::loadu(src + i, static_cast<int>(n - i)).store(d + i, static_cast<int>(n - i));
        return;
    }
    if constexpr (std::is_same_v<T, float>) {
        if (sw == 2) {
            int64_t i = 0;
            // Plain loads while the whole 2 * lanes elements lie inside the row (AVX2's masked
            // loads cost more than its plain ones).
            for (; i + lanes < n; i += lanes) evens_full(src + 2 * i).store(d + i);
            for (; i < n; i += lanes) {
                const int m = static_cast<int>(std::min<int64_t>(lanes, n - i));
                evens(src + 2 * i, 2 * m - 1).store(d + i, m);
            }
            return;
        }
    }
#endif
    if (sw == 1) {
        for (int64_t i = 0; i < n; ++i) d[i] = src[i];
    } else {
        for (int64_t i = 0; i < n; ++i) d[i] = src[i * sw];
    }
}

// dst[i * sw] += src[i] for i < n: one row of col2im. At AVX2 / AVX-512, float rows at stride 2
// (conv f's data grad) spread each vector of src over the even elements of 2 * lanes of dst: AVX-512
// adds and stores under an even-lane mask; AVX2 interleaves src with zeros and adds the pair of
// vectors while the whole span lies inside the row, so an odd element gets +0.0, which leaves its
// bits as they were (dx starts at +0.0, so it never holds -0.0). Each element still gets its taps'
// terms in the same order. The scalar loop was ~20% of conv (f)'s data grad (perf, 1 thread).
template <class T>
inline void add_row(T* dst, const T* src, int64_t n, int64_t sw) {
    if (sw == 1) {
        for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
        return;
    }
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
        if (sw == 2) {
            const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
            const __m512i hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
            for (int64_t i = 0; i < n; i += 16) {
                const int64_t m = std::min<int64_t>(16, n - i);  // src elements; dst span 2m - 1
                const __m512 v = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << m) - 1), src + i);
                const __mmask16 m0 = static_cast<__mmask16>(0x5555u & ((1u << std::min<int64_t>(2 * m - 1, 16)) - 1));
                const __mmask16 m1 = static_cast<__mmask16>(0x5555u & ((1u << std::max<int64_t>(2 * m - 17, 0)) - 1));
                float* d = dst + 2 * i;
                const __m512 d0 = _mm512_maskz_loadu_ps(m0, d), d1 = _mm512_maskz_loadu_ps(m1, d + 16);
                _mm512_mask_storeu_ps(d, m0, _mm512_add_ps(d0, _mm512_permutexvar_ps(lo, v)));
                _mm512_mask_storeu_ps(d + 16, m1, _mm512_add_ps(d1, _mm512_permutexvar_ps(hi, v)));
            }
            return;
        }
    }
#elif defined(__AVX2__) && defined(__FMA__)
    if constexpr (std::is_same_v<T, float>) {
        if (sw == 2) {
            int64_t i = 0;
            const __m256 z = _mm256_setzero_ps();
            // while dst[2i .. 2i + 15] lies inside the row's span (its last element 2(n - 1))
            for (; i + 8 < n; i += 8) {
                const __m256 v = _mm256_loadu_ps(src + i);
                const __m256 a = _mm256_unpacklo_ps(v, z), b = _mm256_unpackhi_ps(v, z);  // s0 0 s1 0 | s4 0 s5 0
                float* d = dst + 2 * i;
                _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), _mm256_permute2f128_ps(a, b, 0x20)));
                _mm256_storeu_ps(d + 8, _mm256_add_ps(_mm256_loadu_ps(d + 8), _mm256_permute2f128_ps(a, b, 0x31)));
            }
            for (; i < n; ++i) dst[2 * i] += src[i];
            return;
        }
    }
#endif
    for (int64_t i = 0; i < n; ++i) dst[i * sw] += src[i];
}

}  // namespace

template <class T>
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void im2col_rows(const T* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, T* cols, int64_t ld) {
    const int64_t L = (oh1 - oh0) * g.OW;
    if (ld < 0) ld = L;
    parallel_for_fine(0, g.C, std::max<int64_t>(1, channel_grain(g) * g.OH / std::max<int64_t>(1, oh1 - oh0)),
                      [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            const T* xc = x + c * g.H * g.W;
            for (int64_t kh = 0; kh < g.KH; ++kh) {
                int64_t oh_lo, oh_hi;
                conv_valid_range(kh, g.H, g.OH, g.sh, g.ph, g.dh, oh_lo, oh_hi);
                oh_lo = std::min(std::max(oh_lo, oh0), oh1);
                oh_hi = std::max(std::min(oh_hi, oh1), oh_lo);
                for (int64_t kw = 0; kw < g.KW; ++kw) {
                    int64_t ow_lo, ow_hi;
                    conv_valid_range(kw, g.W, g.OW, g.sw, g.pw, g.dw, ow_lo, ow_hi);
                    T* row = cols + ((c * g.KH + kh) * g.KW + kw) * ld;
                    std::fill(row, row + (oh_lo - oh0) * g.OW, T(0));
                    for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
                        T* dst = row + (oh - oh0) * g.OW;
                        const int64_t ih = conv_in_coord(oh, kh, g.sh, g.ph, g.dh);
                        const T* src = xc + ih * g.W + conv_in_coord(ow_lo, kw, g.sw, g.pw, g.dw);
                        // Plain loops, not memcpy/fill: rows are short (8-32 elements in small
                        // layers), where a library call costs more than the copy (see the
                        // optimize attribute above, which stops GCC turning them back into calls).
                        for (int64_t i = 0; i < ow_lo; ++i) dst[i] = T(0);
                        copy_row(dst + ow_lo, src, ow_hi - ow_lo, g.sw);
                        for (int64_t i = ow_hi; i < g.OW; ++i) dst[i] = T(0);
                    }
                    std::fill(row + (oh_hi - oh0) * g.OW, row + L, T(0));
                }
            }
        }
    });
}

template <class T>
void im2col(const T* x, const ConvGeometry& g, T* cols, int64_t ld) {
    im2col_rows(x, g, 0, g.OH, cols, ld);
}

template <class T>
void col2im(const T* cols, const ConvGeometry& g, T* dx, int64_t ld) {
    if (ld < 0) ld = g.OH * g.OW;
    // Each channel's taps write only into that channel, so channels split across threads safely.
    parallel_for_fine(0, g.C, channel_grain(g), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            T* dxc = dx + c * g.H * g.W;
            std::fill(dxc, dxc + g.H * g.W, T(0));
            for (int64_t kh = 0; kh < g.KH; ++kh) {
                int64_t oh_lo, oh_hi;
                conv_valid_range(kh, g.H, g.OH, g.sh, g.ph, g.dh, oh_lo, oh_hi);
                for (int64_t kw = 0; kw < g.KW; ++kw) {
                    int64_t ow_lo, ow_hi;
                    conv_valid_range(kw, g.W, g.OW, g.sw, g.pw, g.dw, ow_lo, ow_hi);
                    const T* row = cols + ((c * g.KH + kh) * g.KW + kw) * ld;
                    const int64_t n = ow_hi - ow_lo;
                    for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
                        const int64_t ih = conv_in_coord(oh, kh, g.sh, g.ph, g.dh);
                        T* dst = dxc + ih * g.W + conv_in_coord(ow_lo, kw, g.sw, g.pw, g.dw);
                        const T* src = row + oh * g.OW + ow_lo;
                        add_row(dst, src, n, g.sw);
                    }
                }
            }
        }
    });
}

template void im2col<float>(const float*, const ConvGeometry&, float*, int64_t);
template void im2col_rows<float>(const float*, const ConvGeometry&, int64_t, int64_t, float*, int64_t);
template void im2col_rows<double>(const double*, const ConvGeometry&, int64_t, int64_t, double*, int64_t);
template void im2col<double>(const double*, const ConvGeometry&, double*, int64_t);
template void col2im<float>(const float*, const ConvGeometry&, float*, int64_t);
template void col2im<double>(const double*, const ConvGeometry&, double*, int64_t);

}  // namespace lamina
