// Class losses: cross-entropy (class indices or probabilities) and NLL. Cross-entropy fuses
// log-softmax and NLL: the forward keeps only the per-position log-sum-exp, and the backward
// rebuilds softmax from it, so no [N, C] intermediate is stored. Pointwise losses (MSE, L1, Huber,
// BCE, KL, ...) are in loss_pointwise.cpp.
#include "loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../core/parallel.h"
#include "../core/vec_math.h"
#include "lse_small.h"
#include "softmax_line.h"
#include "softmax.h"

namespace lamina {

namespace {

// logits [N, C, d...] (or [C]) seen as [outer, C, inner].
struct ClassLayout {
    int64_t outer = 1, C = 1, inner = 1;
};

ClassLayout class_layout(const char* op, const Tensor& x) {
    LAMINA_CHECK(x.dim() >= 1, op, ": expected input of shape [N, C, d1, ...] or [C], got a 0-d tensor");
    LAMINA_CHECK_RUNTIME(x.device().is_cpu(), op, ": only CPU tensors are supported, got ", x.device());
    ClassLayout L;
    if (x.dim() == 1) {
        L.C = x.shape()[0];
        return L;
    }
    L.outer = x.shape()[0];
    L.C = x.shape()[1];
    for (int64_t d = 2; d < x.dim(); ++d) L.inner *= x.shape()[d];
    return L;
}

Shape target_shape_for(const Tensor& x) {
    if (x.dim() == 1) return {};
    Shape s{x.shape()[0]};
    for (int64_t d = 2; d < x.dim(); ++d) s.push_back(x.shape()[d]);
    return s;
}

// Class-index targets: shape [N, d...], int64, each in [0, C) or == ignore_index.
void check_class_target(const char* op, const Tensor& x, const Tensor& target, const ClassLayout& L,
                        int64_t ignore_index) {
    const Shape want = target_shape_for(x);
    LAMINA_CHECK(target.shape() == want, op, ": expected target of shape ",
                 x.dim() == 2 ? "[N]=" : (x.dim() == 1 ? "[]=" : "[N, d1, ...]="), want,
                 " with class indices in [0, ", L.C, "), got shape ", target.shape(), " (input shape ",
                 x.shape(), ")");
    LAMINA_CHECK_TYPE(target.dtype() == DType::Int64, op,
                      ": expected class-index target of dtype int64 (or a floating target of the input's shape ",
                      x.shape(), " with probabilities), got ", dtype_name(target.dtype()), " of shape ",
                      target.shape());
    const int64_t* t = target.data<int64_t>();
    for (int64_t j = 0; j < target.numel(); ++j) {
        LAMINA_CHECK_INDEX(t[j] == ignore_index || (t[j] >= 0 && t[j] < L.C), op, ": target ", t[j],
                           " is out of bounds: class indices must be in [0, ", L.C,
                           ") (ignore_index=", ignore_index, ")");
    }
}

void check_weight(const char* op, const std::optional<Tensor>& w, const ClassLayout& L, DType dt) {
    if (!w) return;
    LAMINA_CHECK(w->dim() == 1 && w->shape()[0] == L.C, op, ": expected weight of shape [C]=[", L.C,
                 "], got ", w->shape());
    LAMINA_CHECK_TYPE(w->dtype() == dt, op, ": weight dtype ", dtype_name(w->dtype()),
                      " does not match input dtype ", dtype_name(dt));
}

template <class F>
void for_positions(const ClassLayout& L, const F& f) {
    const int64_t n = L.outer * L.inner;
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, 4 * L.C));
    parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
        // inner == 1 (classes last, [N, C]): no 64-bit division per position (two of them were
        // ~15 ns of a 10-class row's ~50).
        if (L.inner == 1) {
            for (int64_t j = b; j < e; ++j) f(j, j * L.C);
            return;
        }
        for (int64_t j = b; j < e; ++j) f(j, (j / L.inner) * L.C * L.inner + j % L.inner);
    });
}

