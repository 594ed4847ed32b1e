// The indexed max-pool kernel for one (H, W) plane (max_pool1d/2d forward with indices) and the
// plan it reads. Included by pool.cpp only; kept apart because the interior loop below is written
// for the vectoriser and its rules (scan order, NaN, ties) need their own explanation.
#pragma once
#include <cstdint>
#include <limits>

#include "../core/tensor.h"

namespace lamina {
namespace pool_detail {

struct PoolPlan {
    int64_t P = 0, H = 1, W = 1, OH = 1, OW = 1;  // planes, input and output plane size
    int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
    Shape out_shape;
};

template <class T>
inline bool takes_max(T v, T m) {
    return v > m || v != v;  // NaN propagates, ties keep the first max (PyTorch's rule)
}

// Output columns [ow0, ow1) of one output row whose windows lie wholly inside the row (no padded
// taps): o / ix hold -inf / the first tap's index on entry. Taps are visited in PyTorch's scan
// order (kh, then kw) for every column, but the loop over columns is innermost: a unit-stride or
// constant-stride (S = 1, 2) read that GCC turns into vector compares and blends, where the
// per-window scalar scan (9 dependent selects for 3x3) ran at PyTorch's speed. S = 0: the stride
// is a run-time value (sw), which GCC leaves scalar but the loop order still helps.
template <class T, int S>
void max_row_interior(const T* x, T* o, int64_t* ix, int64_t W, int64_t ih0, int64_t kh0, int64_t kh1,
                      int64_t dh, int64_t kw, int64_t dw, int64_t pw, int64_t sw, int64_t ow0, int64_t ow1) {
    const int64_t s = S ? S : sw;
    for (int64_t kh = kh0; kh < kh1; ++kh) {
        const int64_t ih = ih0 + kh * dh;
        for (int64_t k = 0; k < kw; ++k) {
            const int64_t off = k * dw - pw;                 // input column of output 0's tap k
            const T* r = x + ih * W + off;                   // r[ow * s] is output ow's tap
            const int64_t base = ih * W + off;               // its flat index in the plane
            for (int64_t ow = ow0; ow < ow1; ++ow) {
                const T v = r[ow * s];
                const bool take = takes_max(v, o[ow]);
                o[ow] = take ? v : o[ow];
                ix[ow] = take ? base + ow * s : ix[ow];
            }
        }
    }
}

// out / idx [OH, OW] = max and its flat position over each window of plane x [H, W].
// taps: [kh0, kh1) per output row, then [kw0, kw1) per output column (pool_taps).
template <class T>
void max_pool_plane(const T* x, T* out, int64_t* idx, const PoolPlan& g, const int64_t* taps) {
    const int64_t W = g.W;
    const bool fast = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 &&
                      g.dh == 1 && g.dw == 1 && 2 * g.OH <= g.H && 2 * g.OW <= g.W;
    if (fast) {
        for (int64_t oh = 0; oh < g.OH; ++oh) {
            const T* r0 = x + 2 * oh * W;
            const T* r1 = r0 + W;
            T* o = out + oh * g.OW;
            int64_t* ix = idx + oh * g.OW;
            const int64_t base = 2 * oh * W;
            for (int64_t ow = 0; ow < g.OW; ++ow) {
                const int64_t c = 2 * ow;
                T m = r0[c];
                int64_t mi = base + c;
                if (takes_max(r0[c + 1], m)) m = r0[c + 1], mi = base + c + 1;
                if (takes_max(r1[c], m)) m = r1[c], mi = base + W + c;
                if (takes_max(r1[c + 1], m)) m = r1[c + 1], mi = base + W + c + 1;
                o[ow] = m;
                ix[ow] = mi;
            }
        }
        return;
    }
    // Interior columns: every tap of the window inside [0, W), i.e. ow*sw - pw >= 0 and
    // ow*sw - pw + (kw-1)*dw <= W - 1. The rest (padding at the edges) take the scalar scan.
    const int64_t span = (g.kw - 1) * g.dw;
    const int64_t owa = std::min<int64_t>(g.OW, (g.pw + g.sw - 1) / g.sw);
    const int64_t owb = W - 1 - span + g.pw >= 0 ? std::min<int64_t>(g.OW, (W - 1 - span + g.pw) / g.sw + 1) : 0;
    const int64_t* th = taps;
    const int64_t* tw = taps + 2 * g.OH;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t kh0 = th[2 * oh], kh1 = th[2 * oh + 1];
        const int64_t ih0 = oh * g.sh - g.ph;
        T* o = out + oh * g.OW;
        int64_t* ix = idx + oh * g.OW;
        auto scalar_col = [&](int64_t ow) {
            const int64_t kw0 = tw[2 * ow], kw1 = tw[2 * ow + 1];
            const int64_t iw0 = ow * g.sw - g.pw;
            T m = -std::numeric_limits<T>::infinity();
            int64_t mi = (ih0 + kh0 * g.dh) * W + iw0 + kw0 * g.dw;
            for (int64_t kh = kh0; kh < kh1; ++kh) {
                const int64_t ih = ih0 + kh * g.dh;
                const T* row = x + ih * W + iw0;
                for (int64_t kw = kw0; kw < kw1; ++kw) {
                    // Branch-free select: random data makes the comparison unpredictable.
                    const T v = row[kw * g.dw];
                    const bool take = takes_max(v, m);
                    m = take ? v : m;
                    mi = take ? ih * W + iw0 + kw * g.dw : mi;
                }
            }
            o[ow] = m;
            ix[ow] = mi;
        };
        const int64_t a = owa, b = std::max(owa, owb);
        for (int64_t ow = 0; ow < a; ++ow) scalar_col(ow);
        for (int64_t ow = b; ow < g.OW; ++ow) scalar_col(ow);
        if (a >= b) continue;
        const int64_t first = (ih0 + kh0 * g.dh) * W - g.pw;  // + ow*sw: tap (kh0, 0) of column ow
        for (int64_t ow = a; ow < b; ++ow) {
            o[ow] = -std::numeric_limits<T>::infinity();
            ix[ow] = first + ow * g.sw;
        }
        if (g.sw == 1)
            max_row_interior<T, 1>(x, o, ix, W, ih0, kh0, kh1, g.dh, g.kw, g.dw, g.pw, 1, a, b);
        else if (g.sw == 2)
            max_row_interior<T, 2>(x, o, ix, W, ih0, kh0, kh1, g.dh, g.kw, g.dw, g.pw, 2, a, b);
        else
            max_row_interior<T, 0>(x, o, ix, W, ih0, kh0, kh1, g.dh, g.kw, g.dw, g.pw, g.sw, a, b);
    }
}

}  // namespace pool_detail
}  // namespace lamina
