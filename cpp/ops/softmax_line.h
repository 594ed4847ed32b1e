// One unit-stride line of a softmax-like reduction: m = max(a), and sum(exp(a - m)) split into k
// (the count of maxima, each exp(0) = 1) and s (the rest), so log-sum-exp can take
// log(k) + log1p(s / k) where log(1 + tiny) would round the tiny part away. Shared by
// softmax/log_softmax (softmax.cpp) and logsumexp (reduce.cpp); written once over Vectorized<T>.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "../core/hostdev.h"
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
    // log1p(u) as log(w) + (u - (w - 1)) / w, w = 1 + u (the rounding of w put back, to double
    // precision): glibc's log1p took ~5 ns a call against ~3.5, a tenth of a 10-class row's time.
    double log_sum() const {
        if (k == 1) return log1p_fast(s);
        return k > 0 ? std::log(k) + log1p_fast(s / k) : std::log(s);
    }
    static double log1p_fast(double u) {
        const double w = 1.0 + u;
        return w == 1.0 ? u : std::log(w) + (u - (w - 1.0)) / w;
    }
};

template <class T, int G, bool kTame>
void line_exp_sum_rest(const T* const* a, int64_t R, T* const* o, LineExpSum<T>* out,
                       const vec::Vectorized<T>* vmv, const vec::Vectorized<T>* tail_x,
                       typename vec::Vectorized<T>::Mask in_tail);

// a[0..R) -> m, k, s; when o is given, o[r] = exp(a[r] - m) too. The rounding error of a - m is
// put back (TwoSum): the float difference alone costs |a - m| / 2 ulp of exp(a - m), 30 ulp at a
// logit gap of 60, and a sum needs it as well: for a row (0, -60), log_softmax's first output is
// -log1p(s) ~ -s, as accurate as s is.
// G lines at once (a[g], o[g] (o: nullptr for none), out[g]), interleaved step by step: a short line (64 wide: 4 AVX-512
// vectors) is a chain of dependent steps (max, horizontal max, exp, Kahan, horizontal sums) and one
// line at a time left the core waiting on it (~50 ns a line of 64). Each line's arithmetic is the
// same for every G, so results do not depend on how lines are grouped (thread counts).
// (flatten: with G > 1 GCC left the step lambda out of line, ~10% of cross-entropy's forward.)
template <class T, int G>
LAMINA_FLATTEN void line_exp_sum_group(const T* const* a, int64_t R, T* const* o, LineExpSum<T>* out) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t full = R - R % W;
    const int rest = static_cast<int>(R - full);
    // Two accumulators each (even and odd vectors): a max or a Kahan step depends on the previous
    // one, and one chain (16 cycles per Kahan step) would bound the loop, not the exp's arithmetic.
    const V ninf(-std::numeric_limits<T>::infinity());
    const V pinf(std::numeric_limits<T>::infinity());
    // vmn: the line's minimum (min(x, vmn) skips a NaN x), for the tame test below.
    V vm0[G], vm1[G], vmn[G], tail_x[G];
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) vm0[g] = vm1[g] = tail_x[g] = ninf, vmn[g] = pinf;
    int64_t r = 0;
    for (; r + 2 * W <= full; r += 2 * W) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
            const V x0 = V::loadu(a[g] + r), x1 = V::loadu(a[g] + r + W);
            vm0[g] = max(vm0[g], x0);
            vm1[g] = max(vm1[g], x1);
            vmn[g] = min(x0, min(x1, vmn[g]));
        }
    }
    if (r < full) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
            const V x0 = V::loadu(a[g] + r);
            vm0[g] = max(vm0[g], x0);
            vmn[g] = min(x0, vmn[g]);
        }
    }
    // The last R % W elements as one vector, through the same max and exp-sum steps (no scalar
    // loops: cross-entropy's rows of 10 are all tail at AVX-512, 8 + 2 at AVX2). Padded with -inf
    // for the max, then with m itself for the sum: exp(0) = 1, counted as maxima and taken off k
    // again (-inf padding there would make exp underflow to denormals: a microcode assist per
    // vector, 2-3x the line's time).
    typename V::Mask in_tail{};
    if (rest > 0) {
        T lane[W];
        for (int j = 0; j < W; ++j) lane[j] = T(j);
        in_tail = V::loadu(lane) < V(T(rest));
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
            tail_x[g] = V::loadu(a[g] + full, rest);
            vm1[g] = max(vm1[g], select(in_tail, tail_x[g], ninf));
            vmn[g] = min(select(in_tail, tail_x[g], pinf), vmn[g]);
        }
    }
    V vmv[G];
    // Tame lines (the usual case): a finite maximum m and every element within 80 of it (a NaN
    // element may be there: it comes out through lo below). Their x - m need no clamp or range
    // test in exp and lo no NaN guard, and that arithmetic gives the same bits as the general path
    // on them, so lines come out the same however they are grouped. ~3 of ~31 vector ops per
    // vector of the exp-sum loop at AVX-512, ~4 at AVX2, for one min per vector here.
    bool tame = true;
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
        T m = reduce_max(max(vm0[g], vm1[g]));
        tame = tame && std::isfinite(m) && !(vmn[g] < V(m - T(80))).any();
        if (!std::isfinite(m)) m = m > 0 ? m : T(0);  // all -inf: exp gives 0 -> nan like torch
        out[g].m = m;
        vmv[g] = V(m);
    }
    if (tame) line_exp_sum_rest<T, G, true>(a, R, o, out, vmv, tail_x, in_tail);
    else line_exp_sum_rest<T, G, false>(a, R, o, out, vmv, tail_x, in_tail);
}

