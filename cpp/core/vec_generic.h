// Helpers written once over any lamina::vec::Vectorized<T> (vec.h: the type and its per-ISA
// specialisations; here what is built from their members). vec.h includes this at its end, so
// including vec.h gives both.
#pragma once
#include <cstdint>
#include <cstring>

#include "vec.h"

namespace lamina::vec {

// y 2^n for integral n in [-150, 128] without AVX-512's vscalefps: two factors 2^(n/2), so results
// down to the smallest denormal come out right (one factor would need n >= -126).
template <class V>
inline V scale2n(const V& y, const V& n) {
    const V n1 = round_small(n * V(0.5f));
    return y * pow2n(n1) * pow2n(n - n1);
}

// NaN-propagating maximum (softmax's line max must see a NaN).
template <class V>
inline V maximum(const V& a, const V& b) {
    return select(a != a, a, max(a, b));
}

// 32-entry table lookups: one permute at AVX-512 (kTable32 true); elsewhere these lane-by-lane
// fallbacks exist so a kernel compiles everywhere, but kernels check kTable32 and keep a table-free
// formula where the lookup would cost a store and 8-16 scalar loads.
template <class V>
inline constexpr bool kTable32 = false;
#if defined(__AVX512F__)
template <>
inline constexpr bool kTable32<Vectorized<float>> = true;
#endif
template <class V>
inline V lookup32(const float* t, const V& idx) {
    float f[V::size()];
    idx.store(f);
    for (int i = 0; i < V::size(); ++i) {
        uint32_t b;
        std::memcpy(&b, &f[i], 4);
        f[i] = t[b & 31u];
    }
    return V::loadu(f);
}
// -min(|x|, c) for c > 0 (float) where no one-instruction form exists (AVX-512 has vrangeps):
// or_sign + max, so a NaN x gives -c here (max's second operand) and NaN at AVX-512.
template <class V>
inline V neg_min_abs(const V& x, const V& c) {
    return max(or_sign(x, V(-0.0f)), -c);
}

template <class V>
inline V interval_index(const V& x, int32_t base, int shift) {
    float f[V::size()];
    x.store(f);
    for (int i = 0; i < V::size(); ++i) {
        int32_t b;
        std::memcpy(&b, &f[i], 4);
        b = b - base > 0 ? (b - base) >> shift : 0;
        std::memcpy(&f[i], &b, 4);
    }
    return V::loadu(f);
}

}  // namespace lamina::vec
