// Topology helpers for the spatial pooler: flat index <-> coordinates over N-d dimensions, and the
// box neighbourhood of a point (radius r in every dimension, wrapping around the edges or clipped).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace lamina::htm {

// Row-major coordinates of flat index `i` over `dims` (the last dimension varies fastest).
inline void unflatten(int64_t i, const std::vector<int64_t>& dims, std::vector<int64_t>& coord) {
    coord.resize(dims.size());
    for (size_t d = dims.size(); d-- > 0;) {
        coord[d] = i % dims[d];
        i /= dims[d];
    }
}

inline int64_t flatten(const std::vector<int64_t>& coord, const std::vector<int64_t>& dims) {
    int64_t i = 0;
    for (size_t d = 0; d < dims.size(); ++d) i = i * dims[d] + coord[d];
    return i;
}

// Calls f(flat index) for every point of the box of radius r around `center` over `dims`.
// With wrap, coordinates are taken modulo the dimension (each point visited once even when the
// box is wider than the dimension); without wrap the box is clipped at the edges.
template <class F>
void for_each_neighbor(const std::vector<int64_t>& center, const std::vector<int64_t>& dims,
                       int64_t r, bool wrap, const F& f) {
    const size_t nd = dims.size();
    // Fixed-size scratch (no allocation per call: this runs once per column per step).
    constexpr size_t kMaxDims = 16;
    int64_t lo[kMaxDims], hi[kMaxDims], cur[kMaxDims];
    const size_t n = std::min(nd, kMaxDims);
    for (size_t d = 0; d < n; ++d) {
        if (wrap && 2 * r + 1 >= dims[d]) {  // the box covers the whole dimension
            lo[d] = 0;
            hi[d] = dims[d] - 1;
        } else if (wrap) {
            lo[d] = center[d] - r;
            hi[d] = center[d] + r;
        } else {
            lo[d] = std::max<int64_t>(0, center[d] - r);
            hi[d] = std::min<int64_t>(dims[d] - 1, center[d] + r);
        }
        cur[d] = lo[d];
    }
    // Coordinates stay within one dimension's length of the range, so one add or subtract wraps.
    auto wrapped = [&](size_t d, int64_t c) {
        return c < 0 ? c + dims[d] : (c >= dims[d] ? c - dims[d] : c);
    };
    const size_t last = n - 1;
    while (true) {
        int64_t base = 0;
        for (size_t d = 0; d < last; ++d) base = (base + wrapped(d, cur[d])) * dims[d + 1];
        for (int64_t c = lo[last]; c <= hi[last]; ++c) f(base + wrapped(last, c));
        size_t d = last;
        while (d-- > 0) {  // odometer over the leading dimensions
            if (++cur[d] <= hi[d]) break;
            cur[d] = lo[d];
        }
        if (d == static_cast<size_t>(-1)) return;
    }
}

}  // namespace lamina::htm
