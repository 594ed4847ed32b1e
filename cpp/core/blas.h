// The only door to BLAS. Row-major GEMM for float and double, on the CPU through OpenBLAS
// (scipy-openblas32) and on CUDA through cuBLAS; threads are shared with our OpenMP pool.
#pragma once
#include <cstdint>

#include "tensor.h"

namespace lamina {

// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major with leading dimensions.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// OpenBLAS (pthreads build) splits a threaded GEMM into jobs that wait on each other's packed
// panels; inside one of our parallel regions the threads callback would run them one after another
// on one thread and deadlock. Any parallel region that calls gemm holds one of these first.
struct BlasSerialScope {
    BlasSerialScope();
    ~BlasSerialScope();
};

// Routes OpenBLAS's own threading onto our OpenMP pool (called once at module load).
void blas_init();
void blas_set_num_threads(int n);
const char* blas_corename();
const char* blas_config();

}  // namespace lamina
