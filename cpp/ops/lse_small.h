// Log-sum-exp of many short unit-stride rows ([n, C], C <= kLseSmallMaxC: cross-entropy over 10
// classes), V::size() rows at a time with the rows in the lanes and the classes as columns.
// A row of 10 through softmax_line.h's row kernel is one masked vector (AVX-512) or 1.25 (AVX2)
// and most of its time went to horizontal max/sums and the tail masks (~34 ns a row at AVX2);
// here every step is vertical, and one exp covers W rows.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

#include "../core/vec_math.h"
#include "softmax_line.h"

namespace lamina {

constexpr int64_t kLseSmallMaxC = 16;

// lp[i] = log(sum_c exp(x[i, c])) for the rows < `rows` (<= W) of x (rows of C, unit stride).
// Each lane's arithmetic is the same whatever block it sits in (missing rows are padded with
// zeros), so results do not depend on how rows are split between threads. Per row, the same
// scheme as line_exp_sum: m = max, TwoSum-corrected exp(x - m), maxima counted in k, the rest
// in a Kahan sum s, then LineExpSum::log_sum in double.
// GCC 12 warns that col may be read uninitialised: it cannot see that the two fill loops below
// cover every lane of columns 0..C-1 (rows < W, then rows..W-1), and callers pass C >= 1. A false
// positive; silenced for this function only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <class T>
void lse_small_block(const T* x, int rows, int64_t C, double* lp) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    alignas(64) T col[kLseSmallMaxC][W];  // col[c][i] = x[i, c]: a transpose through the stack
    for (int i = 0; i < rows; ++i)
        for (int64_t c = 0; c < C; ++c) col[c][i] = x[i * C + c];
    for (int i = rows; i < W; ++i)
        for (int64_t c = 0; c < C; ++c) col[c][i] = T(0);
    // m: the row maximum; a NaN anywhere reaches the sum through its own exp below.
    V m = V::loadu(col[0]);
    for (int64_t c = 1; c < C; ++c) m = max(m, V::loadu(col[c]));
    const V zero(T(0)), one(T(1));
    // A non-finite maximum shifts by 0 (+inf stays: inf - inf = NaN, as torch), as line_exp_sum.
    m = select((m - m) == zero, m, select(m > zero, m, zero));
    // Two Kahan sums (even and odd columns): one would chain ~3 dependent adds per column, and
    // that chain, not the exps, bounded the block.
    KahanSum<V> acc0, acc1;
    V kv = zero;
    auto step = [&](int64_t c, KahanSum<V>& acc) {
        const V xv = V::loadu(col[c]);
        const V d = xv - m;
        const V b = d - xv;
        const V lo0 = (xv - (d - b)) - (m + b);
        const V lo = select(lo0 != lo0, zero, lo0);
        const V e0 = vec::exp_nonpos(d);
        const V e = fmadd(e0, lo, e0);
        const auto at_max = xv == m;
        acc.add(select(at_max, zero, e));
        kv = kv + select(at_max, one, zero);
    };
    int64_t c = 0;
    for (; c + 2 <= C; c += 2) {
        step(c, acc0);
        step(c + 1, acc1);
    }
    if (c < C) step(c, acc0);
    acc0.add(acc1.s);  // true sum = s - c for each
    acc0.add(zero - acc1.c);
    alignas(64) T ms[W], ks[W], ss[W], cs[W];
    m.store(ms);
    kv.store(ks);
    acc0.s.store(ss);
    acc0.c.store(cs);
    for (int i = 0; i < rows; ++i) {
        LineExpSum<T> ls;
        ls.m = ms[i];
        ls.k = static_cast<double>(ks[i]);
        ls.s = static_cast<double>(ss[i]) - static_cast<double>(cs[i]);
        lp[i] = ls.log_sum() + static_cast<double>(ms[i]);
    }
}

// lp[j] for rows [b, e) of a [n, C] block, C in [1, kLseSmallMaxC].
template <class T>
void lse_small_rows(const T* x, int64_t b, int64_t e, int64_t C, double* lp) {
    constexpr int W = vec::Vectorized<T>::size();
    for (int64_t j = b; j < e; j += W) {
        const int rows = static_cast<int>(std::min<int64_t>(W, e - j));
        lse_small_block(x + j * C, rows, C, lp + j);
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace lamina