// lp[j] = log-sum-exp of row j of a [n, C] unit-stride block, kLseGroup rows at a time through
// softmax_line.h's interleaved kernel (a row of 10 is a chain of dependent steps; one row at a
// time left the core waiting). Bitwise the same as line_lse row by row.
#if defined(__AVX512F__)
constexpr int kLseGroup = 8;
#else
constexpr int kLseGroup = 4;
#endif
// Rows of at most kLseSmallMaxC classes go through lse_small.h's transposed kernel instead (rows in
// the lanes): 256 x 10 at AVX2 took ~34 ns a row here.
template <class T>
void lse_rows_unit(const T* xp, int64_t n, int64_t C, double* lp) {
    const int64_t grain = std::max<int64_t>(kLseGroup, kGrainElementwise / std::max<int64_t>(1, 4 * C));
    if (C <= kLseSmallMaxC) {
        parallel_for(0, n, grain, [&](int64_t b, int64_t e) { lse_small_rows(xp, b, e, C, lp); });
        return;
    }
    parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
        int64_t j = b;
        for (; j + kLseGroup <= e; j += kLseGroup) {
            const T* a[kLseGroup];
            LineExpSum<T> ls[kLseGroup];
            for (int g = 0; g < kLseGroup; ++g) a[g] = xp + (j + g) * C;
            line_exp_sum_group<T, kLseGroup>(a, C, nullptr, ls);
            for (int g = 0; g < kLseGroup; ++g) lp[j + g] = ls[g].log_sum() + static_cast<double>(ls[g].m);
        }
        for (; j < e; ++j) {
            const LineExpSum<T> ls = line_exp_sum(xp + j * C, C, static_cast<T*>(nullptr));
            lp[j] = ls.log_sum() + static_cast<double>(ls.m);
        }
    });
}

// log-sum-exp of one line, kept in double (it is stored per position as float64) so that
// x - lse keeps its digits even for large logits.
// Unit-stride lines go through softmax_line.h's vectorised kernel (the scalar loop cost ~14 cycles
// per logit: a 256 x 1000 cross-entropy took 0.9 ms).
template <class T>
double line_lse(const T* a, int64_t C, int64_t st) {
    if (st == 1) {
        const LineExpSum<T> ls = line_exp_sum(a, C, static_cast<T*>(nullptr));
        return ls.log_sum() + static_cast<double>(ls.m);
    }
    T m = -std::numeric_limits<T>::infinity();
    double s = 0;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, a[c * st]);
    if (!std::isfinite(m)) m = m > 0 ? m : T(0);
    for (int64_t c = 0; c < C; ++c) s += static_cast<double>(exp_t<T>(a[c * st] - m));
    return std::log(s) + static_cast<double>(m);
}

Tensor scalar_f64(double v) {
    Tensor t = Tensor::empty({}, DType::Float64);
    *t.data<double>() = v;
    return t;
}

// Final loss: per-position values for none, else their (double-accumulated) sum / divisor.
template <class T>
Tensor reduce_positions(const std::vector<double>& per, const Shape& shape, DType dt, int reduction,
                        double divisor) {
    if (reduction == 0) {
        Tensor out = Tensor::empty(shape, dt);
        T* o = out.data<T>();
        for (size_t j = 0; j < per.size(); ++j) o[j] = static_cast<T>(per[j]);
        return out;
    }
    double s = 0;
    for (double v : per) s += v;
    Tensor out = Tensor::empty({}, dt);
    *out.data<T>() = static_cast<T>(reduction == 1 ? s / divisor : s);
    return out;
}

// Gradient per position from dout: a scalar scaled for mean, or dout[j] for none.
template <class T>
struct DoutAt {
    const T* p;
    int reduction;
    double scale;
    T operator()(int64_t j) const {
        return reduction == 0 ? p[j] : static_cast<T>(static_cast<double>(p[0]) * scale);
    }
};

}  // namespace

// ---- cross-entropy with class indices ------------------------------------------------------

