// Stands in for the CUDA path when lamina is built without LAMINA_CUDA: nothing is available, and
// any attempt to use a CUDA tensor says how to get a CUDA build.
#include <stdexcept>

#include "../cuda/cuda_api.h"

namespace lamina::cuda {

[[noreturn]] static void no_cuda() {
    throw std::runtime_error(
        "CUDA: lamina was built without CUDA support. Rebuild with "
        "`pip install . -Ccmake.define.LAMINA_CUDA=ON` on a machine with nvcc.");
}

bool built_with_cuda() { return false; }
bool is_available() { return false; }
int device_count() { return 0; }
void* malloc(size_t, int) { no_cuda(); }
void free(void*) noexcept {}
void memcpy_h2d(void*, const void*, size_t) { no_cuda(); }
void memcpy_d2h(void*, const void*, size_t) { no_cuda(); }
void memcpy_d2d(void*, const void*, size_t) { no_cuda(); }
void synchronize() {}
void copy_strided(void*, DType, const void*, DType, const StridedIndexer<2>&, int64_t) { no_cuda(); }
void add(void*, const void*, const void*, double, DType, const StridedIndexer<2>&, int64_t) { no_cuda(); }
void gemm(DType, bool, bool, int64_t, int64_t, int64_t, double, const void*, int64_t, const void*,
          int64_t, double, void*, int64_t) {
    no_cuda();
}

}  // namespace lamina::cuda
