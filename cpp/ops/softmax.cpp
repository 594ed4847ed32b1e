// softmax / log_softmax kernels: the tensor is planned as [outer, C, inner] (ReducePlan) and each
// output line (one position, all C classes) is handled by one thread; unit-stride when dim is last.
// Unit-stride lines run over Vectorized<T> (vec_math.h's exp); strided lines stay scalar loops.
#include "softmax.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/parallel.h"
#include "../core/vec_math.h"
#include "reduce.h"
#include "softmax_line.h"

namespace lamina {

namespace {

template <class F>
void for_softmax_lines(const ReducePlan& p, const F& f) {
    const int64_t n = p.outer * p.inner;
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, 4 * p.R));
    parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
        // inner == 1 (dim is last): line j starts at j R, without a 64-bit division per line (15 of
        // ~200 us over 4096 lines of 64).
        if (p.inner == 1) {
            for (int64_t j = b; j < e; ++j) f(j * p.R);
            return;
        }
        for (int64_t j = b; j < e; ++j) f((j / p.inner) * p.R * p.inner + j % p.inner);
    });
}

// Short unit-stride lines (dim last, R <= kGroupMaxR) go kGroup at a time through
// softmax_lines_unit: one short line is a chain of dependent steps, several interleaved keep the
// core busy (softmax over 4096 rows of 64, 1 thread: ~206 -> ~150 us at AVX-512, ~246 -> ~176 at
// AVX2, loaded machine). Longer lines have enough independent work per line.
constexpr int64_t kGroupMaxR = 256;
// 8 lines' accumulators fit AVX-512's 32 registers; AVX2 has 16 (4 measured as fast as 8 there).
#if defined(__AVX512F__)
constexpr int kGroup = 8;
#else
constexpr int kGroup = 4;
#endif

// f(j, std::integral_constant<int, G>) for the lines j .. j+G-1 (inner == 1), G = kGroup or 1.
template <class F>
void for_line_groups(const ReducePlan& p, const F& f) {
    const int64_t n = p.outer;
    const int64_t grain = std::max<int64_t>(kGroup, kGrainElementwise / std::max<int64_t>(1, 4 * p.R));
    parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
        int64_t j = b;
        for (; j + kGroup <= e; j += kGroup) f(j, std::integral_constant<int, kGroup>{});
        for (; j < e; ++j) f(j, std::integral_constant<int, 1>{});
    });
}

// softmax: d = y (g - sum(g y)); log_softmax: d = g - exp(y) sum(g). Unit stride.
template <class T>
void softmax_backward_line_unit(const T* y, const T* g, T* d, int64_t R, bool log) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t full = R - R % W;
    const int rest = static_cast<int>(R - full);
    // Sums in two accumulators (even and odd vectors): one add chain would bound the loop.
    V acc(T(0)), acc1(T(0));
    int64_t r0 = 0;
    if (log) {
        for (; r0 + 2 * W <= full; r0 += 2 * W) {
            acc = acc + V::loadu(g + r0);
            acc1 = acc1 + V::loadu(g + r0 + W);
        }
        for (; r0 < full; r0 += W) acc = acc + V::loadu(g + r0);
        if (rest > 0) acc = acc + V::loadu(g + full, rest);
        const V ts(reduce_add(acc + acc1));
        for (int64_t r = 0; r < full; r += W)
            fmadd(-vec::exp(V::loadu(y + r)), ts, V::loadu(g + r)).store(d + r);
        if (rest > 0)
            fmadd(-vec::exp(V::loadu(y + full, rest)), ts, V::loadu(g + full, rest)).store(d + full, rest);
        return;
    }
    for (; r0 + 2 * W <= full; r0 += 2 * W) {
        acc = fmadd(V::loadu(g + r0), V::loadu(y + r0), acc);
        acc1 = fmadd(V::loadu(g + r0 + W), V::loadu(y + r0 + W), acc1);
    }
    for (; r0 < full; r0 += W) acc = fmadd(V::loadu(g + r0), V::loadu(y + r0), acc);
    if (rest > 0) acc = fmadd(V::loadu(g + full, rest), V::loadu(y + full, rest), acc);
    const V ts(reduce_add(acc + acc1));
    for (int64_t r = 0; r < full; r += W) (V::loadu(y + r) * (V::loadu(g + r) - ts)).store(d + r);
    if (rest > 0) (V::loadu(y + full, rest) * (V::loadu(g + full, rest) - ts)).store(d + full, rest);
}

}  // namespace

