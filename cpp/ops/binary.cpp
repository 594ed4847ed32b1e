// Binary elementwise kernels: the broadcasting strided loop on the CPU, a kernel per op on CUDA.
#include "binary.h"

#include "../core/iter.h"
#include "../cuda/cuda_api.h"

namespace lamina {

namespace {

void check_binary(const char* op, const Tensor& a, const Tensor& b) {
    LAMINA_CHECK_RUNTIME(a.device() == b.device(), op, ": expected both tensors on the same device, got ",
                         a.device(), " (shape ", a.shape(), ") and ", b.device(), " (shape ", b.shape(), ")");
}

}  // namespace

Tensor add_forward(const Tensor& a_in, const Tensor& b_in, double alpha) {
    check_binary("add", a_in, b_in);
    const DType dt = promote_types(a_in.dtype(), b_in.dtype());
    const Shape shape = broadcast_shapes(a_in.shape(), b_in.shape(), "add");
    const Tensor a = a_in.to(dt).expand(shape), b = b_in.to(dt).expand(shape);
    Tensor out = Tensor::empty(shape, dt, a.device());
    if (out.numel() == 0) return out;
    if (out.device().is_cuda()) {
        StridedIndexer<2> ix;
        ix.ndim = static_cast<int>(shape.size());
        for (int d = 0; d < ix.ndim; ++d) {
            ix.sizes[d] = shape[d];
            ix.strides[0][d] = a.strides()[d];
            ix.strides[1][d] = b.strides()[d];
        }
        cuda::add(out.data_ptr(), a.data_ptr(), b.data_ptr(), alpha, dt, ix, out.numel());
        return out;
    }
    dispatch_numeric(dt, "add", [&](auto tag) {
        using T = decltype(tag);
        const T al = static_cast<T>(alpha);
        for_each_run<3>(shape, {&out, &a, &b}, [&](const std::array<char*, 3>& p, const int64_t* st, int64_t n) {
            T* o = reinterpret_cast<T*>(p[0]);
            const T* x = reinterpret_cast<const T*>(p[1]);
            const T* y = reinterpret_cast<const T*>(p[2]);
            if (st[1] == 1 && st[2] == 1) {
                for (int64_t k = 0; k < n; ++k) o[k] = x[k] + al * y[k];
            } else {
                for (int64_t k = 0; k < n; ++k) o[k] = x[k * st[1]] + al * y[k * st[2]];
            }
        });
    });
    return out;
}

}  // namespace lamina
