// Accurate, fast line sums over lamina::vec::Vectorized<T> for the norm, rbf and reduce kernels:
// four independent vector accumulators (a single add chain costs 4 cycles per vector), each
// flushed into a double after 16 vectors of its own, so a float partial sum holds at most 16
// roundings and the line total is accumulated in double, as the scalar double loops they replace
// were.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../core/vec.h"

namespace lamina::vsum {

template <class T>
using V = vec::Vectorized<T>;

template <class T>
inline double flush(const V<T>& v) {
    if constexpr (sizeof(T) == 4) return reduce_add_f64(v);
    else return static_cast<double>(reduce_add(v));
}

// sum over i < n of the terms: full(i) gives the vector of terms at elements i .. i + W - 1,
// one(i) a single term (in double) for the last n % W elements.
template <class T, class F, class G>
inline double sum_terms(int64_t n, const F& full, const G& one) {
    constexpr int W = V<T>::size();
    double s = 0;
    int64_t i = 0;
    while (i + W <= n) {
        V<T> a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
        const int64_t stop = std::min(n - n % W, i + 64 * W);
        for (; i + 4 * W <= stop; i += 4 * W) {
            a0 = a0 + full(i);
            a1 = a1 + full(i + W);
            a2 = a2 + full(i + 2 * W);
            a3 = a3 + full(i + 3 * W);
        }
        if (i + 2 * W <= stop) {
            a0 = a0 + full(i);
            a1 = a1 + full(i + W);
            i += 2 * W;
        }
        if (i + W <= stop) {
            a2 = a2 + full(i);
            i += W;
        }
        s += flush<T>((a0 + a1) + (a2 + a3));
    }
    for (; i < n; ++i) s += one(i);
    return s;
}

// sum x[i]
template <class T>
inline double sum(const T* x, int64_t n) {
    return sum_terms<T>(
        n, [&](int64_t i) { return V<T>::loadu(x + i); }, [&](int64_t i) { return static_cast<double>(x[i]); });
}

// sum (x[i] - a)^2 (the difference and square in T)
template <class T>
inline double sum_sq_dev(const T* x, int64_t n, T a) {
    const V<T> va(a);
    return sum_terms<T>(
        n,
        [&](int64_t i) {
            const V<T> d = V<T>::loadu(x + i) - va;
            return d * d;
        },
        [&](int64_t i) {
            const T d = x[i] - a;
            return static_cast<double>(d * d);
        });
}

// sum x[i] * y[i]
template <class T>
inline double dot(const T* x, const T* y, int64_t n) {
    return sum_terms<T>(
        n, [&](int64_t i) { return V<T>::loadu(x + i) * V<T>::loadu(y + i); },
        [&](int64_t i) { return static_cast<double>(x[i] * y[i]); });
}

// sum y[i] * (x[i] - a)
template <class T>
inline double dot_dev(const T* y, const T* x, int64_t n, T a) {
    const V<T> va(a);
    return sum_terms<T>(
        n, [&](int64_t i) { return V<T>::loadu(y + i) * (V<T>::loadu(x + i) - va); },
        [&](int64_t i) { return static_cast<double>(y[i] * (x[i] - a)); });
}

}  // namespace lamina::vsum
