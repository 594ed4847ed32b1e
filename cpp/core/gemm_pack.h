// Packing for gemm_f32: op(A) into MR-row panels (k-major: MR values per k) and op(B) into
// NR-column panels (NR values per k), zero-padded at the M/N edges so the micro-kernel never
// branches. Handles both storage orders of each operand (the trans flags).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace lamina::gemm_detail {

#if defined(__AVX2__)
// Transposes an 8 x 8 block: src rows r < rows at src + r * lds (8 floats each; rows >= `rows`
// read as zeros) into dst row i (i < 8) at dst + i * ldd, columns [0, width) of each (width <= 8).
inline void transpose8x8(const float* src, int64_t lds, int rows, float* dst, int64_t ldd, int width) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm256_loadu_ps(src + i * lds) : _mm256_setzero_ps();
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    __m256 o[8];
    o[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    o[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    o[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    o[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
    if (width == 8) {
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ldd, o[i]);
    } else {
        // A masked store of the first `width` lanes: the former buffer + memcpy per row made packing
        // A (MR = 14: one full and one 6-wide block per 8 k) ~6% of a 512^3 GEMM, now ~4%.
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(width), lane);
        for (int i = 0; i < 8; ++i) _mm256_maskstore_ps(dst + i * ldd, mask, o[i]);
    }
}
#endif

// Ap[p][k][r] = op(A)[i0 + p*MR + r, k0 + k] for rows [i0, i0 + mc) and k in [k0, k0 + kc).
template <int MR>
inline void pack_a(bool trans, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc,
                   float* Ap) {
    for (int64_t p = 0; p < mc; p += MR) {
        const int64_t rows = std::min<int64_t>(MR, mc - p);
        float* dst = Ap + p * kc;
        if (trans) {  // A is [K, M]: row k holds MR consecutive values of the panel
            const float* src = A + (k0)*lda + i0 + p;
            for (int64_t k = 0; k < kc; ++k) {
                const float* s = src + k * lda;
                float* d = dst + k * MR;
                if (rows == MR) {  // a fixed-size copy the compiler turns into a few vector moves
                    std::memcpy(d, s, MR * sizeof(float));
                    continue;
                }
                int64_t r = 0;
                for (; r < rows; ++r) d[r] = s[r];
                for (; r < MR; ++r) d[r] = 0.0f;
            }
        } else {  // A is [M, K]: each panel row is contiguous in k, scattered with stride MR
            int64_t k = 0;
#if defined(__AVX2__)
            // 8 k at a time through a register transpose (the scalar scatter costs ~1 cycle a value).
            for (; k + 8 <= kc; k += 8)
                for (int r0 = 0; r0 < MR; r0 += 8)
                    transpose8x8(A + (i0 + p + r0) * lda + k0 + k, lda,
                                 static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(8, rows - r0))),
                                 dst + k * MR + r0, MR, std::min(8, MR - r0));
#endif
            int64_t r = 0;
            for (; r < rows; ++r) {
                const float* s = A + (i0 + p + r) * lda + k0;
                for (int64_t kk = k; kk < kc; ++kk) dst[kk * MR + r] = s[kk];
            }
            for (; r < MR; ++r)
                for (int64_t kk = k; kk < kc; ++kk) dst[kk * MR + r] = 0.0f;
        }
    }
}

// Bp[q][k][c] = op(B)[k0 + k, j0 + q*NR + c] for columns [j0, j0 + nc) and k in [k0, k0 + kc).
template <int NR>
inline void pack_b(bool trans, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                   float* Bp) {
    int64_t full = 0;
    if (!trans) {
        // B is [K, N]: the whole panels row by row, so the source is read in memory order (panel by
        // panel reads NR floats per row at stride ldb, which the prefetchers follow less well).
        full = nc / NR * NR;
        const float* src = B + k0 * ldb + j0;
        for (int64_t k = 0; k < kc; ++k)
            for (int64_t q = 0; q < full; q += NR)
                std::memcpy(Bp + q * kc + k * NR, src + k * ldb + q, NR * sizeof(float));
    }
    for (int64_t q = full; q < nc; q += NR) {  // the rest: every panel of op(B) = B^T, the edge panel
        const int64_t cols = std::min<int64_t>(NR, nc - q);
        float* dst = Bp + q * kc;
        if (!trans) {  // B is [K, N]: NR consecutive values per k
            const float* src = B + k0 * ldb + j0 + q;
            for (int64_t k = 0; k < kc; ++k) {
                float* d = dst + k * NR;
                if (cols == NR) {
                    std::memcpy(d, src + k * ldb, NR * sizeof(float));
                } else {
                    std::memcpy(d, src + k * ldb, cols * sizeof(float));
                    std::memset(d + cols, 0, (NR - cols) * sizeof(float));
                }
            }
        } else {  // B is [N, K]: each panel column is contiguous in k
            int64_t k = 0;
#if defined(__AVX2__)
            for (; k + 8 <= kc; k += 8)
                for (int c0 = 0; c0 < NR; c0 += 8)
                    transpose8x8(B + (j0 + q + c0) * ldb + k0 + k, ldb,
                                 static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(8, cols - c0))),
                                 dst + k * NR + c0, NR, std::min(8, NR - c0));
#endif
            int64_t c = 0;
            for (; c < cols; ++c) {
                const float* s = B + (j0 + q + c) * ldb + k0;
                for (int64_t kk = k; kk < kc; ++kk) dst[kk * NR + c] = s[kk];
            }
            for (; c < NR; ++c)
                for (int64_t kk = k; kk < kc; ++kk) dst[kk * NR + c] = 0.0f;
        }
    }
}

}  // namespace lamina::gemm_detail
