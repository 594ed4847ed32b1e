// The recurrent step's small GEMM, C[M, N] (+)= A[M, K] @ B[K, N] (row-major, B already in [K, N]
// layout), as a register-blocked kernel for float. OpenBLAS re-packs W_hh on every call, which at
// RNN sizes (M = batch rows of one thread, K = H) costs about as much as the multiply itself; here
// B is the weight transposed once per sequence and read in place from L1/L2 at every step.
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

// Rows [0, MR) of C: full tiles across N, then single vectors, then the last N % kW columns scalar.
template <int MR>
__attribute__((noinline)) void row_block(int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                                         int64_t ldb, float* C, int64_t ldc, bool accumulate) {
    int64_t j = 0;
    for (; j + kNV * kW <= N; j += kNV * kW) tile<MR, kNV>(K, A, lda, B + j, ldb, C + j, ldc, accumulate);
    for (; j + kW <= N; j += kW) tile<MR, 1>(K, A, lda, B + j, ldb, C + j, ldc, accumulate);
    for (; j < N; ++j)
        for (int r = 0; r < MR; ++r) {
            float s = accumulate ? C[r * ldc + j] : 0.0f;
            for (int64_t k = 0; k < K; ++k) s += A[r * lda + k] * B[k * ldb + j];
            C[r * ldc + j] = s;
        }
}

// C[M, N] = (accumulate ? C : 0) + A[M, K] @ B[K, N], on the calling thread.
inline void gemm_small(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                       float* C, int64_t ldc, bool accumulate) {
    int64_t i = 0;
    for (; i + kMR <= M; i += kMR) row_block<kMR>(N, K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, accumulate);
    const float* a = A + i * lda;
    float* c = C + i * ldc;
    switch (M - i) {  // kMR <= 6: every remainder has its own unrolled block
        case 0: break;
        case 1: row_block<1>(N, K, a, lda, B, ldb, c, ldc, accumulate); break;
        case 2: row_block<2>(N, K, a, lda, B, ldb, c, ldc, accumulate); break;
        case 3: row_block<3>(N, K, a, lda, B, ldb, c, ldc, accumulate); break;
        case 4: row_block<4>(N, K, a, lda, B, ldb, c, ldc, accumulate); break;
        default: row_block<5>(N, K, a, lda, B, ldb, c, ldc, accumulate); break;
    }
}

}  // namespace lamina::rnn_gemm