Tensor softmax_forward(const Tensor& x, int64_t dim, bool log) {
    const char* op = log ? "log_softmax" : "softmax";
    const ReducePlan p = plan_reduce(x, {dim}, op);
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    if (y.numel() == 0) return y;
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* xp = p.x.data<T>();
        T* yp = y.data<T>();
        const int64_t R = p.R, st = p.inner;
        if (st == 1 && R <= kGroupMaxR) {
            for_line_groups(p, [&](int64_t j, auto g) {
                constexpr int G = decltype(g)::value;
                const T* a[G];
                T* o[G];
                for (int i = 0; i < G; ++i) a[i] = xp + (j + i) * R, o[i] = yp + (j + i) * R;
                softmax_lines_unit<T, G>(a, o, R, log);
            });
            return;
        }
        for_softmax_lines(p, [&](int64_t base) {
            const T* a = xp + base;
            T* o = yp + base;
            if (st == 1) return softmax_line_unit(a, o, R, log);
            // Strided line (dim is not the last): scalar, through the shared fast_expf.
            T m = -std::numeric_limits<T>::infinity();
            for (int64_t r = 0; r < R; ++r) m = std::max(m, a[r * st]);
            if (!std::isfinite(m)) m = m > 0 ? m : T(0);  // all -inf: exp gives 0 -> nan like torch
            double s = 0;
            if (log) {
                for (int64_t r = 0; r < R; ++r) s += static_cast<double>(exp_t<T>(a[r * st] - m));
                // (x - m) - log(s): adding m to log(s) first would round away log(s)'s digits.
                const T ls = static_cast<T>(std::log(s));
                for (int64_t r = 0; r < R; ++r) o[r * st] = (a[r * st] - m) - ls;
            } else {
                for (int64_t r = 0; r < R; ++r) {
                    const T e = exp_t<T>(a[r * st] - m);
                    o[r * st] = e;
                    s += static_cast<double>(e);
                }
                const T inv = static_cast<T>(1.0 / s);
                for (int64_t r = 0; r < R; ++r) o[r * st] *= inv;
            }
        });
    });
    return y;
}

Tensor softmax_backward(const Tensor& dy_in, const Tensor& y_in, int64_t dim, bool log) {
    const char* op = log ? "log_softmax_backward" : "softmax_backward";
    LAMINA_CHECK(dy_in.shape() == y_in.shape(), op, ": gradient shape ", dy_in.shape(),
                 " does not match output shape ", y_in.shape());
    const ReducePlan p = plan_reduce(y_in, {dim}, op);
    const Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(y_in.shape(), y_in.dtype());
    if (dx.numel() == 0) return dx;
    dispatch_float(y_in.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* yp = p.x.data<T>();
        const T* gp = dy.data<T>();
        T* dp = dx.data<T>();
        const int64_t R = p.R, st = p.inner;
        for_softmax_lines(p, [&](int64_t base) {
            const T* y = yp + base;
            const T* g = gp + base;
            T* d = dp + base;
            if (st == 1) return softmax_backward_line_unit(y, g, d, R, log);
            double s = 0;
            if (log) {
                for (int64_t r = 0; r < R; ++r) s += static_cast<double>(g[r * st]);
                const T ts = static_cast<T>(s);
                for (int64_t r = 0; r < R; ++r) d[r * st] = g[r * st] - exp_t<T>(y[r * st]) * ts;
            } else {
                for (int64_t r = 0; r < R; ++r) s += static_cast<double>(g[r * st]) * y[r * st];
                const T ts = static_cast<T>(s);
                for (int64_t r = 0; r < R; ++r) d[r * st] = y[r * st] * (g[r * st] - ts);
            }
        });
    });
    return dx;
}

}  // namespace lamina
