// The host-side interface to the CUDA path. Implemented in cpp/cuda/*.cu when built with
// LAMINA_CUDA, and by cpp/core/cuda_stub.cpp otherwise (is_available() false, everything else
// raises a RuntimeError that says how to build with CUDA). Plain C++: no CUDA headers here.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/index_math.h"
#include "../core/dtype.h"

namespace lamina::cuda {

bool built_with_cuda();
bool is_available();      // built with CUDA and a device + driver are present
int device_count();
void* malloc(size_t nbytes, int device);
void free(void* ptr) noexcept;
void memcpy_h2d(void* dst, const void* src, size_t nbytes);
void memcpy_d2h(void* dst, const void* src, size_t nbytes);
void memcpy_d2d(void* dst, const void* src, size_t nbytes);
void synchronize();

// dst[offset(i, 0)] = cast(src[offset(i, 1)]) for the n elements of the indexer's logical shape.
void copy_strided(void* dst, DType dst_dtype, const void* src, DType src_dtype,
                  const StridedIndexer<2>& ix, int64_t n);
// out[i] = a[...] + alpha * b[...] (broadcast via the indexer's zero strides); out contiguous.
void add(void* out, const void* a, const void* b, double alpha, DType dtype,
         const StridedIndexer<2>& ix, int64_t n);
// Row-major C[M,N] = alpha * op(A) op(B) + beta * C through cuBLAS.
void gemm(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const void* A, int64_t lda, const void* B, int64_t ldb, double beta, void* C, int64_t ldc);

}  // namespace lamina::cuda