std::tuple<Tensor, Tensor, double> cross_entropy_forward(const Tensor& logits_in, const Tensor& target_in,
                                                         const std::optional<Tensor>& weight_in,
                                                         int64_t ignore_index, double ls, int reduction) {
    const char* op = "cross_entropy";
    const ClassLayout L = class_layout(op, logits_in);
    const Tensor target = target_in.contiguous();
    check_class_target(op, logits_in, target, L, ignore_index);
    check_weight(op, weight_in, L, logits_in.dtype());
    LAMINA_CHECK(ls >= 0.0 && ls <= 1.0, op, ": label_smoothing must be in [0, 1], got ", ls);
    const Tensor x = logits_in.contiguous();
    const std::optional<Tensor> weight = weight_in ? std::optional<Tensor>(weight_in->contiguous()) : std::nullopt;
    const int64_t n = L.outer * L.inner;
    Tensor lse = Tensor::empty(target_shape_for(x), DType::Float64);
    std::vector<double> per(static_cast<size_t>(n)), wsum(static_cast<size_t>(n));
    Tensor loss;
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        const T* wp = weight ? weight->data<T>() : nullptr;
        const int64_t* tp = target.data<int64_t>();
        double* lp = lse.data<double>();
        const int64_t C = L.C, st = L.inner;
        const bool rows = st == 1 && C > 0;  // [N, C]: the log-sum-exps first, several rows at a time
        if (rows) lse_rows_unit(xp, n, C, lp);
        for_positions(L, [&](int64_t j, int64_t base) {
            const T* a = xp + base;
            const double l = rows ? lp[j] : C > 0 ? line_lse(a, C, st) : 0.0;
            lp[j] = l;
            const int64_t t = tp[j];
            if (t == ignore_index) {
                per[j] = 0;
                wsum[j] = 0;
                return;
            }
            const double wt = wp ? static_cast<double>(wp[t]) : 1.0;
            double v = -(1.0 - ls) * wt * (static_cast<double>(a[t * st]) - l);
            if (ls > 0) {
                double sm = 0;
                for (int64_t c = 0; c < C; ++c)
                    sm -= (wp ? static_cast<double>(wp[c]) : 1.0) * (static_cast<double>(a[c * st]) - l);
                v += ls / static_cast<double>(C) * sm;
            }
            per[j] = v;
            wsum[j] = wt;
        });
        double denom = 0;
        for (double w : wsum) denom += w;
        loss = reduce_positions<T>(per, target.shape(), x.dtype(), reduction, denom);
        per.assign(1, denom);
    });
    return {loss, lse, per[0]};
}

Tensor cross_entropy_backward(const Tensor& dout_in, const Tensor& logits_in, const Tensor& target_in,
                              const std::optional<Tensor>& weight_in, const Tensor& lse_in, double denom,
                              int64_t ignore_index, double ls, int reduction) {
    const char* op = "cross_entropy_backward";
    const ClassLayout L = class_layout(op, logits_in);
    const Tensor x = logits_in.contiguous(), target = target_in.contiguous(), lse = lse_in.contiguous(),
                 dout = dout_in.contiguous();
    const std::optional<Tensor> weight = weight_in ? std::optional<Tensor>(weight_in->contiguous()) : std::nullopt;
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    if (dx.numel() == 0) return dx;
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        const T* wp = weight ? weight->data<T>() : nullptr;
        const int64_t* tp = target.data<int64_t>();
        const double* lp = lse.data<double>();
        T* dp = dx.data<T>();
        const int64_t C = L.C, st = L.inner;
        double wall = static_cast<double>(C);
        if (wp) {
            wall = 0;
            for (int64_t c = 0; c < C; ++c) wall += static_cast<double>(wp[c]);
        }
        const DoutAt<T> g{dout.data<T>(), reduction, reduction == 1 ? 1.0 / denom : 1.0};
        const T k_nll = static_cast<T>(1.0 - ls), k_sm = static_cast<T>(ls / static_cast<double>(C));
        const T twall = static_cast<T>(wall);
        for_positions(L, [&](int64_t j, int64_t base) {
            const T* a = xp + base;
            T* d = dp + base;
            const int64_t t = tp[j];
            if (t == ignore_index) {
                for (int64_t c = 0; c < C; ++c) d[c * st] = T(0);
                return;
            }
            const T gj = g(j);
            const double l = lp[j];
            const T wt = wp ? wp[t] : T(1);
            // d = g * (a_p * p - b_c) with p = softmax: a_p = (1-ls) w_t + ls/C * sum(w),
            // b_c = ls/C * w_c, and (1-ls) w_t subtracted at the target class.
            const T ap = gj * (k_nll * wt + k_sm * twall);
            const T lt = static_cast<T>(l);
            const T lr = static_cast<T>(l - static_cast<double>(lt));  // lse = lt + lr, exactly
            if (st == 1) {
                using V = vec::Vectorized<T>;
                constexpr int W = V::size();
                const V vap(ap), vlt(lt), vlr(lr);
                int64_t c = 0;
                for (; c + W <= C; c += W) (vap * vec::exp((V::loadu(a + c) - vlt) - vlr)).store(d + c);
                if (c < C) {
                    const int rest = static_cast<int>(C - c);
                    (vap * vec::exp((V::loadu(a + c, rest) - vlt) - vlr)).store(d + c, rest);
                }
            } else {
                for (int64_t c = 0; c < C; ++c) d[c * st] = ap * exp_t<T>((a[c * st] - lt) - lr);
            }
            if (ls > 0) {
                const T bs = gj * k_sm;
                for (int64_t c = 0; c < C; ++c) d[c * st] -= bs * (wp ? wp[c] : T(1));
            }
            d[t * st] -= gj * k_nll * wt;
        });
    });
    return dx;
}

