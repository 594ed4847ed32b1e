// Recurrent layers on the CPU: the input projections of all steps in one GEMM, then per step one
// GEMM h @ W_hh^T and one fused gate kernel (rnn_cells.h); backward runs BPTT step by step and
// leaves the weight, bias and input gradients to single GEMMs/reductions over all T*B rows.
#include "rnn.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "../core/blas.h"
#include "../core/check.h"
#include "../core/gemm_pack.h"
#include "../core/parallel.h"
#include "rnn_gemm.h"
#include "rnn_rows.h"


namespace lamina {

namespace {

enum class Mode { Tanh, Relu, Lstm, Gru };

struct Dims {
    Mode mode;
    const char* name;  // "lstm", ...
    int64_t G, T, B, I, H;
    bool cell;  // rnn_cell: x is [B, I], one step
};

Mode parse_mode(const std::string& m, const char* op) {
    if (m == "rnn_tanh") return Mode::Tanh;
    if (m == "rnn_relu") return Mode::Relu;
    if (m == "lstm") return Mode::Lstm;
    if (m == "gru") return Mode::Gru;
    throw ValueError(detail::cat(op, ": mode must be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru', got '", m, "'"));
}

const char* mode_name(Mode m) {
    switch (m) {
        case Mode::Tanh: return "rnn_tanh";
        case Mode::Relu: return "rnn_relu";
        case Mode::Lstm: return "lstm";
        case Mode::Gru: return "gru";
    }
    return "?";
}

int64_t gates_of(Mode m) { return m == Mode::Lstm ? 4 : m == Mode::Gru ? 3 : 1; }

std::string shape_or_none(const std::optional<Tensor>& t) {
    return t ? detail::cat(t->shape()) : std::string("None");
}

// Checks every argument; messages name the op, the mode, what was expected and all shapes.
Dims check_args(const std::string& mode_s, const Tensor& x, const Tensor& hx, const std::optional<Tensor>& cx,
                const Tensor& w_ih, const Tensor& w_hh, const std::optional<Tensor>& b_ih,
                const std::optional<Tensor>& b_hh, const std::optional<Tensor>& lengths) {
    const bool cell = x.dim() == 2;
    const char* op = cell ? "rnn_cell" : "rnn_sequence";
    const Mode mode = parse_mode(mode_s, op);
    const int64_t G = gates_of(mode);
    const std::string pre = detail::cat(op, " ", mode_name(mode), ": ");
    const std::string all = detail::cat(" (input ", x.shape(), ", hx ", hx.shape(), ", cx ", shape_or_none(cx),
                                        ", w_ih ", w_ih.shape(), ", w_hh ", w_hh.shape(), ", b_ih ",
                                        shape_or_none(b_ih), ", b_hh ", shape_or_none(b_hh), ")");
    LAMINA_CHECK(x.dim() == 3 || x.dim() == 2, pre,
                 "input must be [seq_len, batch, input_size] (or [batch, input_size] for one step), got ",
                 x.shape(), all);
    const int64_t T = cell ? 1 : x.size(0), B = x.size(-2), I = x.size(-1);
    LAMINA_CHECK(hx.dim() == 2 && hx.size(0) == B, pre, "hx must be [batch, hidden] with batch = ", B,
                 ", got ", hx.shape(), all);
    const int64_t H = hx.size(1);
    const std::string g = G == 1 ? "" : detail::cat(G, "*");
    LAMINA_CHECK(w_ih.shape() == Shape({G * H, I}), pre, "w_ih must be [", g, "hidden, input_size] = ",
                 Shape({G * H, I}), ", got ", w_ih.shape(), all);
    LAMINA_CHECK(w_hh.shape() == Shape({G * H, H}), pre, "w_hh must be [", g, "hidden, hidden] = ",
                 Shape({G * H, H}), ", got ", w_hh.shape(), all);
    if (b_ih)
        LAMINA_CHECK(b_ih->shape() == Shape({G * H}), pre, "b_ih must be [", g, "hidden] = ", Shape({G * H}),
                     ", got ", b_ih->shape(), all);
    if (b_hh)
        LAMINA_CHECK(b_hh->shape() == Shape({G * H}), pre, "b_hh must be [", g, "hidden] = ", Shape({G * H}),
                     ", got ", b_hh->shape(), all);
    if (mode == Mode::Lstm) {
        LAMINA_CHECK(cx.has_value(), pre, "cx (the initial cell state) is required, got None", all);
        LAMINA_CHECK(cx->shape() == Shape({B, H}), pre, "cx must be [batch, hidden] = ", Shape({B, H}), ", got ",
                     cx->shape(), all);
    } else {
        LAMINA_CHECK(!cx.has_value(), pre, "cx must be None (only lstm has a cell state), got ", cx->shape(), all);
    }
    const DType dt = x.dtype();
    LAMINA_CHECK_TYPE(is_floating(dt), pre, "expected a floating-point input (float32 or float64), got ",
                      dtype_name(dt), all);
    auto same = [&](const Tensor& t, const char* what) {
        LAMINA_CHECK_TYPE(t.dtype() == dt, pre, what, " dtype ", dtype_name(t.dtype()), " differs from input dtype ",
                          dtype_name(dt), all);
        LAMINA_CHECK_RUNTIME(t.device().is_cpu(), pre, what, " is on ", t.device().str(),
                             "; recurrent layers run on the CPU only");
    };
    same(x, "input");
    same(hx, "hx");
    if (cx) same(*cx, "cx");
    same(w_ih, "w_ih");
    same(w_hh, "w_hh");
    if (b_ih) same(*b_ih, "b_ih");
    if (b_hh) same(*b_hh, "b_hh");
    if (lengths) {
        LAMINA_CHECK(!cell, pre, "lengths is only for sequences");
        LAMINA_CHECK_TYPE(lengths->dtype() == DType::Int64, pre, "lengths must be int64, got ",
                          dtype_name(lengths->dtype()));
        LAMINA_CHECK(lengths->shape() == Shape({B}), pre, "lengths must be [batch] = ", Shape({B}), ", got ",
                     lengths->shape(), all);
        const Tensor lc = lengths->contiguous();
        const int64_t* l = lc.data<int64_t>();
        for (int64_t b = 0; b < B; ++b)
            LAMINA_CHECK(l[b] >= 1 && l[b] <= T, pre, "lengths[", b, "] = ", l[b], " is outside [1, seq_len = ", T,
                         "]", all);
    }
    return Dims{mode, mode_name(mode), G, T, B, I, H, cell};
}

// Lengths as a vector, or empty when every row runs all T steps (then no step is masked).
std::vector<int64_t> lengths_vec(const std::optional<Tensor>& lengths, int64_t T) {
    if (!lengths) return {};
    const Tensor lc = lengths->contiguous();
    std::vector<int64_t> v(lc.data<int64_t>(), lc.data<int64_t>() + lc.numel());
    if (std::all_of(v.begin(), v.end(), [T](int64_t l) { return l == T; })) return {};
    return v;
}

// A [G*H] bias as a plain array: the tensor's data, or zeros when the layer has no bias.
template <class T>
std::vector<T> bias_vec(const std::optional<Tensor>& b, int64_t n) {
    std::vector<T> v(static_cast<size_t>(n), T(0));
    if (b) {
        const Tensor c = b->contiguous();
        std::memcpy(v.data(), c.data<T>(), sizeof(T) * n);
    }
    return v;
}

// out[c, r] = in[r, c]: in [R, C] contiguous -> out [C, R], in 16 x 16 blocks so that neither side
// is walked with a stride of a whole row per element.
template <class T>
void transpose_rows(const T* in, int64_t R, int64_t C, T* out) {
    constexpr int64_t kB = 16;
    for (int64_t r0 = 0; r0 < R; r0 += kB)
        for (int64_t c0 = 0; c0 < C; c0 += kB) {
            const int64_t r1 = std::min(R, r0 + kB), c1 = std::min(C, c0 + kB);
            for (int64_t c = c0; c < c1; ++c)
                for (int64_t r = r0; r < r1; ++r) out[c * R + r] = in[r * C + c];
        }
}

#if defined(__AVX2__)
// float: full 8 x 8 blocks through gemm_pack.h's register transpose (the scalar blocks above cost
// ~0.1 ms a training step at LSTM H = 128 for the three transposes), the ragged edges scalar.
template <>
void transpose_rows<float>(const float* in, int64_t R, int64_t C, float* out) {
    const int64_t R8 = R / 8 * 8, C8 = C / 8 * 8;
    for (int64_t r0 = 0; r0 < R8; r0 += 8)
        for (int64_t c0 = 0; c0 < C8; c0 += 8) gemm_detail::transpose8x8(in + r0 * C + c0, C, 8, out + c0 * R + r0, R, 8);
    for (int64_t r = 0; r < R; ++r)
        for (int64_t c = r < R8 ? C8 : 0; c < C; ++c) out[c * R + r] = in[r * C + c];
}
#endif

// Rows per thread when threads own batch rows for the whole sequence: at least 2^18
// multiply-adds of step GEMMs each (gemm's own threading threshold), else one thread.
int64_t seq_row_grain(const Dims& d) {
    const double macs_per_row = double(std::max<int64_t>(d.T, 1)) * double(d.G * d.H) * double(d.H);
    return std::max<int64_t>(1, static_cast<int64_t>(262144.0 / std::max(macs_per_row, 1.0)) + 1);
}

// One forward step for rows [b0, b1) at time t. gi: [B, G*H] input projections of step t (no bias),
// gh: [b1 - b0, G*H] = h_prev @ W_hh^T of rows b0..,  hp/cp: [B, H] state entering the step, hn/cn: [B, H] state after
// it, out: [B, H] output rows of step t, act: [B, G*H] saved gate activations, aux: [B, H] saved
// tanh(c) (lstm) or W_hn h + b_hn (gru).
template <class T>
void step_forward(const Dims& d, int64_t t, int64_t b0, int64_t b1, const int64_t* len, const T* gi,
                  const T* gh, const T* bias, const T* bhn, const T* hp, const T* cp, T* hn, T* cn, T* out,
                  T* act, T* aux) {
    const int64_t H = d.H, GH = d.G * d.H;
    for (int64_t b = b0; b < b1; ++b) {
        if (len && t >= len[b]) {  // past this row's end: output 0, state carried through
            std::memcpy(hn + b * H, hp + b * H, sizeof(T) * H);
            if (d.mode == Mode::Lstm) std::memcpy(cn + b * H, cp + b * H, sizeof(T) * H);
            std::fill(out + b * H, out + (b + 1) * H, T(0));
            continue;
        }
        switch (d.mode) {
            case Mode::Tanh:
            case Mode::Relu:
                rnn_row_fwd<T>(d.mode == Mode::Relu, H, gi + b * GH, gh + (b - b0) * GH, bias, act + b * GH, hn + b * H,
                               out + b * H);
                break;
            case Mode::Lstm:
                lstm_row_fwd<T>(H, gi + b * GH, gh + (b - b0) * GH, bias, cp + b * H, act + b * GH, cn + b * H, aux + b * H,
                                hn + b * H, out + b * H);
                break;
            case Mode::Gru:
                gru_row_fwd<T>(H, gi + b * GH, gh + (b - b0) * GH, bias, bhn, hp + b * H, act + b * GH, aux + b * H,
                               hn + b * H, out + b * H);
                break;
        }
    }
}

}  // namespace

// Saved workspace: {x contiguous (x's shape), hprev [T,B,H] state entering each step, act [T,B,G*H]
// gate activations (rnn: h itself), aux [T,B,H] (lstm: tanh c, gru: W_hn h + b_hn, else empty),
// cprev [T,B,H] (lstm, else empty)}.
std::vector<Tensor> rnn_sequence_forward(const std::string& mode, const Tensor& x_in, const Tensor& hx,
                                         const std::optional<Tensor>& cx, const Tensor& w_ih,
                                         const Tensor& w_hh, const std::optional<Tensor>& b_ih,
                                         const std::optional<Tensor>& b_hh,
                                         const std::optional<Tensor>& lengths, bool reverse) {
    const Dims d = check_args(mode, x_in, hx, cx, w_ih, w_hh, b_ih, b_hh, lengths);
    const int64_t T = d.T, B = d.B, I = d.I, H = d.H, GH = d.G * d.H;
    const DType dt = x_in.dtype();
    const Tensor x = x_in.contiguous(), wih = w_ih.contiguous(), whh = w_hh.contiguous();
    const Tensor h0 = hx.contiguous();
    const bool lstm = d.mode == Mode::Lstm, gru = d.mode == Mode::Gru;
    const Tensor c0 = lstm ? cx->contiguous() : Tensor();
    const std::vector<int64_t> lv = lengths_vec(lengths, T);
    const int64_t* len = lv.empty() ? nullptr : lv.data();

    Tensor out = Tensor::empty(d.cell ? Shape{1, B, H} : Shape{T, B, H}, dt);
    Tensor hn = Tensor::empty({B, H}, dt);
    Tensor cn = lstm ? Tensor::empty({B, H}, dt) : Tensor();
    Tensor hprev = Tensor::empty({T, B, H}, dt);
    Tensor act = Tensor::empty({T, B, GH}, dt);
    Tensor aux = Tensor::empty(lstm || gru ? Shape{T, B, H} : Shape{0}, dt);
    Tensor cprev = Tensor::empty(lstm ? Shape{T, B, H} : Shape{0}, dt);

    dispatch_float(dt, "rnn_sequence", [&](auto tag) {
        using S = decltype(tag);
        // bias: b_ih + b_hh, except the gru n gate where b_hn sits inside r * (W_hn h + b_hn).
        std::vector<S> bias = bias_vec<S>(b_ih, GH);
        const std::vector<S> bh = bias_vec<S>(b_hh, GH);
        for (int64_t k = 0; k < (gru ? 2 * H : GH); ++k) bias[k] += bh[k];
        const S* bhn = bh.data() + 2 * H;
        const int64_t BH = B * H;
        if (T == 0) {
            std::memcpy(hn.data<S>(), h0.data<S>(), sizeof(S) * BH);
            if (lstm) std::memcpy(cn.data<S>(), c0.data<S>(), sizeof(S) * BH);
            return;
        }
        // Input projections of every step at once: gi [T*B, G*H] = x [T*B, I] @ w_ih^T.
        Tensor gi = Tensor::empty({T * B, GH}, dt);
        gemm(false, true, T * B, GH, I, S(1), x.data<S>(), I, wih.data<S>(), I, S(0), gi.data<S>(), GH);
        S* hpv = hprev.data<S>();
        S* cpv = lstm ? cprev.data<S>() : nullptr;
        const int64_t first = reverse ? T - 1 : 0;
        std::memcpy(hpv + first * BH, h0.data<S>(), sizeof(S) * BH);
        if (lstm) std::memcpy(cpv + first * BH, c0.data<S>(), sizeof(S) * BH);
        // Rows [b0, b1) of every step: the state of row b depends on row b alone.
        auto run_rows = [&](int64_t b0, int64_t b1, S* ghb, auto&& hidden_gemm) {
            for (int64_t s = 0; s < T; ++s) {
                const int64_t t = reverse ? T - 1 - s : s;
                const int64_t tn = reverse ? t - 1 : t + 1;  // the next step's slot receives the new state
                const S* hp = hpv + t * BH;
                S* hnext = s == T - 1 ? hn.data<S>() : hpv + tn * BH;
                const S* cp = lstm ? cpv + t * BH : nullptr;
                S* cnext = !lstm ? nullptr : s == T - 1 ? cn.data<S>() : cpv + tn * BH;
                hidden_gemm(hp, ghb);  // ghb [b1 - b0, G*H] = h_prev rows @ w_hh^T
                step_forward<S>(d, t, b0, b1, len, gi.data<S>() + t * B * GH, ghb, bias.data(), bhn, hp, cp,
                                hnext, cnext, out.data<S>() + t * BH, act.data<S>() + t * B * GH,
                                (lstm || gru) ? aux.data<S>() + t * BH : nullptr);
            }
        };
        if constexpr (std::is_same_v<S, float>) {
            // One parallel region for the whole sequence, batch rows split over the threads, and
            // the step GEMM on w_hh^T [H, G*H] transposed once here into rnn_gemm's panel layout.
            std::vector<float> wt(static_cast<size_t>(H * GH));
            rnn_gemm::for_panels(GH, [&](int64_t j, int64_t w) {  // panel j: rows [j, j + w) of w_hh, transposed
                transpose_rows(whh.data<float>() + j * H, w, H, wt.data() + j * H);
            });
            parallel_for(0, B, seq_row_grain(d), [&](int64_t b0, int64_t b1) {
                std::vector<float> ghb(static_cast<size_t>((b1 - b0) * GH));
                run_rows(b0, b1, ghb.data(), [&](const float* hp, float* g) {
                    rnn_gemm::gemm_small(b1 - b0, GH, H, hp + b0 * H, H, wt.data(), g, GH, false);
                });
            });
        } else {  // double: OpenBLAS (threaded by gemm) for the whole batch's step GEMM
            Tensor gh = Tensor::empty({B, GH}, dt);
            run_rows(0, B, gh.data<S>(), [&](const S* hp, S* g) {
                gemm(false, true, B, GH, H, S(1), hp, H, whh.data<S>(), H, S(0), g, GH);
            });
        }
    });
    return {out, hn, cn, x, hprev, act, aux, cprev};  // cn undefined unless lstm
}

namespace {

// One backward step for rows [b0, b1) at time t. dhc/dcc: [B, H] gradients carried into the state
// after the step (updated in place), dout: [B, H] or null, act/aux/hp/cp: the step's saved values,
// dgi/dgh: [B, G*H] pre-activation gradients (the same buffer except for gru).
template <class T>
void step_backward(const Dims& d, int64_t t, int64_t b0, int64_t b1, const int64_t* len, const T* dout,
                   const T* zeros, const T* act, const T* aux, const T* hp, const T* cp, T* dhc, T* dcc, T* dgi,
                   T* dgh) {
    const int64_t H = d.H, GH = d.G * d.H;
    for (int64_t b = b0; b < b1; ++b) {
        if (len && t >= len[b]) {  // no step here: no gate gradient, carries pass through
            std::fill(dgi + b * GH, dgi + (b + 1) * GH, T(0));
            if (d.mode == Mode::Gru) std::fill(dgh + b * GH, dgh + (b + 1) * GH, T(0));
            continue;
        }
        const T* go = dout ? dout + b * H : zeros;
        switch (d.mode) {
            case Mode::Tanh:
            case Mode::Relu:
                rnn_row_bwd<T>(d.mode == Mode::Relu, H, go, act + b * GH, dhc + b * H, dgi + b * GH);
                break;
            case Mode::Lstm:
                lstm_row_bwd<T>(H, go, act + b * GH, cp + b * H, aux + b * H, dhc + b * H, dcc + b * H, dgi + b * GH);
                break;
            case Mode::Gru:
                gru_row_bwd<T>(H, go, act + b * GH, aux + b * H, hp + b * H, dhc + b * H, dgi + b * GH, dgh + b * GH);
                break;
        }
    }
}

// out[c] = sum over rows r of g[r, c]: g [R, C] contiguous; threads own column ranges.
template <class T>
void column_sum(const T* g, int64_t R, int64_t C, T* out) {
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(R, 1));
    parallel_for(0, C, grain, [&](int64_t cb, int64_t ce) {
        for (int64_t c = cb; c < ce; ++c) out[c] = T(0);
        for (int64_t r = 0; r < R; ++r) {
            const T* row = g + r * C;
            for (int64_t c = cb; c < ce; ++c) out[c] += row[c];
        }
    });
}

// An incoming gradient as a contiguous tensor of `shape` in dtype dt, or undefined when absent.
Tensor grad_in(const std::optional<Tensor>& g, const Shape& shape, DType dt, const char* what, const Dims& d) {
    if (!g) return Tensor();
    LAMINA_CHECK(g->shape() == shape, "rnn_sequence ", d.name, " backward: gradient of ", what, " has shape ",
                 g->shape(), ", expected ", shape);
    return g->to(dt).contiguous();
}

}  // namespace

