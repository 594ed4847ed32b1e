// Binary elementwise kernels on CUDA, mirroring ops/binary.cpp: out (contiguous) from two
// broadcast operands walked with the shared StridedIndexer math.
#include <cuda_runtime.h>

#include "cuda_api.h"
#include "cuda_common.cuh"

namespace lamina::cuda {

namespace {

template <class T>
__global__ void add_kernel(T* out, const T* a, const T* b, T alpha, StridedIndexer<2> ix, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(blockDim.x) * gridDim.x)
        out[i] = a[ix.offset(i, 0)] + alpha * b[ix.offset(i, 1)];
}

}  // namespace

void add(void* out, const void* a, const void* b, double alpha, DType dtype, const StridedIndexer<2>& ix_in,
         int64_t n) {
    if (n == 0) return;
    const StridedIndexer<2> ix = detail::coalesce(ix_in);
    detail::use_device_of(out, "add");
    dispatch_numeric(dtype, "add", [&](auto tag) {
        using T = decltype(tag);
        add_kernel<T><<<detail::blocks_for(n), detail::kThreads>>>(
            static_cast<T*>(out), static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T>(alpha),
            ix, n);
    });
    detail::check_launch("add");
}

}  // namespace lamina::cuda