// ---- cross-entropy with probability targets ------------------------------------------------

std::vector<Tensor> cross_entropy_prob_forward(const Tensor& logits_in, const Tensor& target_in,
                                               const std::optional<Tensor>& weight_in, double ls,
                                               int reduction) {
    const char* op = "cross_entropy";
    const ClassLayout L = class_layout(op, logits_in);
    LAMINA_CHECK(target_in.shape() == logits_in.shape(), op,
                 ": probability targets must have the input's shape ", logits_in.shape(), ", got ",
                 target_in.shape());
    LAMINA_CHECK_TYPE(target_in.dtype() == logits_in.dtype(), op, ": probability target dtype ",
                      dtype_name(target_in.dtype()), " does not match input dtype ", dtype_name(logits_in.dtype()));
    check_weight(op, weight_in, L, logits_in.dtype());
    const Tensor x = logits_in.contiguous(), target = target_in.contiguous();
    const std::optional<Tensor> weight = weight_in ? std::optional<Tensor>(weight_in->contiguous()) : std::nullopt;
    const int64_t n = L.outer * L.inner;
    Tensor lse = Tensor::empty(target_shape_for(x), DType::Float64);
    std::vector<double> per(static_cast<size_t>(n));
    Tensor loss;
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        const T* yp = target.data<T>();
        const T* wp = weight ? weight->data<T>() : nullptr;
        double* lp = lse.data<double>();
        const int64_t C = L.C, st = L.inner;
        const double sm = ls / static_cast<double>(C);
        for_positions(L, [&](int64_t j, int64_t base) {
            const double l = C > 0 ? line_lse(xp + base, C, st) : 0.0;
            lp[j] = l;
            double v = 0;
            for (int64_t c = 0; c < C; ++c) {
                const double y = static_cast<double>(yp[base + c * st]) * (1.0 - ls) + sm;
                v -= (wp ? static_cast<double>(wp[c]) : 1.0) * y * (static_cast<double>(xp[base + c * st]) - l);
            }
            per[j] = v;
        });
        loss = reduce_positions<T>(per, target_shape_for(x), x.dtype(), reduction, static_cast<double>(n));
    });
    return {loss, lse};
}

