// Constant, range and random fills. Random fills work on a contiguous buffer: element i takes
// counter (offset + i) of the Philox stream, so any thread split gives the same numbers.
#include "creation.h"

#include <cmath>

#include "../core/iter.h"
#include "../core/philox.h"
#include "../core/random.h"
#include "copy.h"
#include "random_kernels.h"

namespace lamina {

namespace {

// Runs gen(i) -> double for every element of t (in logical order) and stores it cast to t's dtype.
template <class Gen>
void generate_(Tensor& t, const char* op, const Gen& gen) {
    if (t.numel() == 0) return;
    Tensor dst = t.device().is_cpu() && t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype());
    dispatch_all(dst.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        T* p = dst.data<T>();
        parallel_for(0, dst.numel(), kGrainElementwise / 8, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) p[i] = static_cast<T>(gen(static_cast<uint64_t>(i)));
        });
    });
    if (dst.storage() != t.storage()) copy_(t, dst);
}

}  // namespace

void fill_(Tensor& t, double value) {
    t.bump_version();
    if (t.numel() == 0) return;
    if (!t.device().is_cpu()) {
        Tensor one = Tensor::empty({}, t.dtype());
        fill_(one, value);
        copy_(t, one);
        return;
    }
    dispatch_all(t.dtype(), "fill_", [&](auto tag) {
        using T = decltype(tag);
        const T v = static_cast<T>(value);
        for_each_run<1>(t.shape(), {&t}, [&](const std::array<char*, 1>& p, const int64_t* st, int64_t n) {
            T* o = reinterpret_cast<T*>(p[0]);
            if (st[0] == 1) for (int64_t k = 0; k < n; ++k) o[k] = v;
            else for (int64_t k = 0; k < n; ++k) o[k * st[0]] = v;
        });
    });
}

Tensor arange(double start, double end, double step, DType dtype, Device device) {
    LAMINA_CHECK(step != 0, "arange: step must be nonzero");
    LAMINA_CHECK(std::isfinite(start) && std::isfinite(end), "arange: start and end must be finite");
    LAMINA_CHECK((end - start) / step >= 0 || start == end, "arange: upper bound and larger bound inconsistent with step sign (start=",
                 start, ", end=", end, ", step=", step, ")");
    const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
    Tensor t = Tensor::empty({n}, dtype);
    dispatch_numeric(dtype, "arange", [&](auto tag) {
        using T = decltype(tag);
        T* p = t.data<T>();
        for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
    });
    return t.to(device);
}

void uniform_(Tensor& t, double low, double high) {
    t.bump_version();
    LAMINA_CHECK(low <= high, "uniform_: expects low <= high, got low=", low, ", high=", high);
    LAMINA_CHECK_TYPE(is_floating(t.dtype()), "uniform_: expected a floating-point tensor, got ", dtype_name(t.dtype()));
    Generator& g = default_generator();
    const uint64_t seed = g.seed, off = g.reserve(t.numel());
    if (t.dtype() == DType::Float32) {  // fast path; views and CUDA go through a contiguous buffer
        Tensor dst = t.device().is_cpu() && t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype());
        uniform_float_fill(dst.data<float>(), dst.numel(), seed, off, static_cast<float>(low), static_cast<float>(high));
        if (dst.storage() != t.storage()) copy_(t, dst);
        return;
    }
    dispatch_float(t.dtype(), "uniform_", [&](auto tag) {
        using T = decltype(tag);
        // Rounding to T can reach `high` (any u >= 1 - 2^-25 becomes 1.0f); keep [low, high).
        const T hi = static_cast<T>(high);
        const double top = high > low ? static_cast<double>(std::nextafter(hi, static_cast<T>(low))) : low;
        generate_(t, "uniform_", [&](uint64_t i) {
            const double v = low + (high - low) * philox_uniform(seed, off, i);
            return static_cast<T>(v) >= hi && high > low ? top : v;
        });
    });
}

void normal_(Tensor& t, double mean, double std) {
    t.bump_version();
    LAMINA_CHECK(std >= 0, "normal_: expects std >= 0, got ", std);
    LAMINA_CHECK_TYPE(is_floating(t.dtype()), "normal_: expected a floating-point tensor, got ", dtype_name(t.dtype()));
    Generator& g = default_generator();
    const uint64_t seed = g.seed, off = g.reserve(t.numel());
    if (t.dtype() == DType::Float32) {
        Tensor dst = t.device().is_cpu() && t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype());
        normal_float_fill(dst.data<float>(), dst.numel(), seed, off, static_cast<float>(mean), static_cast<float>(std));
        if (dst.storage() != t.storage()) copy_(t, dst);
        return;
    }
    generate_(t, "normal_", [&](uint64_t i) { return mean + std * philox_normal(seed, off, i); });
}

void randint_(Tensor& t, int64_t low, int64_t high) {
    t.bump_version();
    LAMINA_CHECK(low < high, "randint: expects low < high, got low=", low, ", high=", high);
    Generator& g = default_generator();
    const uint64_t seed = g.seed, off = g.reserve(t.numel());
    const uint64_t range = static_cast<uint64_t>(high - low);
    generate_(t, "randint", [&](uint64_t i) {
        const Philox4 r = philox4x32(off + i, seed);
        const uint64_t x = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
        return static_cast<double>(low + static_cast<int64_t>(x % range));
    });
}

void bernoulli_(Tensor& t, double p) {
    t.bump_version();
    LAMINA_CHECK(p >= 0 && p <= 1, "bernoulli_: probability must be in [0, 1], got ", p);
    Generator& g = default_generator();
    const uint64_t seed = g.seed, off = g.reserve(t.numel());
    generate_(t, "bernoulli_", [&](uint64_t i) { return philox_uniform(seed, off, i) < p ? 1.0 : 0.0; });
}

}  // namespace lamina
