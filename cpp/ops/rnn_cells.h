// Per-element formulas of the recurrent cells (Elman tanh/ReLU, LSTM, GRU) and their derivatives,
// in PyTorch's gate order, as LAMINA_HD inline functions shared by the CPU kernels in rnn.cpp and
// any CUDA port. float uses the vectorisable fast exp/tanh; double keeps libm.
#pragma once
#include "../core/fastmath.h"
#include "../core/hostdev.h"

namespace lamina {

template <class T>
LAMINA_HD T sigmoid_t(T x) {
    return T(1) / (T(1) + exp_t<T>(-x));
}

// Elman cell: h = act(pre). Backward from the saved output h: dpre = dh * act'(pre).
template <class T>
LAMINA_HD T rnn_act_fwd(bool relu, T pre) {
    return relu ? (pre > T(0) ? pre : T(0)) : tanh_t<T>(pre);
}
template <class T>
LAMINA_HD T rnn_act_bwd(bool relu, T dh, T h) {
    return relu ? (h > T(0) ? dh : T(0)) : dh * (T(1) - h * h);
}

// LSTM: pre-activations of the i, f, g, o gates and c_prev -> gate activations, new c, tanh(c), h.
template <class T>
LAMINA_HD void lstm_fwd(T pi, T pf, T pg, T po, T cp, T& i, T& f, T& g, T& o, T& c, T& tc, T& h) {
    i = sigmoid_t(pi);
    f = sigmoid_t(pf);
    g = tanh_t<T>(pg);
    o = sigmoid_t(po);
    c = f * cp + i * g;
    tc = tanh_t<T>(c);
    h = o * tc;
}

// LSTM backward: dh, dc arriving at the cell output -> gradients of the four pre-activations and
// of c_prev (dh_prev goes through the W_hh GEMM on the returned gate gradients).
template <class T>
LAMINA_HD void lstm_bwd(T dh, T dc, T i, T f, T g, T o, T cp, T tc, T& di, T& df, T& dg, T& dout_o,
                        T& dcp) {
    const T dct = dc + dh * o * (T(1) - tc * tc);
    dout_o = dh * tc * o * (T(1) - o);
    di = dct * g * i * (T(1) - i);
    df = dct * cp * f * (T(1) - f);
    dg = dct * i * (T(1) - g * g);
    dcp = dct * f;
}

// GRU: input-side pre-activations (ir, iz, in, biases included), hidden-side ones (hr, hz, hn =
// W_hn h + b_hn) and h_prev -> r, z, n and h' = (1 - z) * n + z * h_prev.
template <class T>
LAMINA_HD void gru_fwd(T ir, T iz, T in, T hr, T hz, T hn, T hp, T& r, T& z, T& n, T& h) {
    r = sigmoid_t(ir + hr);
    z = sigmoid_t(iz + hz);
    n = tanh_t<T>(in + r * hn);
    h = n + z * (hp - n);
}

// GRU backward: gradients of the r and z pre-activations (shared by both sides), of the input-side
// n pre-activation (dni) and the hidden-side one (dnh = dni * r), and the direct part of dh_prev.
template <class T>
LAMINA_HD void gru_bwd(T dh, T r, T z, T n, T hn, T hp, T& dr, T& dz, T& dni, T& dnh, T& dhp) {
    const T dn = dh * (T(1) - z);
    dni = dn * (T(1) - n * n);
    dnh = dni * r;
    dr = dni * hn * r * (T(1) - r);
    dz = dh * (hp - n) * z * (T(1) - z);
    dhp = dh * z;
}

}  // namespace lamina
