// softmax / log_softmax kernels: the tensor is planned as [outer, C, inner] (ReducePlan) and each
// output line (one position, all C classes) is handled by one thread; unit-stride when dim is last.
// Unit-stride lines run over Vectorized<T> (vec_math.h's exp); strided lines stay scalar loops.
#include "softmax.h"

#include <cmath>
#include <limits>

#include "../core/parallel.h"
#include "../core/vec_math.h"
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

// Compensated (Kahan) running sum of vectors: the line sums stay accurate to about one rounding
// for any length, without converting every element to double.
template <class V>
struct KahanSum {
    V s = V(0.0f), c = V(0.0f);
    void add(const V& v) {
        const V y = v - c;
        const V t = s + y;
        c = (t - s) - y;
        s = t;
    }
    double total() const {  // lanes added in double: a float horizontal sum would round again
        using T = decltype(reduce_add(s));
        T hs[V::size()], hc[V::size()];
        s.store(hs);
        c.store(hc);
        double t = 0;
        for (int i = 0; i < V::size(); ++i) t += static_cast<double>(hs[i]) - static_cast<double>(hc[i]);
        return t;
    }
};

// One unit-stride line: o = exp(a - m) (softmax: then / sum) or (a - m) - log(sum).
template <class T>
void softmax_line_unit(const T* a, T* o, int64_t R, bool log) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t full = R - R % W;
    V vm(-std::numeric_limits<T>::infinity());
    for (int64_t r = 0; r < full; r += W) vm = max(vm, V::loadu(a + r));
    T m = full > 0 ? reduce_max(vm) : -std::numeric_limits<T>::infinity();
    for (int64_t r = full; r < R; ++r) m = a[r] > m ? a[r] : m;
    if (!std::isfinite(m)) m = m > 0 ? m : T(0);  // all -inf: exp gives 0 -> nan like torch
    const V vmv(m), zero(T(0)), one(T(1));
    // exp(x - m) with the rounding error of x - m put back (TwoSum; 0 where x = -inf): the float
    // difference alone costs |x - m| / 2 ulp, 30 ulp at a logit gap of 60.
    auto exp_shifted = [&](const V& x) {
        const V d = x - vmv;
        const V b = d - x;
        V lo = (x - (d - b)) - (vmv + b);
        lo = select(lo != lo, zero, lo);
        const V e = vec::exp(d);
        return fmadd(e, lo, e);
    };
    // The sum splits into k (the count of maxima, each exp(0) = 1) and the rest, so log_softmax
    // can take log(k) + log1p(rest / k): log(1 + tiny) would round the tiny part away.
    KahanSum<V> acc;
    V kv(T(0));
    T tail[W];
    const int rest = static_cast<int>(R - full);
    for (int64_t r = 0; r < full; r += W) {
        const V x = V::loadu(a + r);
        const V e = exp_shifted(x);
        if (!log) e.store(o + r);
        const auto at_max = x == vmv;
        acc.add(select(at_max, zero, e));
        kv = kv + select(at_max, one, zero);
    }
    double s = acc.total();
    double k = static_cast<double>(reduce_add(kv));
    if (rest > 0) {
        exp_shifted(V::loadu(a + full, rest)).store(tail, rest);
        for (int j = 0; j < rest; ++j) {
            if (a[full + j] == m) k += 1;
            else s += static_cast<double>(tail[j]);
        }
        if (!log) for (int j = 0; j < rest; ++j) o[full + j] = tail[j];
    }
    if (log) {
        // (x - m) - log(s): adding m to log(s) first would round away log(s)'s digits.
        const V ls(static_cast<T>(k > 0 ? std::log(k) + std::log1p(s / k) : std::log(s)));
        for (int64_t r = 0; r < full; r += W) ((V::loadu(a + r) - vmv) - ls).store(o + r);
        if (rest > 0) ((V::loadu(a + full, rest) - vmv) - ls).store(o + full, rest);
        return;
    }
    // e / s as e * (1/s) with 1/s (double) split into two floats: one rounding at the end, no
    // division per vector (that would cost more than exp), and s's own rounding never enters.
    s += k;
    const double inv = 1.0 / s;
    const V inv_hi(static_cast<T>(inv));
    const V inv_lo(static_cast<T>(inv - static_cast<double>(static_cast<T>(inv))));
    auto scale = [&](const V& e) { return fmadd(e, inv_hi, e * inv_lo); };
    for (int64_t r = 0; r < full; r += W) scale(V::loadu(o + r)).store(o + r);
    if (rest > 0) scale(V::loadu(o + full, rest)).store(o + full, rest);
}

// softmax: d = y (g - sum(g y)); log_softmax: d = g - exp(y) sum(g). Unit stride.
template <class T>
void softmax_backward_line_unit(const T* y, const T* g, T* d, int64_t R, bool log) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t full = R - R % W;
    const int rest = static_cast<int>(R - full);
    V acc(T(0));
    if (log) {
        for (int64_t r = 0; r < full; r += W) acc = acc + V::loadu(g + r);
        if (rest > 0) acc = acc + V::loadu(g + full, rest);
        const V ts(reduce_add(acc));
        for (int64_t r = 0; r < full; r += W)
            fmadd(-vec::exp(V::loadu(y + r)), ts, V::loadu(g + r)).store(d + r);
        if (rest > 0)
            fmadd(-vec::exp(V::loadu(y + full, rest)), ts, V::loadu(g + full, rest)).store(d + full, rest);
        return;
    }
    for (int64_t r = 0; r < full; r += W) acc = fmadd(V::loadu(g + r), V::loadu(y + r), acc);
    if (rest > 0) acc = fmadd(V::loadu(g + full, rest), V::loadu(y + full, rest), acc);
    const V ts(reduce_add(acc));
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