std::vector<Tensor> rnn_sequence_backward(const std::string& mode, const std::optional<Tensor>& dout_in,
                                          const std::optional<Tensor>& dhn_in,
                                          const std::optional<Tensor>& dcn_in,
                                          const std::vector<Tensor>& saved, const Tensor& w_ih,
                                          const Tensor& w_hh, const std::optional<Tensor>& lengths,
                                          bool reverse, const std::vector<bool>& needs) {
    LAMINA_CHECK(saved.size() == 5 && needs.size() == 7,
                 "rnn_sequence backward: expected the 5 saved tensors of rnn_sequence_forward and 7 needs flags, got ",
                 saved.size(), " and ", needs.size());
    const Tensor &x = saved[0], &hprev = saved[1], &act = saved[2], &aux = saved[3], &cprev = saved[4];
    Dims d;
    d.mode = parse_mode(mode, "rnn_sequence");
    d.name = mode_name(d.mode);
    d.G = gates_of(d.mode);
    d.cell = x.dim() == 2;
    d.T = hprev.size(0);
    d.B = hprev.size(1);
    d.H = hprev.size(2);
    d.I = x.size(-1);
    const int64_t T = d.T, B = d.B, I = d.I, H = d.H, GH = d.G * d.H;
    const DType dt = x.dtype();
    LAMINA_CHECK(w_ih.shape() == Shape({GH, I}) && w_hh.shape() == Shape({GH, H}) && act.shape() == Shape({T, B, GH}),
                 "rnn_sequence ", d.name, " backward: saved tensors do not match w_ih ", w_ih.shape(), " and w_hh ",
                 w_hh.shape());
    const bool lstm = d.mode == Mode::Lstm, gru = d.mode == Mode::Gru;
    const bool nx = needs[0], nhx = needs[1], ncx = needs[2] && lstm, nwih = needs[3], nwhh = needs[4],
               nbih = needs[5], nbhh = needs[6];
    std::vector<Tensor> res(7);
    if (!(nx || nhx || ncx || nwih || nwhh || nbih || nbhh)) return res;
    const Tensor dout = grad_in(dout_in, d.cell ? Shape{1, B, H} : Shape{T, B, H}, dt, "output", d);
    const Tensor dhn = grad_in(dhn_in, {B, H}, dt, "h_n", d);
    const Tensor dcn = lstm ? grad_in(dcn_in, {B, H}, dt, "c_n", d) : Tensor();
    const Tensor wih = w_ih.contiguous(), whh = w_hh.contiguous();
    const std::vector<int64_t> lv = lengths_vec(lengths, T);
    const int64_t* len = lv.empty() ? nullptr : lv.data();

    dispatch_float(dt, "rnn_sequence", [&](auto tag) {
        using S = decltype(tag);
        const int64_t BH = B * H;
        // Carries: dh (and dc) flowing into the state after the current step, starting at h_n / c_n.
        Tensor dhc = Tensor::empty({B, H}, dt), dcc = lstm ? Tensor::empty({B, H}, dt) : Tensor();
        auto init = [&](Tensor& c, const Tensor& g) {
            if (g.defined()) std::memcpy(c.data<S>(), g.data<S>(), sizeof(S) * BH);
            else std::fill(c.data<S>(), c.data<S>() + BH, S(0));
        };
        init(dhc, dhn);
        if (lstm) init(dcc, dcn);
        // Gate gradients of every step, kept for the weight GEMMs: dgi [T*B, G*H]; gru also dgh
        // (hidden side, n part scaled by r).
        Tensor dgi = Tensor::empty({T * B, GH}, dt);
        Tensor dgh = gru ? Tensor::empty({T * B, GH}, dt) : dgi;
        const std::vector<S> zeros(static_cast<size_t>(H), S(0));
        // Rows [b0, b1) of every step, newest first: row b's carries depend on row b alone.
        auto run_rows = [&](int64_t b0, int64_t b1, auto&& hidden_gemm) {
            for (int64_t s = T - 1; s >= 0; --s) {
                const int64_t t = reverse ? T - 1 - s : s;
                const S* go = dout.defined() ? dout.data<S>() + t * BH : nullptr;
                const S* ax = (lstm || gru) ? aux.data<S>() + t * BH : nullptr;
                const S* cp = lstm ? cprev.data<S>() + t * BH : nullptr;
                S* gi = dgi.data<S>() + t * B * GH;
                S* gh = dgh.data<S>() + t * B * GH;
                step_backward<S>(d, t, b0, b1, len, go, zeros.data(), act.data<S>() + t * B * GH, ax,
                                 hprev.data<S>() + t * BH, cp, dhc.data<S>(), lstm ? dcc.data<S>() : nullptr, gi,
                                 gh);
                // dh_prev += dgh_t [B, G*H] @ w_hh [G*H, H] (not needed after the first step unless hx wants it)
                if (s > 0 || nhx) hidden_gemm(gh);
            }
        };
        if constexpr (std::is_same_v<S, float>) {  // one parallel region, w_hh packed once
            std::vector<float> wp(static_cast<size_t>(GH * H));
            rnn_gemm::pack_b(GH, H, whh.data<float>(), H, wp.data());
            parallel_for(0, B, seq_row_grain(d), [&](int64_t b0, int64_t b1) {
                run_rows(b0, b1, [&](const float* gh) {
                    rnn_gemm::gemm_small(b1 - b0, H, GH, gh + b0 * GH, GH, wp.data(), dhc.data<float>() + b0 * H, H,
                                         true);
                });
            });
        } else {  // double: OpenBLAS (threaded by gemm) over the whole batch
            run_rows(0, B, [&](const S* gh) {
                gemm(false, false, B, H, GH, S(1), gh, GH, whh.data<S>(), H, S(1), dhc.data<S>(), H);
            });
        }
        const int64_t R = T * B;
        if (nhx) res[1] = dhc;
        if (ncx) res[2] = dcc;
        if (nx) {  // dx [T*B, I] = dgi @ w_ih
            res[0] = Tensor::empty(x.shape(), dt);
            gemm(false, false, R, I, GH, S(1), dgi.data<S>(), GH, wih.data<S>(), I, S(0), res[0].data<S>(), I);
        }
        if (!gru && nwih && nwhh) {
            // One GEMM for both weight gradients and the bias: [dw_ih^T; dw_hh^T; db] [I+H+1, G*H] =
            // [x | hprev | 1]^T @ dg over all T*B rows (dgi is dgh here). One pass over dg, the
            // wider output, and no column sums (~0.3 ms of 1.7 at LSTM 64-128 T35 b32, AVX-512).
            const int64_t C = I + H + 1;
            Tensor xh = Tensor::empty({R, C}, dt);
            S* xhp = xh.data<S>();
            const S* xp = x.data<S>();
            const S* hp = hprev.data<S>();
            parallel_for(0, R, std::max<int64_t>(1, kGrainElementwise / C), [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                    std::memcpy(xhp + r * C, xp + r * I, sizeof(S) * I);
                    std::memcpy(xhp + r * C + I, hp + r * H, sizeof(S) * H);
                    xhp[r * C + I + H] = S(1);
                }
            });
            Tensor wcat = Tensor::empty({C, GH}, dt);
            gemm(true, false, C, GH, R, S(1), xhp, C, dgi.data<S>(), GH, S(0), wcat.data<S>(), GH);
            const S* wc = wcat.data<S>();
            res[3] = Tensor::empty({GH, I}, dt);
            res[4] = Tensor::empty({GH, H}, dt);
            transpose_rows(wc, I, GH, res[3].data<S>());           // rows [0, I) -> dw_ih [G*H, I]
            transpose_rows(wc + I * GH, H, GH, res[4].data<S>());  // rows [I, I+H) -> dw_hh [G*H, H]
            if (nbih) {
                res[5] = Tensor::empty({GH}, dt);
                std::memcpy(res[5].data<S>(), wc + (I + H) * GH, sizeof(S) * GH);
            }
            if (nbhh) {
                res[6] = Tensor::empty({GH}, dt);
                std::memcpy(res[6].data<S>(), wc + (I + H) * GH, sizeof(S) * GH);
            }
            return;
        }
        if (nwih) {  // dw_ih [G*H, I] = dgi^T @ x
            res[3] = Tensor::empty({GH, I}, dt);
            gemm(true, false, GH, I, R, S(1), dgi.data<S>(), GH, x.data<S>(), I, S(0), res[3].data<S>(), I);
        }
        if (nwhh) {  // dw_hh [G*H, H] = dgh^T @ hprev
            res[4] = Tensor::empty({GH, H}, dt);
            gemm(true, false, GH, H, R, S(1), dgh.data<S>(), GH, hprev.data<S>(), H, S(0), res[4].data<S>(), H);
        }
        if (nbih) {
            res[5] = Tensor::empty({GH}, dt);
            column_sum(dgi.data<S>(), R, GH, res[5].data<S>());
        }
        if (nbhh) {
            res[6] = Tensor::empty({GH}, dt);
            if (!gru && nbih) std::memcpy(res[6].data<S>(), res[5].data<S>(), sizeof(S) * GH);
            else column_sum(dgh.data<S>(), R, GH, res[6].data<S>());
        }
    });
    return res;
}

}  // namespace lamina
