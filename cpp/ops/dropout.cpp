// Dropout on the CPU: one pass over a contiguous buffer, element i reading Philox counter
// (offset + i), so the mask is the same for any thread count and can be rebuilt in backward.
#include "dropout.h"

#include "../core/parallel.h"
#include "../core/random.h"

namespace lamina {

namespace {

// out[i] = in[i] * (keep(i) ? scale : 0) over contiguous buffers.
Tensor apply_mask(const Tensor& in_, double p, uint64_t seed, uint64_t offset, const char* op) {
    LAMINA_CHECK(p >= 0.0 && p <= 1.0, op, ": dropout probability has to be between 0 and 1, but got ", p);
    LAMINA_CHECK_RUNTIME(in_.device().is_cpu(), op, ": only implemented for CPU tensors");
    const Tensor in = in_.contiguous();
    Tensor out = Tensor::empty(in.shape(), in.dtype());
    dispatch_float(in.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
        const T* x = in.data<T>();
        T* o = out.data<T>();
        parallel_for(0, in.numel(), kGrainElementwise / 8, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i)
                o[i] = dropout_keep(seed, offset, static_cast<uint64_t>(i), p) ? x[i] * scale : T(0);
        });
    });
    return out;
}

}  // namespace

std::tuple<Tensor, uint64_t, uint64_t> dropout_forward(const Tensor& x, double p) {
    Generator& g = default_generator();
    const uint64_t seed = g.seed, offset = g.reserve(static_cast<uint64_t>(x.numel()));
    return {apply_mask(x, p, seed, offset, "dropout"), seed, offset};
}

Tensor dropout_backward(const Tensor& dout, double p, uint64_t seed, uint64_t offset) {
    return apply_mask(dout, p, seed, offset, "dropout backward");
}

Tensor dropout_mask(const Shape& shape, DType dtype, double p, uint64_t seed, uint64_t offset) {
    Tensor ones = Tensor::empty(shape, dtype);
    dispatch_float(dtype, "dropout_mask", [&](auto tag) {
        using T = decltype(tag);
        T* o = ones.data<T>();
        for (int64_t i = 0; i < ones.numel(); ++i) o[i] = T(1);
    });
    return apply_mask(ones, p, seed, offset, "dropout_mask");
}

}  // namespace lamina
