// vec::map: out[i] = f(in_0[i], ...) with f written over Vectorized<T>. Unit-stride runs go a
// vector at a time with a masked partial vector for the tail; strided runs gather a vector's worth
// first, so every element goes through the same code and gets the same answer.
#pragma once
#include <array>
#include <cstdint>
#include <utility>

#include "hostdev.h"
#include "iter.h"
#include "vec.h"

namespace lamina::vec {

template <class T, class F, size_t... I>
LAMINA_FLATTEN inline void map_unit(T* o, std::array<const T*, sizeof...(I)> x, int64_t n, const F& f,
                                    std::index_sequence<I...>) {
    using V = Vectorized<T>;
    constexpr int W = V::size();
    int64_t k = 0;
    if constexpr (sizeof...(I) == 1) {
        // One input off a vector boundary (a NumPy buffer: 16-byte aligned): a partial first
        // vector, so the loads after it are aligned; every load would split a cache line.
        const size_t mis = reinterpret_cast<uintptr_t>(x[0]) % sizeof(V);
        if (mis != 0 && mis % sizeof(T) == 0 && n > W) {
            const int head = static_cast<int>((sizeof(V) - mis) / sizeof(T));
            f(V::loadu(x[I], head)...).store(o, head);
            k = head;
        }
    }
    for (; k + W <= n; k += W) f(V::loadu(x[I] + k)...).store(o + k);
    if (k < n) {
        const int rest = static_cast<int>(n - k);
        f(V::loadu(x[I] + k, rest)...).store(o + k, rest);
    }
}

template <class T, class F, size_t... I>
LAMINA_FLATTEN inline void map_strided(T* o, std::array<const T*, sizeof...(I)> x, const int64_t* st, int64_t n,
                                       const F& f, std::index_sequence<I...>) {
    using V = Vectorized<T>;
    constexpr int W = V::size();
    T buf[sizeof...(I) + 1][W];
    for (int64_t k = 0; k < n; k += W) {
        const int m = static_cast<int>(std::min<int64_t>(W, n - k));
        for (size_t a = 0; a < sizeof...(I); ++a)
            for (int j = 0; j < m; ++j) buf[a][j] = x[a][(k + j) * st[a + 1]];
        f(V::loadu(buf[I], m)...).store(buf[sizeof...(I)], m);
        for (int j = 0; j < m; ++j) o[(k + j) * st[0]] = buf[sizeof...(I)][j];
    }
}

// Inputs already have out's shape (expanded) and out's type T.
template <class T, size_t N, class F>
void map(Tensor& out, const std::array<const Tensor*, N>& in, const F& f) {
    const int64_t n = out.numel();
    if (n == 0) return;
    bool contig = out.is_contiguous();
    for (const Tensor* t : in) contig = contig && t->is_contiguous();
    if (contig) {
        T* o = out.data<T>();
        std::array<const T*, N> x;
        for (size_t i = 0; i < N; ++i) x[i] = in[i]->template data<T>();
        parallel_for_fine(0, n, kGrainElementwise, [&](int64_t b, int64_t e) {
            std::array<const T*, N> xb;
            for (size_t i = 0; i < N; ++i) xb[i] = x[i] + b;
            map_unit(o + b, xb, e - b, f, std::make_index_sequence<N>{});
        });
        return;
    }
    std::array<const Tensor*, N + 1> ts;
    ts[0] = &out;
    for (size_t i = 0; i < N; ++i) ts[i + 1] = in[i];
    for_each_run<static_cast<int>(N + 1)>(
        out.shape(), ts, [&](const std::array<char*, N + 1>& p, const int64_t* st, int64_t m) {
            bool unit = true;
            for (size_t a = 0; a <= N; ++a) unit = unit && st[a] == 1;
            T* o = reinterpret_cast<T*>(p[0]);
            std::array<const T*, N> x;
            for (size_t i = 0; i < N; ++i) x[i] = reinterpret_cast<const T*>(p[i + 1]);
            if (unit) map_unit(o, x, m, f, std::make_index_sequence<N>{});
            else map_strided(o, x, st, m, f, std::make_index_sequence<N>{});
        });
}

}  // namespace lamina::vec
