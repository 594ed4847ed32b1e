// The recurrent step's small GEMM, C[M, N] (+)= A[M, K] @ B[K, N] (row-major A and C, B packed
// into column panels by pack_b), as a register-blocked kernel for float. OpenBLAS re-packs W_hh on
// every call, which at RNN sizes (M = batch rows of one thread, K = H) costs about as much as the
// multiply itself; here B is the weight packed once per sequence and read from L1/L2 at every step.
// Written with GCC vector extensions so each ISA level's build (-march=x86-64-v2/v3/v4) gets its
// own width; nothing here allocates or threads (the caller splits rows over threads).
#pragma once
#include <cstdint>
#include <cstring>

namespace lamina::rnn_gemm {

#if defined(__AVX512F__)
constexpr int kW = 16;  // floats per vector
constexpr int kMR = 6;  // rows per tile: kMR * kNV accumulators + kNV B vectors + 1 broadcast <= 32 regs
constexpr int kNV = 4;  // vectors per tile row
#elif defined(__AVX__)
constexpr int kW = 8;
constexpr int kMR = 4;  // 16 registers: 8 accumulators + 2 B vectors + 1 broadcast
constexpr int kNV = 2;
#else
constexpr int kW = 4;
constexpr int kMR = 4;
constexpr int kNV = 2;
#endif

typedef float vf __attribute__((vector_size(kW * sizeof(float)), aligned(sizeof(float))));

inline vf load(const float* p) { return *reinterpret_cast<const vf*>(p); }
inline void store(float* p, vf v) { *reinterpret_cast<vf*>(p) = v; }

// One MR x (NV * kW) tile of C over the whole K. accumulate: start from C, else from 0.
template <int MR, int NV>
__attribute__((always_inline)) inline void tile(int64_t K, const float* __restrict A, int64_t lda,
                                                const float* __restrict B, int64_t ldb, float* __restrict C,
                                                int64_t ldc, bool accumulate) {
    vf acc[MR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = accumulate ? load(C + r * ldc + v * kW) : vf{};
    for (int64_t k = 0; k < K; ++k) {
        vf b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) b[v] = load(B + k * ldb + v * kW);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const float a = A[r * lda + k];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] += a * b[v];
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) store(C + r * ldc + v * kW, acc[r][v]);
}

// All M rows of one column panel [j, j + NV * kW) over one K block: kMR-row tiles, then one tile
// for the remaining rows. The panel of B (kc x NV * kW) stays in L1 across the row tiles.
template <int NV>
__attribute__((noinline)) void column_panel(int64_t M, int64_t kc, const float* A, int64_t lda, const float* B,
                                            int64_t ldb, float* C, int64_t ldc, bool accumulate) {
    int64_t i = 0;
    // Full kMR-row tiles, except that a last tile of 1 or 2 rows (too few accumulators to cover the
    // FMA latency; 32 = 5 * 6 + 2 at AVX-512) shares the rows of the tile before it: 6 + 2 -> 4 + 4.
    const int64_t rem = M % kMR;
    const int64_t full = (M >= kMR && rem > 0 && rem <= 2) ? M / kMR - 1 : M / kMR;
    for (int64_t t = 0; t < full; ++t, i += kMR)
        tile<kMR, NV>(kc, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
    if (M - i > kMR) {  // kMR + rem rows left: two tiles of (kMR + rem) / 2 rows and the rest
        const int64_t h = (M - i + 1) / 2;
        if (h == 4) tile<4, NV>(kc, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
        else tile<3, NV>(kc, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
        i += h;
    }
    const float* a = A + i * lda;
    float* c = C + i * ldc;
    switch (M - i) {  // kMR <= 6: every remainder has its own unrolled tile
        case 0: break;
        case 1: tile<1, NV>(kc, a, lda, B, ldb, c, ldc, accumulate); break;
        case 2: tile<2, NV>(kc, a, lda, B, ldb, c, ldc, accumulate); break;
        case 3: tile<3, NV>(kc, a, lda, B, ldb, c, ldc, accumulate); break;
        case 4: tile<4, NV>(kc, a, lda, B, ldb, c, ldc, accumulate); break;
        default: tile<5, NV>(kc, a, lda, B, ldb, c, ldc, accumulate); break;
    }
}

// K rows of B per block: a column panel of kc x (kNV * kW) floats is 16 KB, a third of L1d, so it
// survives the A rows streaming past it while every row tile reuses it.
constexpr int64_t kKC = 16384 / (kNV * kW * int64_t(sizeof(float)));

// B's column panels, in order: f(j, w) for widths kNV * kW, then kW, then the last N % kW columns.
template <class F>
inline void for_panels(int64_t N, const F& f) {
    int64_t j = 0;
    for (; j + kNV * kW <= N; j += kNV * kW) f(j, int64_t(kNV * kW));
    for (; j + kW <= N; j += kW) f(j, int64_t(kW));
    if (j < N) f(j, N - j);
}

// B[K, N] packed for gemm_small: the panel of columns [j, j + w) is K x w contiguous (row stride
// w) at Bp + j * K. Read in place from a row-major B, a panel's rows lie ldb floats apart, and a
// power-of-two ldb (512 for the LSTM H = 128 w_hh^T) maps them onto a few L1 sets, so the panel
// did not stay in L1 (in-process A/B, LSTM 64-128 T35 b32 training step: packed 0.974x).
inline void pack_b(int64_t K, int64_t N, const float* B, int64_t ldb, float* Bp) {
    for_panels(N, [&](int64_t j, int64_t w) {
        for (int64_t k = 0; k < K; ++k) std::memcpy(Bp + j * K + k * w, B + k * ldb + j, sizeof(float) * w);
    });
}

// C[M, N] = (accumulate ? C : 0) + A[M, K] @ B[K, N], on the calling thread, B packed by pack_b
// (or any writer of the same layout). Blocked as K blocks of kKC, then column panels, then row
// tiles: each panel block is read from L2 once per call and from L1 by every row tile. Every C
// element still sums its k in order (a K block's partial sum goes through C unchanged), so the
// bits do not depend on how the rows are split into tiles or threads.
inline void gemm_small(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bp, float* C,
                       int64_t ldc, bool accumulate) {
    if (K == 0) {
        if (!accumulate)
            for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, sizeof(float) * N);
        return;
    }
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
        const int64_t kc = K - k0 < kKC ? K - k0 : kKC;
        const bool acc = accumulate || k0 > 0;
        const float* a = A + k0;
        for_panels(N, [&](int64_t j, int64_t w) {
            const float* b = Bp + j * K + k0 * w;
            if (w == kNV * kW) column_panel<kNV>(M, kc, a, lda, b, w, C + j, ldc, acc);
            else if (w == kW) column_panel<1>(M, kc, a, lda, b, w, C + j, ldc, acc);
            else
                for (int64_t i = 0; i < M; ++i)
                    for (int64_t c = 0; c < w; ++c) {
                        float s = acc ? C[i * ldc + j + c] : 0.0f;
                        for (int64_t k = 0; k < kc; ++k) s += a[i * lda + k] * b[k * w + c];
                        C[i * ldc + j + c] = s;
                    }
        });
    }
}


}  // namespace lamina::rnn_gemm