std::vector<Tensor> cross_entropy_prob_backward(const Tensor& dout_in, const Tensor& logits_in,
                                                const Tensor& target_in, const std::optional<Tensor>& weight_in,
                                                const Tensor& lse_in, double ls, int reduction,
                                                bool need_logits, bool need_target) {
    const char* op = "cross_entropy_backward";
    const ClassLayout L = class_layout(op, logits_in);
    const Tensor x = logits_in.contiguous(), target = target_in.contiguous(), lse = lse_in.contiguous(),
                 dout = dout_in.contiguous();
    const std::optional<Tensor> weight = weight_in ? std::optional<Tensor>(weight_in->contiguous()) : std::nullopt;
    Tensor dx, dy;
    if (need_logits) dx = Tensor::empty(x.shape(), x.dtype());
    if (need_target) dy = Tensor::empty(x.shape(), x.dtype());
    if (x.numel() == 0) return {dx, dy};
    const int64_t n = L.outer * L.inner;
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        const T* yp = target.data<T>();
        const T* wp = weight ? weight->data<T>() : nullptr;
        const double* lp = lse.data<double>();
        T* dxp = need_logits ? dx.data<T>() : nullptr;
        T* dyp = need_target ? dy.data<T>() : nullptr;
        const int64_t C = L.C, st = L.inner;
        const T k = static_cast<T>(1.0 - ls), sm = static_cast<T>(ls / static_cast<double>(C));
        const DoutAt<T> g{dout.data<T>(), reduction, reduction == 1 ? 1.0 / static_cast<double>(n) : 1.0};
        for_positions(L, [&](int64_t j, int64_t base) {
            const T gj = g(j);
            const double l = lp[j];
            if (dxp) {
                double wy = 0;
                for (int64_t c = 0; c < C; ++c)
                    wy += static_cast<double>((wp ? wp[c] : T(1)) * (yp[base + c * st] * k + sm));
                const T twy = static_cast<T>(wy);
                for (int64_t c = 0; c < C; ++c) {
                    const int64_t q = base + c * st;
                    dxp[q] = gj * (exp_t<T>(static_cast<T>(static_cast<double>(xp[q]) - l)) * twy - (wp ? wp[c] : T(1)) * (yp[q] * k + sm));
                }
            }
            if (dyp) {
                for (int64_t c = 0; c < C; ++c) {
                    const int64_t q = base + c * st;
                    dyp[q] = -gj * k * (wp ? wp[c] : T(1)) * static_cast<T>(static_cast<double>(xp[q]) - l);
                }
            }
        });
    });
    return {dx, dy};
}

// ---- nll_loss -------------------------------------------------------------------------------

std::vector<Tensor> nll_forward(const Tensor& x_in, const Tensor& target_in, const std::optional<Tensor>& weight_in,
                                int64_t ignore_index, int reduction) {
    const char* op = "nll_loss";
    const ClassLayout L = class_layout(op, x_in);
    const Tensor target = target_in.contiguous();
    check_class_target(op, x_in, target, L, ignore_index);
    check_weight(op, weight_in, L, x_in.dtype());
    const Tensor x = x_in.contiguous();
    const std::optional<Tensor> weight = weight_in ? std::optional<Tensor>(weight_in->contiguous()) : std::nullopt;
    const int64_t n = L.outer * L.inner;
    std::vector<double> per(static_cast<size_t>(n)), wsum(static_cast<size_t>(n));
    Tensor loss;
    double denom = 0;
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        const T* wp = weight ? weight->data<T>() : nullptr;
        const int64_t* tp = target.data<int64_t>();
        for_positions(L, [&](int64_t j, int64_t base) {
            const int64_t t = tp[j];
            if (t == ignore_index) {
                per[j] = wsum[j] = 0;
                return;
            }
            const double wt = wp ? static_cast<double>(wp[t]) : 1.0;
            per[j] = -wt * static_cast<double>(xp[base + t * L.inner]);
            wsum[j] = wt;
        });
        for (double w : wsum) denom += w;
        loss = reduce_positions<T>(per, target.shape(), x.dtype(), reduction, denom);
    });
    return {loss, scalar_f64(denom)};
}

Tensor nll_backward(const Tensor& dout_in, const Tensor& x, const Tensor& target_in,
                    const std::optional<Tensor>& weight_in, double denom, int64_t ignore_index, int reduction) {
    const ClassLayout L = class_layout("nll_loss_backward", x);
    const Tensor target = target_in.contiguous(), dout = dout_in.contiguous();
    const std::optional<Tensor> weight = weight_in ? std::optional<Tensor>(weight_in->contiguous()) : std::nullopt;
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    if (dx.numel() == 0) return dx;
    dispatch_float(x.dtype(), "nll_loss_backward", [&](auto tag) {
        using T = decltype(tag);
        const T* wp = weight ? weight->data<T>() : nullptr;
        const int64_t* tp = target.data<int64_t>();
        T* dp = dx.data<T>();
        std::fill(dp, dp + dx.numel(), T(0));
        const DoutAt<T> g{dout.data<T>(), reduction, reduction == 1 ? 1.0 / denom : 1.0};
        for_positions(L, [&](int64_t j, int64_t base) {
            const int64_t t = tp[j];
            if (t == ignore_index) return;
            dp[base + t * L.inner] = -g(j) * (wp ? wp[t] : T(1));
        });
    });
    return dx;
}

}  // namespace lamina
