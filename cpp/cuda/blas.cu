// Row-major GEMM on CUDA through cuBLAS (column-major): C = op(A) op(B) is computed as
// C^T = op(B)^T op(A)^T, i.e. the operands swap places and keep their transpose flags.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <climits>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_api.h"
#include "cuda_common.cuh"

namespace lamina::cuda {

namespace {

void check_cublas(cublasStatus_t st, const char* what) {
    if (st != CUBLAS_STATUS_SUCCESS)
        throw std::runtime_error(std::string("cuBLAS ") + what + ": " + cublasGetStatusString(st));
}

// One handle per device, created on first use. Never destroyed: handles live for the process, and
// destroying them from static destructors races the runtime's own teardown.
cublasHandle_t handle_for_current_device() {
    static std::mutex mu;
    static std::vector<cublasHandle_t> handles;
    int dev = 0;
    detail::check(cudaGetDevice(&dev), "gemm: cudaGetDevice");
    std::lock_guard<std::mutex> lock(mu);
    if (static_cast<int>(handles.size()) <= dev) handles.resize(dev + 1, nullptr);
    if (!handles[dev]) check_cublas(cublasCreate(&handles[dev]), "gemm: cublasCreate");
    return handles[dev];
}

// K == 0: op(A) op(B) is an empty sum, so C = beta * C (and exactly 0 when beta == 0, NaNs included).
template <class T>
__global__ void scale_rows_kernel(T* C, int64_t ldc, int64_t M, int64_t N, T beta) {
    const int64_t n = M * N;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(blockDim.x) * gridDim.x) {
        T& c = C[(i / N) * ldc + i % N];
        c = beta == T(0) ? T(0) : beta * c;
    }
}

}  // namespace

void gemm(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const void* A, int64_t lda, const void* B, int64_t ldb, double beta, void* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    detail::use_device_of(C, "gemm");
    if (K == 0) {
        dispatch_float(dtype, "matmul", [&](auto tag) {
            using T = decltype(tag);
            scale_rows_kernel<T><<<detail::blocks_for(M * N), detail::kThreads>>>(
                static_cast<T*>(C), ldc, M, N, static_cast<T>(beta));
        });
        detail::check_launch("gemm (K = 0)");
        return;
    }
    for (int64_t v : {M, N, K, lda, ldb, ldc})
        if (v > INT_MAX)
            throw std::runtime_error("gemm: dimensions M=" + std::to_string(M) + " N=" + std::to_string(N) +
                                     " K=" + std::to_string(K) + " exceed cuBLAS's 32-bit interface");
    cublasHandle_t h = handle_for_current_device();
    const cublasOperation_t opA = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opB = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int m = int(N), n = int(M), k = int(K);
    if (dtype == DType::Float32) {
        const float al = float(alpha), be = float(beta);
        check_cublas(cublasSgemm(h, opB, opA, m, n, k, &al, static_cast<const float*>(B), int(ldb),
                                 static_cast<const float*>(A), int(lda), &be, static_cast<float*>(C), int(ldc)),
                     "gemm (float32)");
    } else if (dtype == DType::Float64) {
        check_cublas(cublasDgemm(h, opB, opA, m, n, k, &alpha, static_cast<const double*>(B), int(ldb),
                                 static_cast<const double*>(A), int(lda), &beta, static_cast<double*>(C),
                                 int(ldc)),
                     "gemm (float64)");
    } else {
        throw TypeError(std::string("matmul: expected a floating-point tensor (float32 or float64), got ") +
                        dtype_name(dtype));
    }
}

}  // namespace lamina::cuda
