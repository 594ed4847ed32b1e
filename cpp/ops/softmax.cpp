// softmax / log_softmax kernels: the tensor is planned as [outer, C, inner] (ReducePlan) and each
// output line (one position, all C classes) is handled by one thread; unit-stride when dim is last.
#include "softmax.h"

#include <cmath>
#include <limits>

#include "../core/parallel.h"
#include "reduce.h"

namespace lamina {

namespace {

template <class F>
void for_softmax_lines(const ReducePlan& p, const F& f) {
    const int64_t n = p.outer * p.inner;
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, 4 * p.R));
    parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
        for (int64_t j = b; j < e; ++j) f((j / p.inner) * p.R * p.inner + j % p.inner);
    });
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
        for_softmax_lines(p, [&](int64_t base) {
            const T* a = xp + base;
            T* o = yp + base;
            T m = -std::numeric_limits<T>::infinity();
            if (st == 1) {
#pragma omp simd reduction(max : m)
                for (int64_t r = 0; r < R; ++r) m = a[r] > m ? a[r] : m;
            } else {
                for (int64_t r = 0; r < R; ++r) m = std::max(m, a[r * st]);
            }
            if (!std::isfinite(m)) m = m > 0 ? m : T(0);  // all -inf: exp gives 0 -> nan like torch
            double s = 0;
            if (log) {
                if (st == 1) {
#pragma omp simd reduction(+ : s)
                    for (int64_t r = 0; r < R; ++r) s += static_cast<double>(exp_t<T>(a[r] - m));
                } else {
                    for (int64_t r = 0; r < R; ++r) s += static_cast<double>(exp_t<T>(a[r * st] - m));
                }
                // (x - m) - log(s): adding m to log(s) first would round away log(s)'s digits.
                const T ls = static_cast<T>(std::log(s));
                for (int64_t r = 0; r < R; ++r) o[r * st] = (a[r * st] - m) - ls;
            } else {
                if (st == 1) {
#pragma omp simd reduction(+ : s)
                    for (int64_t r = 0; r < R; ++r) {
                        const T e = exp_t<T>(a[r] - m);
                        o[r] = e;
                        s += static_cast<double>(e);
                    }
                } else {
                    for (int64_t r = 0; r < R; ++r) {
                        const T e = exp_t<T>(a[r * st] - m);
                        o[r * st] = e;
                        s += static_cast<double>(e);
                    }
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
