// One unit-stride line of a softmax-like reduction: m = max(a), and sum(exp(a - m)) split into k
// (the count of maxima, each exp(0) = 1) and s (the rest), so log-sum-exp can take
// log(k) + log1p(s / k) where log(1 + tiny) would round the tiny part away. Shared by
// softmax/log_softmax (softmax.cpp) and logsumexp (reduce.cpp); written once over Vectorized<T>.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "../core/vec_math.h"

namespace lamina {

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
    // Lanes added in double (a float horizontal sum would round again), widened in registers: a
    // store and a scalar loop over the lanes was most of a short line's time (64-wide rows).
    double total() const {
        if constexpr (sizeof(decltype(reduce_add(s))) == 4) {
            return reduce_add_f64(s) - reduce_add_f64(c);
        } else {
            return static_cast<double>(reduce_add(s)) - static_cast<double>(reduce_add(c));
        }
    }
};

template <class T>
struct LineExpSum {
    T m;       // the line's maximum (0 when it is not finite, as the shift)
    double k;  // how many elements equal m
    double s;  // sum of exp(a - m) over the others
    // log(sum exp(a - m)), keeping the digits of a tiny s next to k.
    // k == 1 (one maximum, the usual case) skips a log(1) call: a quarter of a short row's time.
    double log_sum() const {
        if (k == 1) return std::log1p(s);
        return k > 0 ? std::log(k) + std::log1p(s / k) : std::log(s);
    }
};

// a[0..R) -> m, k, s; when o is given, o[r] = exp(a[r] - m) too. The rounding error of a - m is
// put back (TwoSum): the float difference alone costs |a - m| / 2 ulp of exp(a - m), 30 ulp at a
// logit gap of 60, and a sum needs it as well: for a row (0, -60), log_softmax's first output is
// -log1p(s) ~ -s, as accurate as s is.
template <class T>
LineExpSum<T> line_exp_sum(const T* a, int64_t R, T* o) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t full = R - R % W;
    const int rest = static_cast<int>(R - full);
    // Two accumulators each (even and odd vectors): a max or a Kahan step depends on the previous
    // one, and one chain (16 cycles per Kahan step) would bound the loop, not the exp's arithmetic.
    V vm0(-std::numeric_limits<T>::infinity()), vm1 = vm0;
    int64_t r = 0;
    for (; r + 2 * W <= full; r += 2 * W) {
        vm0 = max(vm0, V::loadu(a + r));
        vm1 = max(vm1, V::loadu(a + r + W));
    }
    if (r < full) vm0 = max(vm0, V::loadu(a + r));
    // The last R % W elements as one vector, through the same max and exp-sum steps (no scalar
    // loops: cross-entropy's rows of 10 are all tail at AVX-512, 8 + 2 at AVX2). Padded with -inf
    // for the max, then with m itself for the sum: exp(0) = 1, counted as maxima and taken off k
    // again (-inf padding there would make exp underflow to denormals: a microcode assist per
    // vector, 2-3x the line's time).
    V tail_x;
    typename V::Mask in_tail{};
    if (rest > 0) {
        T lane[W];
        for (int j = 0; j < W; ++j) lane[j] = T(j);
        in_tail = V::loadu(lane) < V(T(rest));
        tail_x = V::loadu(a + full, rest);
        vm1 = max(vm1, select(in_tail, tail_x, V(-std::numeric_limits<T>::infinity())));
    }
    T m = reduce_max(max(vm0, vm1));
    if (!std::isfinite(m)) m = m > 0 ? m : T(0);  // all -inf: exp gives 0 -> nan like torch
    const V vmv(m), zero(T(0)), one(T(1));
    auto exp_shifted = [&](const V& x) {
        const V d = x - vmv;
        const V b = d - x;
        V lo = (x - (d - b)) - (vmv + b);
        lo = select(lo != lo, zero, lo);
        const V e = vec::exp_nonpos(d);  // d = x - m <= 0 (or NaN)
        return fmadd(e, lo, e);
    };
    KahanSum<V> acc[2];
    V kv[2] = {V(T(0)), V(T(0))};
    auto add = [&](const V& x, const V& e, int i) {
        const auto at_max = x == vmv;
        acc[i].add(select(at_max, zero, e));
        kv[i] = kv[i] + select(at_max, one, zero);
    };
    auto step = [&](int64_t at, int i) {
        const V x = V::loadu(a + at);
        const V e = exp_shifted(x);
        if (o != nullptr) e.store(o + at);
        add(x, e, i);
    };
    for (r = 0; r + 2 * W <= full; r += 2 * W) {
        step(r, 0);
        step(r + W, 1);
    }
    if (r < full) step(r, 0);
    if (rest > 0) {
        tail_x = select(in_tail, tail_x, vmv);
        const V e = exp_shifted(tail_x);
        if (o != nullptr) e.store(o + full, rest);
        add(tail_x, e, 1);
    }
    acc[0].add(acc[1].s);  // true sum = s - c for each
    acc[0].add(zero - acc[1].c);
    const double pad = rest > 0 ? W - rest : 0;  // the padding lanes counted as maxima
    return {m, static_cast<double>(reduce_add(kv[0] + kv[1])) - pad, acc[0].total()};
}

// One unit-stride line: o = exp(a - m) (softmax: then / sum) or (a - m) - log(sum). o may be a
// (in place): each element is read before it is written.
template <class T>
inline void softmax_line_unit(const T* a, T* o, int64_t R, bool log) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t full = R - R % W;
    const int rest = static_cast<int>(R - full);
    const LineExpSum<T> ls = line_exp_sum(a, R, log ? nullptr : o);
    const V vmv(ls.m);
    if (log) {
        // (x - m) - log(s): adding m to log(s) first would round away log(s)'s digits.
        const V lsv(static_cast<T>(ls.log_sum()));
        for (int64_t r = 0; r < full; r += W) ((V::loadu(a + r) - vmv) - lsv).store(o + r);
        if (rest > 0) ((V::loadu(a + full, rest) - vmv) - lsv).store(o + full, rest);
        return;
    }
    // e / s as e * (1/s) with 1/s (double) split into two floats: one rounding at the end, no
    // division per vector (that would cost more than exp), and s's own rounding never enters.
    const double inv = 1.0 / (ls.s + ls.k);
    const V inv_hi(static_cast<T>(inv));
    const V inv_lo(static_cast<T>(inv - static_cast<double>(static_cast<T>(inv))));
    auto scale = [&](const V& e) { return fmadd(e, inv_hi, e * inv_lo); };
    for (int64_t r = 0; r < full; r += W) scale(V::loadu(o + r)).store(o + r);
    if (rest > 0) scale(V::loadu(o + full, rest)).store(o + full, rest);
}

}  // namespace lamina
