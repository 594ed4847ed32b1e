// lamina's own float32 GEMM (BLIS-style): op(A) and op(B) are packed into MR x KC and KC x NR
// panels, blocked for L1/L2, and a register-blocked micro-kernel written once against
// vec::Vectorized<float> runs each MR x NR tile; compiled per ISA level like the rest of the core.
#pragma once
#include <cstdint>

namespace lamina {

// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C (row-major, leading dimensions lda/ldb/ldc),
// on the calling thread only (blas.cpp splits C over threads). beta == 0 overwrites C (NaN/inf in
// C do not propagate), as BLAS does. K == 0 gives C = beta * C; M == 0 or N == 0 does nothing.
// The sum over K runs in the same order for every element whatever M and N are, so splitting C
// into blocks never changes a result bit.
// row_add (N values, or null): C starts as row_add in every row instead of its old contents, beta
// ignored: C = alpha * op(A) @ op(B) + row_add (a linear layer's bias), with the bits of filling C
// with the row and running beta = 1; the x @ W^T order adds it in its first write, saving that pass.
void gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
              const float* row_add = nullptr);

// Whether this build's gemm_f32 beats OpenBLAS at M x N x K (single thread), by the size rule in
// gemm_f32.cpp (measured per ISA level). Decided on the whole problem, before blas.cpp splits it,
// so every block of one call takes the same kernel.
bool gemm_f32_preferred(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K);

// The ceiling of gemm_f32 on this core: its micro-kernel (the full MR x NR tile) on packed A and B
// panels KC = 128 deep that stay in L1, no packing, no cache misses, timed for about `seconds`
// (probe.h's measure_rate). Benchmarks print it beside the FMA peak: what SGEMM could reach here.
struct GemmKernelRate {
    double gflops = 0, median_gflops = 0;
    int chunks = 0, mr = 0, nr = 0, kc = 0;
};
GemmKernelRate gemm_kernel_peak(double seconds);

}  // namespace lamina
