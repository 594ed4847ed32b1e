// Row copies that build the direct convolution's shifted input layout (fill_shifted in
// conv2d_direct.cpp): one output row of a kernel column is a strided, zero-padded slice of one input
// row. Rows are short (8-56 elements) and there are C*H*KW of them per image, so the per-row cost is
// what counts: one masked load per vector (two and a lane permute for stride 2), no scalar edges.
// Internal to cpp/ops/conv2d_direct.cpp; compiled once per ISA level.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "../core/vec.h"

namespace lamina {
namespace conv_layout {

// d[i] = 0, i < n.
template <class T>
inline void zero_row(T* d, int64_t n) {
    using V = vec::Vectorized<T>;
    constexpr int64_t lanes = V::size();
    const V z(T(0));
    int64_t i = 0;
    for (; i + lanes <= n; i += lanes) z.store(d + i);
    if (i < n) z.store(d + i, static_cast<int>(n - i));
}

#if defined(__AVX512F__)
// Lanes [lo, hi) of 16 set (lo, hi clamped to [0, 16]).
inline __mmask16 lane_range16(int64_t lo, int64_t hi) {
    lo = std::clamp<int64_t>(lo, 0, 16);
    hi = std::clamp<int64_t>(hi, 0, 16);
    if (hi <= lo) return 0;
    return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}
#elif defined(__AVX2__)
// Lanes [lo, hi) of 8 set, as a maskload / maskstore mask.
inline __m256i lane_range8(int64_t lo, int64_t hi) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lo = std::clamp<int64_t>(lo, 0, 8);
    hi = std::clamp<int64_t>(hi, 0, 8);
    return _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(lo) - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), lane));
}
#endif

// d[i] = row[c0 + i*sw] where 0 <= c0 + i*sw < W, else 0, for i < n (c0 may be negative: the
// left padding). Masked loads read only columns inside [0, W) of this row, and the last vector is
// stored masked, so nothing past d[n - 1] is written (the next row of the layout may be filled).
template <class T>
inline void gather_row(const T* row, int64_t c0, int64_t sw, int64_t W, T* d, int64_t n) {
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
        if (sw == 1 || sw == 2) {
            const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            for (int64_t i = 0; i < n; i += 16) {
                const int64_t cs = c0 + i * sw;  // input column of d[i]
                __m512 v = _mm512_maskz_loadu_ps(lane_range16(-cs, W - cs), row + cs);
                if (sw == 2) {
                    const __m512 b = _mm512_maskz_loadu_ps(lane_range16(-cs - 16, W - cs - 16), row + cs + 16);
                    v = _mm512_permutex2var_ps(v, idx, b);
                }
                if (i + 16 <= n)
                    _mm512_storeu_ps(d + i, v);
                else
                    _mm512_mask_storeu_ps(d + i, lane_range16(0, n - i), v);
            }
            return;
        }
    }
#elif defined(__AVX2__)
    if constexpr (std::is_same_v<T, float>) {
        if (sw == 1 || sw == 2) {
            for (int64_t i = 0; i < n; i += 8) {
                const int64_t cs = c0 + i * sw;
                __m256 v = _mm256_maskload_ps(row + cs, lane_range8(-cs, W - cs));
                if (sw == 2) {
                    const __m256 b = _mm256_maskload_ps(row + cs + 8, lane_range8(-cs - 8, W - cs - 8));
                    const __m256 ev = _mm256_shuffle_ps(v, b, 0x88);  // v0 v2 b0 b2 | v4 v6 b4 b6
                    v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8));
                }
                if (i + 8 <= n)
                    _mm256_storeu_ps(d + i, v);
                else
                    _mm256_maskstore_ps(d + i, lane_range8(0, n - i), v);
            }
            return;
        }
    }
#endif
    for (int64_t i = 0; i < n; ++i) {
        const int64_t c = c0 + i * sw;
        d[i] = c >= 0 && c < W ? row[c] : T(0);
    }
}

}  // namespace conv_layout
}  // namespace lamina
