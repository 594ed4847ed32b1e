// Vectorisable float versions of exp and tanh (glibc's expf/tanhf are scalar calls, ~15x slower
// than a SIMD loop), shared by the CPU kernels and CUDA through LAMINA_HD. double keeps libm.
// Written with ternaries, not fminf/fmaxf/floor: those stay library calls and block vectorisation.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "hostdev.h"

namespace lamina {

// Cephes range reduction + degree-6 polynomial, ~1-2 ulp. exp(-inf) = 0, NaN stays NaN.
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

// tanh: Cephes' odd polynomial for |x| < 0.625 (no cancellation near 0), 1 - 2 / (exp(2|x|) + 1)
// with the sign restored elsewhere; both are computed and one selected, so the loop vectorises.
LAMINA_HD float fast_tanhf(float x) {
    const float ax = x < 0.0f ? -x : x;
    const float z = x * x;
    const float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                          1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    const float e = fast_expf(2.0f * ax);
    float big = 1.0f - 2.0f / (e + 1.0f);
    big = x < 0.0f ? -big : big;
    const float r = ax < 0.625f ? small : big;
    return x != x ? x : r;
}
template <class T>
LAMINA_HD T tanh_t(T x) {
    if constexpr (std::is_same_v<T, float>) return fast_tanhf(x);
    else return std::tanh(x);
}

}  // namespace lamina
