// Accurate, fast line sums over lamina::vec::Vectorized<T> for the norm, rbf and reduce kernels:
// independent vector accumulators (a single add chain costs 4 cycles per vector), each flushed
// into a double after 16 vectors of its own, so a float partial sum holds at most 16 roundings and
// the line total is accumulated in double, as the scalar double loops they replace were.
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

// Accumulators per line: AVX2 / AVX-512 retire two vector adds per cycle at 4 cycles' latency,
// so 8 chains keep both ports busy (with 4, sum dim1 at AVX2 ran at half the load rate: 1.43x
// PyTorch's time, while the SSE level, whose Vectorized<float> is two registers, had 8 chains).
// The SSE level keeps 4 (8 registers already; 8 would spill).
#if defined(__AVX2__) || defined(__AVX512F__)
inline constexpr int kAccs = 8;
#else
inline constexpr int kAccs = 4;
#endif

// sum over i < n of the terms: full(i) gives the vector of terms at elements i .. i + W - 1,
// one(i) a single term (in double) for the last n % W elements.
template <class T, class F, class G>
inline double sum_terms(int64_t n, const F& full, const G& one) {
    constexpr int W = V<T>::size();
    double s = 0;
    int64_t i = 0;
    while (i + W <= n) {
        V<T> a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
        // each accumulator takes at most 16 vectors per flush (the tails below go to fresh ones)
        const int64_t stop = std::min(n - n % W, i + 16 * kAccs * W);
        if constexpr (kAccs == 8) {
            V<T> a4(T(0)), a5(T(0)), a6(T(0)), a7(T(0));
            for (; i + 8 * W <= stop; i += 8 * W) {
                a0 = a0 + full(i);
                a1 = a1 + full(i + W);
                a2 = a2 + full(i + 2 * W);
                a3 = a3 + full(i + 3 * W);
                a4 = a4 + full(i + 4 * W);
                a5 = a5 + full(i + 5 * W);
                a6 = a6 + full(i + 6 * W);
                a7 = a7 + full(i + 7 * W);
            }
            if (i + 4 * W <= stop) {
                a0 = a0 + full(i);
                a1 = a1 + full(i + W);
                a2 = a2 + full(i + 2 * W);
                a3 = a3 + full(i + 3 * W);
                i += 4 * W;
            }
            if (i + 2 * W <= stop) {
                a4 = a4 + full(i);
                a5 = a5 + full(i + W);
                i += 2 * W;
            }
            if (i + W <= stop) {
                a6 = a6 + full(i);
                i += W;
            }
            // two float levels before the double, as with four accumulators
            s += flush<T>((a0 + a1) + (a2 + a3)) + flush<T>((a4 + a5) + (a6 + a7));
        } else {
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
