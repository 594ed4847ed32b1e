// The only door to BLAS. Row-major GEMM for float and double, on the CPU through OpenBLAS
// (scipy-openblas32) and on CUDA through cuBLAS; threads are shared with our OpenMP pool.
#pragma once
#include <cstdint>

#include "tensor.h"

namespace lamina {

// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major with leading dimensions.
// row_add (N values, or null): C starts as that row in every row (old contents not read, beta
// ignored), i.e. C = alpha * op(A) @ op(B) + row_add, a linear layer's bias; the same bits as
// filling C with the row and passing beta = 1, without that pass where the kernel allows.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
          const float* row_add = nullptr);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc,
          const double* row_add = nullptr);

// Threads: OpenBLAS always runs single-threaded (its thread count is process-wide and not
// thread-local, so it is set to 1 once at load and never toggled); gemm splits C into blocks over
// get_num_threads() OpenMP threads itself. Inside a parallel region gemm runs on the calling thread
// only, so any parallel region may call it, and any number of threads may call it at once.

// Routes any OpenBLAS threading onto our OpenMP pool and pins OpenBLAS to one thread (called once
// at module load, with the GIL held).
void blas_init();
const char* blas_corename();
const char* blas_config();

}  // namespace lamina
