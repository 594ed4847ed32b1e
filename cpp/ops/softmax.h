// softmax and log_softmax over one dimension, and their backwards from the saved output.
// Shapes: x [...] -> y [...] (same shape); dy, y [...] -> dx [...].
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../core/hostdev.h"
#include "../core/tensor.h"

namespace lamina {

// exp for float that the compiler can vectorise (glibc's expf is a scalar call, ~15x slower than a
// simd loop): Cephes range reduction + degree-6 polynomial, ~1-2 ulp. exp(-inf) = 0, NaN stays NaN.
LAMINA_HD float fast_expf(float x) {
    // Ternaries, not fminf/fmaxf: those stay library calls and block vectorisation.
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.5f ? 88.5f : xc;
    // Round to nearest by adding 1.5 * 2^23 (std::floor stays a libm call under trapping math).
    const float fx = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - fx * 0.693359375f;
    r = r + fx * 2.12194440e-4f;
    const float z = r * r;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * z + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(fx) + 127) << 23;
    y *= __builtin_bit_cast(float, bits);  // 2^fx; memcpy through memory would block simd
    y = x < -87.0f ? 0.0f : y;
    y = x > 88.5f ? INFINITY : y;
    return x != x ? x : y;
}
template <class T>
LAMINA_HD T exp_t(T x) {
    if constexpr (std::is_same_v<T, float>) return fast_expf(x);
    else return std::exp(x);
}

// Stable: the line maximum is subtracted before exp; sums accumulate in double.
Tensor softmax_forward(const Tensor& x, int64_t dim, bool log);
// softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - exp(y) * sum(dy).
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim, bool log);

}  // namespace lamina