// The exp-sum pass of line_exp_sum_group once m is known (kTame: see there).
template <class T, int G, bool kTame>
LAMINA_FLATTEN void line_exp_sum_rest(const T* const* a, int64_t R, T* const* o, LineExpSum<T>* out,
                                      const vec::Vectorized<T>* vmv, const vec::Vectorized<T>* tail_x,
                                      typename vec::Vectorized<T>::Mask in_tail) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t full = R - R % W;
    const int rest = static_cast<int>(R - full);
    int64_t r = 0;
    const V zero(T(0)), one(T(1));
    auto exp_shifted = [&](const V& x, const V& mv) {
        const V d = x - mv;
        const V b = d - x;
        V lo = (x - (d - b)) - (mv + b);
        if constexpr (!kTame) lo = select(lo != lo, zero, lo);
        const V e = kTame ? vec::exp_nonpos_tame(d) : vec::exp_nonpos(d);  // d = x - m <= 0 (or NaN)
        return fmadd(e, lo, e);
    };
    KahanSum<V> acc0[G], acc1[G];
    V kv0[G], kv1[G];
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) kv0[g] = kv1[g] = zero;
    // x, e into accumulator pair (acc, kv): maxima counted in kv, the rest summed in acc.
    auto add = [&](const V& x, const V& e, const V& mv, KahanSum<V>& acc, V& kv) {
        const auto at_max = x == mv;
        acc.add(select(at_max, zero, e));
        kv = kv + select(at_max, one, zero);
    };
    auto step = [&](int g, int64_t at, KahanSum<V>& acc, V& kv) {
        const V x = V::loadu(a[g] + at);
        const V e = exp_shifted(x, vmv[g]);
        if (o != nullptr) e.store(o[g] + at);
        add(x, e, vmv[g], acc, kv);
    };
    for (r = 0; r + 2 * W <= full; r += 2 * W) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
            step(g, r, acc0[g], kv0[g]);
            step(g, r + W, acc1[g], kv1[g]);
        }
    }
    if (r < full) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) step(g, r, acc0[g], kv0[g]);
    }
    if (rest > 0) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
            const V tx = select(in_tail, tail_x[g], vmv[g]);
            const V e = exp_shifted(tx, vmv[g]);
            if (o != nullptr) e.store(o[g] + full, rest);
            add(tx, e, vmv[g], acc1[g], kv1[g]);
        }
    }
    const double pad = rest > 0 ? W - rest : 0;  // the padding lanes counted as maxima
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
        acc0[g].add(acc1[g].s);  // true sum = s - c for each
        acc0[g].add(zero - acc1[g].c);
        out[g].k = static_cast<double>(reduce_add(kv0[g] + kv1[g])) - pad;
        out[g].s = acc0[g].total();
    }
}

template <class T>
LineExpSum<T> line_exp_sum(const T* a, int64_t R, T* o) {
    LineExpSum<T> ls;
    line_exp_sum_group<T, 1>(&a, R, o != nullptr ? &o : nullptr, &ls);
    return ls;
}

// G unit-stride lines (a[g] -> o[g]): o = exp(a - m) (softmax: then / sum) or (a - m) - log(sum).
// o[g] may be a[g] (in place): each element is read before it is written.
template <class T, int G>
inline void softmax_lines_unit(const T* const* a, T* const* o, int64_t R, bool log) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t full = R - R % W;
    const int rest = static_cast<int>(R - full);
    LineExpSum<T> ls[G];
    line_exp_sum_group<T, G>(a, R, log ? nullptr : o, ls);
    if (log) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
            const V vmv(ls[g].m);
            // (x - m) - log(s): adding m to log(s) first would round away log(s)'s digits.
            const V lsv(static_cast<T>(ls[g].log_sum()));
            for (int64_t r = 0; r < full; r += W) ((V::loadu(a[g] + r) - vmv) - lsv).store(o[g] + r);
            if (rest > 0) ((V::loadu(a[g] + full, rest) - vmv) - lsv).store(o[g] + full, rest);
        }
        return;
    }
    // e / s as e * (1/s) with 1/s (double) split into two floats: one rounding at the end, no
    // division per vector (that would cost more than exp), and s's own rounding never enters.
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
        const double inv = 1.0 / (ls[g].s + ls[g].k);
        const V inv_hi(static_cast<T>(inv));
        const V inv_lo(static_cast<T>(inv - static_cast<double>(static_cast<T>(inv))));
        auto scale = [&](const V& e) { return fmadd(e, inv_hi, e * inv_lo); };
        for (int64_t r = 0; r < full; r += W) scale(V::loadu(o[g] + r)).store(o[g] + r);
        if (rest > 0) scale(V::loadu(o[g] + full, rest)).store(o[g] + full, rest);
    }
}

template <class T>
inline void softmax_line_unit(const T* a, T* o, int64_t R, bool log) {
    softmax_lines_unit<T, 1>(&a, &o, R, log);
}

}  // namespace lamina
