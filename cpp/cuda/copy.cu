// Strided, dtype-converting device-to-device copy: the CUDA side of ops/copy.cpp. One thread per
// output element in a grid-stride loop over the same StridedIndexer math the CPU uses.
#include <cuda_runtime.h>

#include "convert.h"
#include "cuda_api.h"
#include "cuda_common.cuh"

namespace lamina::cuda {

namespace {

template <class D, class S>
__global__ void copy_strided_kernel(D* dst, const S* src, StridedIndexer<2> ix, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(blockDim.x) * gridDim.x)
        dst[ix.offset(i, 0)] = convert_element<D>(src[ix.offset(i, 1)]);
}

}  // namespace

void copy_strided(void* dst, DType dst_dtype, const void* src, DType src_dtype, const StridedIndexer<2>& ix_in,
                  int64_t n) {
    if (n == 0) return;
    const StridedIndexer<2> ix = detail::coalesce(ix_in);
    detail::use_device_of(dst, "copy");
    // Same dtype and both sides dense in the same order: a plain device memcpy.
    if (dst_dtype == src_dtype && ix.ndim <= 1 && (ix.ndim == 0 || (ix.strides[0][0] == 1 && ix.strides[1][0] == 1))) {
        detail::check(cudaMemcpyAsync(dst, src, n * itemsize(dst_dtype), cudaMemcpyDeviceToDevice), "copy");
        return;
    }
    dispatch_all(dst_dtype, "copy", [&](auto dtag) {
        using D = decltype(dtag);
        dispatch_all(src_dtype, "copy", [&](auto stag) {
            using S = decltype(stag);
            copy_strided_kernel<D, S><<<detail::blocks_for(n), detail::kThreads>>>(
                static_cast<D*>(dst), static_cast<const S*>(src), ix, n);
        });
    });
    detail::check_launch("copy");
}

}  // namespace lamina::cuda
