// Device discovery, allocation, copies between host and device, and synchronization: the CUDA
// runtime half of cuda_api.h. Built against the static runtime, so a machine without a driver
// loads the module fine and simply reports no device.
#include <cuda_runtime.h>

#include <string>

#include "cuda_api.h"
#include "cuda_common.cuh"

namespace lamina::cuda {

using detail::check;

bool built_with_cuda() { return true; }

int device_count() {
    int n = 0;
    // No driver, no device or a driver too old for this runtime all mean "nothing usable here".
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

bool is_available() { return device_count() > 0; }

void* malloc(size_t nbytes, int device) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        cudaGetLastError();
        throw std::runtime_error(
            "CUDA: cannot allocate " + std::to_string(nbytes) + " bytes on cuda:" + std::to_string(device) +
            ": lamina was built with CUDA but no CUDA device is available (" +
            (err != cudaSuccess ? std::string(cudaGetErrorString(err)) : std::string("0 devices found")) + ")");
    }
    if (device < 0 || device >= n)
        throw std::runtime_error("CUDA: device cuda:" + std::to_string(device) + " does not exist (" +
                                 std::to_string(n) + " device(s) present)");
    check(cudaSetDevice(device), "malloc: cudaSetDevice");
    if (nbytes == 0) return nullptr;
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, nbytes);
    if (e != cudaSuccess) {
        cudaGetLastError();  // out-of-memory is not sticky: clear it so later calls work
        throw std::runtime_error("CUDA malloc: cannot allocate " + std::to_string(nbytes) + " bytes on cuda:" +
                                 std::to_string(device) + ": " + cudaGetErrorString(e));
    }
    return p;
}

void free(void* ptr) noexcept {
    // Errors are dropped on purpose: this runs in destructors, possibly while the runtime is
    // already shutting down at interpreter exit (cudaErrorCudartUnloading).
    if (ptr) {
        if (cudaFree(ptr) != cudaSuccess) cudaGetLastError();
    }
}

void memcpy_h2d(void* dst, const void* src, size_t nbytes) {
    if (nbytes == 0) return;
    detail::use_device_of(dst, "memcpy host->device");
    check(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice), "memcpy host->device");
}

void memcpy_d2h(void* dst, const void* src, size_t nbytes) {
    if (nbytes == 0) return;
    detail::use_device_of(src, "memcpy device->host");
    check(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost), "memcpy device->host");
}

void memcpy_d2d(void* dst, const void* src, size_t nbytes) {
    if (nbytes == 0) return;
    detail::use_device_of(dst, "memcpy device->device");
    check(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice), "memcpy device->device");
}

void synchronize() {
    if (!is_available()) return;  // documented as a no-op without a device
    check(cudaDeviceSynchronize(), "synchronize");
}

}  // namespace lamina::cuda
