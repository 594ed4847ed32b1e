// Row kernels of the recurrent layers: one batch row of one step, forward and backward, for the
// Elman (tanh/ReLU), LSTM and GRU cells (the per-element formulas are in rnn_cells.h). Included by
// rnn.cpp only: everything here has internal linkage (anonymous namespace).
#pragma once
#include <cstdint>

#include "../core/vec.h"
#include "../core/vec_math.h"
#include "rnn_cells.h"

#if defined(__GNUC__)
#define RNN_NOINLINE __attribute__((noinline))
#else
#define RNN_NOINLINE
#endif

namespace lamina {
namespace {

// Row kernels: one batch row of one step, every pointer its own array (restrict), so the loop over
// the hidden units vectorises (GCC gives up on the alias checks otherwise). Kept out of line on
// purpose: restrict on parameters survives only as long as the function does.
// gi, gh: [G*H] input-/hidden-side projections; bias: [G*H] b_ih + b_hh (gru: b_in alone for n);
// bhn: [H] b_hn; a: [G*H] saved gate activations; hn, o: [H] new state and output row.
template <class T>
RNN_NOINLINE void rnn_row_fwd(bool relu, int64_t H, const T* __restrict gi, const T* __restrict gh,
                              const T* __restrict bias, T* __restrict a, T* __restrict hn, T* __restrict o) {
    if (relu) {
        for (int64_t j = 0; j < H; ++j) {
            const T h = rnn_act_fwd<T>(true, gi[j] + gh[j] + bias[j]);
            a[j] = h;
            hn[j] = h;
            o[j] = h;
        }
    } else {
        for (int64_t j = 0; j < H; ++j) {
            const T h = rnn_act_fwd<T>(false, gi[j] + gh[j] + bias[j]);
            a[j] = h;
            hn[j] = h;
            o[j] = h;
        }
    }
}

// cp: [H] c entering the step; cn: [H] new c; tc: [H] saved tanh(c).
template <class T>
RNN_NOINLINE void lstm_row_fwd(int64_t H, const T* __restrict gi, const T* __restrict gh, const T* __restrict bias,
                               const T* __restrict cp, T* __restrict a, T* __restrict cn, T* __restrict tc,
                               T* __restrict hn, T* __restrict o) {
    for (int64_t j = 0; j < H; ++j) {
        T h;
        lstm_fwd<T>(gi[j] + gh[j] + bias[j], gi[H + j] + gh[H + j] + bias[H + j],
                    gi[2 * H + j] + gh[2 * H + j] + bias[2 * H + j], gi[3 * H + j] + gh[3 * H + j] + bias[3 * H + j],
                    cp[j], a[j], a[H + j], a[2 * H + j], a[3 * H + j], cn[j], tc[j], h);
        hn[j] = h;
        o[j] = h;
    }
}

// hp: [H] h entering the step; ghn: [H] saved W_hn h + b_hn.
template <class T>
RNN_NOINLINE void gru_row_fwd(int64_t H, const T* __restrict gi, const T* __restrict gh, const T* __restrict bias,
                              const T* __restrict bhn, const T* __restrict hp, T* __restrict a, T* __restrict ghn,
                              T* __restrict hn, T* __restrict o) {
    for (int64_t j = 0; j < H; ++j) {
        const T hnp = gh[2 * H + j] + bhn[j];
        T h;
        gru_fwd<T>(gi[j] + bias[j], gi[H + j] + bias[H + j], gi[2 * H + j] + bias[2 * H + j], gh[j], gh[H + j], hnp,
                   hp[j], a[j], a[H + j], a[2 * H + j], h);
        ghn[j] = hnp;
        hn[j] = h;
        o[j] = h;
    }
}

// float rows through lamina::vec (vec_math.h's sigmoid/tanh): the scalar fast_expf loops above
// vectorise well only at AVX-512 (at AVX2 the LSTM gate pass came out ~9x slower than this).
using VF = vec::Vectorized<float>;

// f(j, n) over [0, H) a vector at a time, the last n < VF::size() lanes masked.
template <class F>
inline void for_vec(int64_t H, const F& f) {
    constexpr int W = VF::size();
    int64_t j = 0;
    for (; j + W <= H; j += W) f(j, W);
    if (j < H) f(j, static_cast<int>(H - j));
}
inline VF ld(const float* p, int n) { return n == VF::size() ? VF::loadu(p) : VF::loadu(p, n); }
inline void st(float* p, const VF& v, int n) {
    if (n == VF::size()) v.store(p);
    else v.store(p, n);
}

template <>
RNN_NOINLINE void rnn_row_fwd<float>(bool relu, int64_t H, const float* __restrict gi, const float* __restrict gh,
                                     const float* __restrict bias, float* __restrict a, float* __restrict hn,
                                     float* __restrict o) {
    for_vec(H, [&](int64_t j, int n) {
        const VF pre = ld(gi + j, n) + ld(gh + j, n) + ld(bias + j, n);
        const VF h = relu ? max(pre, VF(0.0f)) : vec::tanh(pre);
        st(a + j, h, n);
        st(hn + j, h, n);
        st(o + j, h, n);
    });
}

template <>
RNN_NOINLINE void lstm_row_fwd<float>(int64_t H, const float* __restrict gi, const float* __restrict gh,
                                      const float* __restrict bias, const float* __restrict cp, float* __restrict a,
                                      float* __restrict cn, float* __restrict tc, float* __restrict hn,
                                      float* __restrict o) {
    for_vec(H, [&](int64_t j, int n) {
        auto pre = [&](int64_t g) { return ld(gi + g * H + j, n) + ld(gh + g * H + j, n) + ld(bias + g * H + j, n); };
        const VF i = vec::sigmoid(pre(0)), f = vec::sigmoid(pre(1)), g = vec::tanh(pre(2)),
                 og = vec::sigmoid(pre(3));
        const VF c = fmadd(f, ld(cp + j, n), i * g);
        const VF t = vec::tanh(c);
        const VF h = og * t;
        st(a + j, i, n);
        st(a + H + j, f, n);
        st(a + 2 * H + j, g, n);
        st(a + 3 * H + j, og, n);
        st(cn + j, c, n);
        st(tc + j, t, n);
        st(hn + j, h, n);
        st(o + j, h, n);
    });
}

template <>
RNN_NOINLINE void gru_row_fwd<float>(int64_t H, const float* __restrict gi, const float* __restrict gh,
                                     const float* __restrict bias, const float* __restrict bhn,
                                     const float* __restrict hp, float* __restrict a, float* __restrict ghn,
                                     float* __restrict hn, float* __restrict o) {
    for_vec(H, [&](int64_t j, int n) {
        const VF hnp = ld(gh + 2 * H + j, n) + ld(bhn + j, n);
        const VF r = vec::sigmoid(ld(gi + j, n) + ld(bias + j, n) + ld(gh + j, n));
        const VF z = vec::sigmoid(ld(gi + H + j, n) + ld(bias + H + j, n) + ld(gh + H + j, n));
        const VF nn = vec::tanh(fmadd(r, hnp, ld(gi + 2 * H + j, n) + ld(bias + 2 * H + j, n)));
        const VF h = fmadd(z, ld(hp + j, n) - nn, nn);
        st(a + j, r, n);
        st(a + H + j, z, n);
        st(a + 2 * H + j, nn, n);
        st(ghn + j, hnp, n);
        st(hn + j, h, n);
        st(o + j, h, n);
    });
}

// Backward row kernels (see the forward ones). go: [H] output gradient of the step (zeros when
// absent); dh: [H] carried dh, consumed (set to the part of dh_prev not from the W_hh GEMM);
// dg / dgi, dgh: [G*H] pre-activation gradients (gru: input side and hidden side).
template <class T>
RNN_NOINLINE void rnn_row_bwd(bool relu, int64_t H, const T* __restrict go, const T* __restrict a,
                              T* __restrict dh, T* __restrict dg) {
    if (relu) {
        for (int64_t j = 0; j < H; ++j) {
            dg[j] = rnn_act_bwd<T>(true, dh[j] + go[j], a[j]);
            dh[j] = T(0);
        }
    } else {
        for (int64_t j = 0; j < H; ++j) {
            dg[j] = rnn_act_bwd<T>(false, dh[j] + go[j], a[j]);
            dh[j] = T(0);
        }
    }
}

// dc: [H] carried dc, replaced by dc_prev; cp, tc: [H] saved c_prev and tanh(c).
template <class T>
RNN_NOINLINE void lstm_row_bwd(int64_t H, const T* __restrict go, const T* __restrict a, const T* __restrict cp,
                               const T* __restrict tc, T* __restrict dh, T* __restrict dc, T* __restrict dg) {
    for (int64_t j = 0; j < H; ++j) {
        lstm_bwd<T>(dh[j] + go[j], dc[j], a[j], a[H + j], a[2 * H + j], a[3 * H + j], cp[j], tc[j], dg[j], dg[H + j],
                    dg[2 * H + j], dg[3 * H + j], dc[j]);
        dh[j] = T(0);
    }
}

// ghn, hp: [H] saved W_hn h + b_hn and h_prev.
template <class T>
RNN_NOINLINE void gru_row_bwd(int64_t H, const T* __restrict go, const T* __restrict a, const T* __restrict ghn,
                              const T* __restrict hp, T* __restrict dh, T* __restrict dgi, T* __restrict dgh) {
    for (int64_t j = 0; j < H; ++j) {
        T dr, dz, dni, dnh, dhp;
        gru_bwd<T>(dh[j] + go[j], a[j], a[H + j], a[2 * H + j], ghn[j], hp[j], dr, dz, dni, dnh, dhp);
        dgi[j] = dr;
        dgi[H + j] = dz;
        dgi[2 * H + j] = dni;
        dgh[j] = dr;
        dgh[H + j] = dz;
        dgh[2 * H + j] = dnh;
        dh[j] = dhp;
    }
}

}  // namespace
}  // namespace lamina
