// Helpers for the .cu files only: error checks that throw std::runtime_error naming the op, the
// grid-stride launch shape, and the device a pointer lives on. Included after the CUDA headers.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../core/index_math.h"

namespace lamina::cuda::detail {

[[noreturn]] inline void throw_cuda(const char* what, cudaError_t err) {
    throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(err) + " (" +
                             cudaGetErrorName(err) + ")");
}

inline void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) throw_cuda(what, err);
}

// Kernel launches report bad configurations only through cudaGetLastError.
inline void check_launch(const char* op) {
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) throw_cuda((std::string(op) + " kernel launch").c_str(), err);
}

constexpr int kThreads = 256;

// Enough blocks to fill any current GPU; the grid-stride loops cover the rest.
inline unsigned blocks_for(int64_t n) {
    const int64_t b = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(b, 1), int64_t(1) << 16));
}

// Kernels run on the current device, so make it the one that owns the data (multi-GPU safety).
inline void use_device_of(const void* ptr, const char* op) {
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, ptr) == cudaSuccess && attr.type == cudaMemoryTypeDevice) {
        int cur = -1;
        check(cudaGetDevice(&cur), op);
        if (cur != attr.device) check(cudaSetDevice(attr.device), op);
    } else {
        cudaGetLastError();  // a host pointer here is the caller's bug; the kernel will report it
    }
}

// Merges neighbouring dimensions that are contiguous in every operand, and drops size-1 ones, so
// the kernels' per-element div/mod chain is as short as the layout allows.
template <int N>
StridedIndexer<N> coalesce(const StridedIndexer<N>& in) {
    StridedIndexer<N> out;
    out.ndim = 0;
    for (int d = 0; d < in.ndim; ++d) {
        if (in.sizes[d] == 1) continue;
        if (out.ndim > 0) {
            const int p = out.ndim - 1;
            bool merge = true;
            for (int a = 0; a < N; ++a) merge = merge && out.strides[a][p] == in.strides[a][d] * in.sizes[d];
            if (merge) {
                out.sizes[p] *= in.sizes[d];
                for (int a = 0; a < N; ++a) out.strides[a][p] = in.strides[a][d];
                continue;
            }
        }
        out.sizes[out.ndim] = in.sizes[d];
        for (int a = 0; a < N; ++a) out.strides[a][out.ndim] = in.strides[a][d];
        ++out.ndim;
    }
    return out;
}

}  // namespace lamina::cuda::detail
