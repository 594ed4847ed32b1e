// Fused optimizer steps over many tensors at once, with torch.optim's single-tensor formulas and
// operation order (so float32 results agree with PyTorch to rounding), plus the multi-tensor norm,
// scale and clamp used by gradient clipping. Work is split over the concatenated element range.
#include "optim.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/check.h"
#include "../core/hostdev.h"
#include "../core/parallel.h"
#include "copy.h"

namespace lamina {

namespace {

// ---- multi-tensor plumbing ----

// offsets[i] = first element of tensor i in the concatenated range; offsets.back() = total.
std::vector<int64_t> concat_offsets(const std::vector<Tensor>& ts) {
    std::vector<int64_t> off(ts.size() + 1, 0);
    for (size_t i = 0; i < ts.size(); ++i) off[i + 1] = off[i] + ts[i].numel();
    return off;
}

// Calls f(i, begin, end) with element ranges local to tensor i, covering the concatenated range
// [b, e) in order (empty tensors are skipped).
template <class F>
void for_segments(const std::vector<int64_t>& off, int64_t b, int64_t e, const F& f) {
    size_t i = std::upper_bound(off.begin(), off.end(), b) - off.begin() - 1;
    while (b < e) {
        const int64_t te = std::min(e, off[i + 1]);
        if (te > b) f(i, b - off[i], te - off[i]);
        b = te;
        ++i;
    }
}

// The parallel driver: OpenMP over the concatenated range, so many small tensors share threads as
// well as one big one does; below kGrainElementwise elements per thread it stays serial.
template <class F>
void multi_tensor_apply(const std::vector<int64_t>& off, const F& f) {
    parallel_for_fine(0, off.back(), kGrainElementwise,
                      [&](int64_t b, int64_t e) { for_segments(off, b, e, f); });
}

// Turns runtime flags into compile-time ones so each inner loop is branch-free and vectorises.
template <class F>
void with_bool(bool v, const F& f) {
    if (v) f(std::true_type{});
    else f(std::false_type{});
}

// Empty tensors count as contiguous whatever their strides (numpy gives [0, 3] strides [0, 0]).
bool dense(const Tensor& t) { return t.numel() == 0 || t.is_contiguous(); }

std::string shape_str(const Tensor& t) { return detail::cat(t.shape()); }

// Parameters: defined, CPU, floating, contiguous (they are written in place).
void check_params(const char* op, const std::vector<Tensor>& params) {
    for (size_t i = 0; i < params.size(); ++i) {
        const Tensor& p = params[i];
        LAMINA_CHECK(p.defined(), op, ": params[", i, "] is undefined");
        LAMINA_CHECK_RUNTIME(p.device().is_cpu(), op, ": params[", i,
                             "] is on ", p.device().is_cuda() ? "CUDA" : "another device",
                             "; the fused optimizer step runs on CPU tensors only");
        dispatch_float(p.dtype(), op, [](auto) {});
        LAMINA_CHECK_RUNTIME(dense(p), op, ": params[", i, "] of shape ", shape_str(p),
                             " is not contiguous (strides ", detail::cat(p.strides()),
                             "); parameters updated in place must be contiguous");
    }
}

// A list parallel to params: same length, shapes and dtypes. `written` lists (optimizer state) must
// be contiguous; read-only lists (gradients) are made contiguous here.
std::vector<Tensor> check_list(const char* op, const char* name, const std::vector<Tensor>& ts,
                               const std::vector<Tensor>& params, bool written) {
    LAMINA_CHECK(ts.size() == params.size(), op, ": got ", params.size(), " params but ",
                 ts.size(), " ", name);
    std::vector<Tensor> out;
    out.reserve(ts.size());
    for (size_t i = 0; i < ts.size(); ++i) {
        const Tensor& t = ts[i];
        const Tensor& p = params[i];
        LAMINA_CHECK(t.defined(), op, ": ", name, "[", i, "] is undefined");
        LAMINA_CHECK(t.shape() == p.shape(), op, ": ", name, "[", i, "] has shape ", shape_str(t),
                     " but params[", i, "] has shape ", shape_str(p));
        LAMINA_CHECK_TYPE(t.dtype() == p.dtype(), op, ": ", name, "[", i, "] is ",
                          dtype_name(t.dtype()), " but params[", i, "] is ", dtype_name(p.dtype()));
        LAMINA_CHECK_RUNTIME(t.device().is_cpu(), op, ": ", name, "[", i,
                             "] is not on the CPU; the fused optimizer step runs on CPU tensors only");
        if (written) {
            LAMINA_CHECK_RUNTIME(dense(t), op, ": ", name, "[", i, "] of shape ",
                                 shape_str(t), " is not contiguous (strides ",
                                 detail::cat(t.strides()), ")");
            out.push_back(t);
        } else {
            out.push_back(dense(t) ? t : t.contiguous());
        }
    }
    return out;
}

std::vector<double> expand_steps(const char* op, const std::vector<double>& steps, size_t n) {
    LAMINA_CHECK(steps.size() == n || steps.size() == 1 || n == 0, op, ": got ", steps.size(),
                 " step counts for ", n, " params (expected 1 or ", n, ")");
    if (steps.size() == n) return steps;
    return std::vector<double>(n, n ? steps[0] : 0.0);
}

// torch's lerp: self + w * (end - self) for |w| < 0.5, else end - (end - self) * (1 - w).
template <class T, bool SMALL_W>
LAMINA_HD T lerp(T self, T end, T w, T one_minus_w) {
    if constexpr (SMALL_W) return self + w * (end - self);
    else return end - (end - self) * one_minus_w;
}


// ---------------------------------------------------------------------------------------------
// Element kernels. Each is a plain function over one contiguous run with __restrict pointer
// parameters: restrict on locals captured by lambdas is lost, and GCC then versions the loop on a
// runtime alias check whose scalar fallback ran 6x slower for float32. Flags are template
// parameters so every loop is branch-free.
// ---------------------------------------------------------------------------------------------

struct SgdScalars {
    double neg_lr, wd, mom, damp1;
};

template <class T, bool WD, bool MOM, bool NES, bool FIRST, bool MAX>
void sgd_kernel(T* __restrict p, const T* __restrict g, T* __restrict buf, int64_t n,
                const SgdScalars& s) {
    const T neg_lr = T(s.neg_lr), wd = T(s.wd), mom = T(s.mom), damp1 = T(s.damp1);
    for (int64_t k = 0; k < n; ++k) {
        T d = MAX ? -g[k] : g[k];
        if constexpr (WD) d = d + wd * p[k];
        if constexpr (MOM) {
            T bk;
            if constexpr (FIRST) bk = d;
            else bk = buf[k] * mom + damp1 * d;
            buf[k] = bk;
            if constexpr (NES) d = d + mom * bk;
            else d = bk;
        }
        p[k] = p[k] + neg_lr * d;
    }
}

struct AdamScalars {
    double wd, decay, w1, b2, c2, bc2_sqrt, eps, neg_step;
};

template <class T, bool WD, bool DWD, bool AMS, bool MAX, bool SMALL_W>
void adam_kernel(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                 T* __restrict vmax, int64_t n, const AdamScalars& s) {
    const T wd = T(s.wd), decay = T(s.decay), w1 = T(s.w1), one_minus_w1 = T(1) - w1;
    const T b2 = T(s.b2), c2 = T(s.c2), bc2s = T(s.bc2_sqrt), eps = T(s.eps);
    const T neg_step = T(s.neg_step);
    for (int64_t k = 0; k < n; ++k) {
        T d = MAX ? -g[k] : g[k];
        T pk = p[k];
        if constexpr (DWD) pk = pk * decay;
        if constexpr (WD) d = d + wd * pk;
        const T mk = lerp<T, SMALL_W>(m[k], d, w1, one_minus_w1);
        const T vk = v[k] * b2 + c2 * d * d;
        m[k] = mk;
        v[k] = vk;
        T vv = vk;
        if constexpr (AMS) {
            const T old = vmax[k];
            vv = (old > vk || old != old) ? old : vk;  // torch.maximum propagates NaN
            vmax[k] = vv;
        }
        const T denom = std::sqrt(vv) / bc2s + eps;
        p[k] = pk + neg_step * mk / denom;
    }
}

struct RmspropScalars {
    double wd, alpha, c, w, eps, mom, neg_lr;
};

template <class T, bool WD, bool CEN, bool MOM, bool MAX, bool SMALL_W>
void rmsprop_kernel(T* __restrict p, const T* __restrict g, T* __restrict sq, T* __restrict ga,
                    T* __restrict buf, int64_t n, const RmspropScalars& s) {
    const T wd = T(s.wd), a = T(s.alpha), c = T(s.c), w = T(s.w), one_minus_w = T(1) - w;
    const T eps = T(s.eps), mom = T(s.mom), neg_lr = T(s.neg_lr);
    for (int64_t k = 0; k < n; ++k) {
        T d = MAX ? -g[k] : g[k];
        if constexpr (WD) d = d + wd * p[k];
        const T sk = sq[k] * a + c * d * d;
        sq[k] = sk;
        T avg;
        if constexpr (CEN) {
            const T gk = lerp<T, SMALL_W>(ga[k], d, w, one_minus_w);
            ga[k] = gk;
            avg = std::sqrt(sk + (T(-1) * gk) * gk);
        } else {
            avg = std::sqrt(sk);
        }
        avg = avg + eps;
        if constexpr (MOM) {
            const T bk = buf[k] * mom + d / avg;
            buf[k] = bk;
            p[k] = p[k] + neg_lr * bk;
        } else {
            p[k] = p[k] + neg_lr * d / avg;
        }
    }
}

template <class T, bool WD, bool MAX>
void adagrad_kernel(T* __restrict p, const T* __restrict g, T* __restrict sum, int64_t n,
                    double wd_, double eps_, double neg_clr_) {
    const T wd = T(wd_), eps = T(eps_), neg_clr = T(neg_clr_);
    for (int64_t k = 0; k < n; ++k) {
        T d = MAX ? -g[k] : g[k];
        if constexpr (WD) d = d + wd * p[k];
        const T sk = sum[k] + d * d;
        sum[k] = sk;
        const T std_ = std::sqrt(sk) + eps;
        p[k] = p[k] + neg_clr * d / std_;
    }
}

// data<T>() + b, or nullptr for a list that is not in use.
template <class T>
T* at(const std::vector<Tensor>& ts, size_t i, int64_t b) {
    return ts.empty() ? nullptr : ts[i].data<T>() + b;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SGD
// ---------------------------------------------------------------------------------------------

void sgd_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads_in,
              std::vector<Tensor>& momentum_buffers, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool maximize, bool first_step) {
    const char* op = "sgd_step";
    check_params(op, params);
    for (const Tensor& p : params) p.bump_version();
    const std::vector<Tensor> grads = check_list(op, "grads", grads_in, params, false);
    const bool use_mom = momentum != 0;
    if (use_mom) check_list(op, "momentum_buffers", momentum_buffers, params, true);
    const std::vector<Tensor> none;
    const std::vector<Tensor>& bufs = use_mom ? momentum_buffers : none;
    const SgdScalars s{-lr, weight_decay, momentum, 1 - dampening};
    const auto off = concat_offsets(params);
    multi_tensor_apply(off, [&](size_t i, int64_t b, int64_t e) {
        dispatch_float(params[i].dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            with_bool(weight_decay != 0, [&](auto WD) {
                with_bool(use_mom, [&](auto MOM) {
                    with_bool(nesterov, [&](auto NES) {
                        with_bool(first_step, [&](auto FIRST) {
                            with_bool(maximize, [&](auto MAX) {
                                sgd_kernel<T, WD(), MOM(), NES(), FIRST(), MAX()>(
                                    at<T>(params, i, b), at<T>(grads, i, b), at<T>(bufs, i, b),
                                    e - b, s);
                            });
                        });
                    });
                });
            });
        });
    });
}

// ---------------------------------------------------------------------------------------------
// Adam / AdamW
// ---------------------------------------------------------------------------------------------

void adam_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads_in,
               std::vector<Tensor>& exp_avgs, std::vector<Tensor>& exp_avg_sqs,
               std::vector<Tensor>& max_exp_avg_sqs, const std::vector<double>& steps_in,
               double lr, double beta1, double beta2, double eps, double weight_decay,
               bool amsgrad, bool decoupled_weight_decay, bool maximize) {
    const char* op = decoupled_weight_decay ? "adamw_step" : "adam_step";
    check_params(op, params);
    for (const Tensor& p : params) p.bump_version();
    const std::vector<Tensor> grads = check_list(op, "grads", grads_in, params, false);
    check_list(op, "exp_avgs", exp_avgs, params, true);
    check_list(op, "exp_avg_sqs", exp_avg_sqs, params, true);
    if (amsgrad) check_list(op, "max_exp_avg_sqs", max_exp_avg_sqs, params, true);
    const std::vector<Tensor> none;
    const std::vector<Tensor>& vmaxs = amsgrad ? max_exp_avg_sqs : none;
    const std::vector<double> steps = expand_steps(op, steps_in, params.size());
    for (size_t i = 0; i < steps.size(); ++i)
        LAMINA_CHECK(steps[i] >= 1, op, ": steps[", i, "] = ", steps[i], " (expected >= 1)");
    const bool small_w = std::abs(1 - beta1) < 0.5;

    const auto off = concat_offsets(params);
    multi_tensor_apply(off, [&](size_t i, int64_t b, int64_t e) {
        // Scalars computed in double exactly as torch computes them in Python; the kernel casts
        // them to T where torch hands them to a tensor op.
        const double bc1 = 1 - std::pow(beta1, steps[i]);
        const double bc2 = 1 - std::pow(beta2, steps[i]);
        const AdamScalars s{weight_decay, 1 - lr * weight_decay, 1 - beta1, beta2, 1 - beta2,
                            std::sqrt(bc2), eps, -(lr / bc1)};
        dispatch_float(params[i].dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            with_bool(weight_decay != 0 && !decoupled_weight_decay, [&](auto WD) {
                with_bool(weight_decay != 0 && decoupled_weight_decay, [&](auto DWD) {
                    with_bool(amsgrad, [&](auto AMS) {
                        with_bool(maximize, [&](auto MAX) {
                            with_bool(small_w, [&](auto SW) {
                                adam_kernel<T, WD(), DWD(), AMS(), MAX(), SW()>(
                                    at<T>(params, i, b), at<T>(grads, i, b),
                                    at<T>(exp_avgs, i, b), at<T>(exp_avg_sqs, i, b),
                                    at<T>(vmaxs, i, b), e - b, s);
                            });
                        });
                    });
                });
            });
        });
    });
}

// ---------------------------------------------------------------------------------------------
// RMSprop
// ---------------------------------------------------------------------------------------------

void rmsprop_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads_in,
                  std::vector<Tensor>& square_avgs, std::vector<Tensor>& grad_avgs,
                  std::vector<Tensor>& momentum_buffers, double lr, double alpha, double eps,
                  double weight_decay, double momentum, bool centered, bool maximize) {
    const char* op = "rmsprop_step";
    check_params(op, params);
    for (const Tensor& p : params) p.bump_version();
    const std::vector<Tensor> grads = check_list(op, "grads", grads_in, params, false);
    check_list(op, "square_avgs", square_avgs, params, true);
    if (centered) check_list(op, "grad_avgs", grad_avgs, params, true);
    const bool use_mom = momentum > 0;
    if (use_mom) check_list(op, "momentum_buffers", momentum_buffers, params, true);
    const std::vector<Tensor> none;
    const std::vector<Tensor>& gas = centered ? grad_avgs : none;
    const std::vector<Tensor>& bufs = use_mom ? momentum_buffers : none;
    const RmspropScalars s{weight_decay, alpha, 1 - alpha, 1 - alpha, eps, momentum, -lr};
    const bool small_w = std::abs(1 - alpha) < 0.5;
    const auto off = concat_offsets(params);
    multi_tensor_apply(off, [&](size_t i, int64_t b, int64_t e) {
        dispatch_float(params[i].dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            with_bool(weight_decay != 0, [&](auto WD) {
                with_bool(centered, [&](auto CEN) {
                    with_bool(use_mom, [&](auto MOM) {
                        with_bool(maximize, [&](auto MAX) {
                            with_bool(small_w, [&](auto SW) {
                                rmsprop_kernel<T, WD(), CEN(), MOM(), MAX(), SW()>(
                                    at<T>(params, i, b), at<T>(grads, i, b),
                                    at<T>(square_avgs, i, b), at<T>(gas, i, b),
                                    at<T>(bufs, i, b), e - b, s);
                            });
                        });
                    });
                });
            });
        });
    });
}

// ---------------------------------------------------------------------------------------------
// Adagrad
// ---------------------------------------------------------------------------------------------

void adagrad_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads_in,
                  std::vector<Tensor>& state_sums, const std::vector<double>& steps_in, double lr,
                  double lr_decay, double weight_decay, double eps, bool maximize) {
    const char* op = "adagrad_step";
    check_params(op, params);
    for (const Tensor& p : params) p.bump_version();
    const std::vector<Tensor> grads = check_list(op, "grads", grads_in, params, false);
    check_list(op, "state_sums", state_sums, params, true);
    const std::vector<double> steps = expand_steps(op, steps_in, params.size());
    const auto off = concat_offsets(params);
    multi_tensor_apply(off, [&](size_t i, int64_t b, int64_t e) {
        const double clr = lr / (1 + (steps[i] - 1) * lr_decay);
        dispatch_float(params[i].dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            with_bool(weight_decay != 0, [&](auto WD) {
                with_bool(maximize, [&](auto MAX) {
                    adagrad_kernel<T, WD(), MAX()>(at<T>(params, i, b), at<T>(grads, i, b),
                                                   at<T>(state_sums, i, b), e - b, weight_decay,
                                                   eps, -clr);
                });
            });
        });
    });
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping helpers
// ---------------------------------------------------------------------------------------------

double multi_tensor_norm(const std::vector<Tensor>& tensors_in, double norm_type) {
    const char* op = "clip_grad_norm_";
    const bool inf_norm = std::isinf(norm_type) && norm_type > 0;
    LAMINA_CHECK(inf_norm || norm_type > 0, op, ": norm_type must be positive or inf, got ",
                 norm_type);
    std::vector<Tensor> ts;
    ts.reserve(tensors_in.size());
    for (size_t i = 0; i < tensors_in.size(); ++i) {
        const Tensor& t = tensors_in[i];
        LAMINA_CHECK_RUNTIME(t.device().is_cpu(), op, ": tensor ", i, " is not on the CPU");
        dispatch_float(t.dtype(), op, [](auto) {});
        ts.push_back(dense(t) ? t : t.contiguous());
    }
    const auto off = concat_offsets(ts);
    const int64_t total = off.back();
    if (total == 0) return 0.0;
    // Fixed blocks (not per-thread chunks) so the sum does not depend on the thread count.
    const int64_t B = kGrainElementwise;
    const int64_t nblocks = (total + B - 1) / B;
    std::vector<double> part(nblocks, 0.0);
    const bool two = norm_type == 2.0, one = norm_type == 1.0;
    parallel_for_fine(0, nblocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t blk = b0; blk < b1; ++blk) {
            double acc = 0.0;
            for_segments(off, blk * B, std::min(total, (blk + 1) * B), [&](size_t i, int64_t b, int64_t e) {
                dispatch_float(ts[i].dtype(), op, [&](auto tag) {
                    using T = decltype(tag);
                    const T* __restrict x = ts[i].data<T>();
                    if (inf_norm) {
                        for (int64_t k = b; k < e; ++k) {
                            const double a = std::abs(static_cast<double>(x[k]));
                            if (!(a <= acc)) acc = a;  // NaN propagates
                        }
                    } else if (two) {
                        double s = 0.0;
                        for (int64_t k = b; k < e; ++k) s += static_cast<double>(x[k]) * x[k];
                        acc += s;
                    } else if (one) {
                        double s = 0.0;
                        for (int64_t k = b; k < e; ++k) s += std::abs(static_cast<double>(x[k]));
                        acc += s;
                    } else {
                        double s = 0.0;
                        for (int64_t k = b; k < e; ++k)
                            s += std::pow(std::abs(static_cast<double>(x[k])), norm_type);
                        acc += s;
                    }
                });
            });
            part[blk] = acc;
        }
    });
    double r = 0.0;
    if (inf_norm) {
        for (double a : part)
            if (!(a <= r)) r = a;
        return r;
    }
    for (double a : part) r += a;
    return two ? std::sqrt(r) : one ? r : std::pow(r, 1.0 / norm_type);
}

namespace {

// Applies f(T* x, n) to each tensor in place; non-contiguous tensors go through a contiguous copy.
template <class F>
void apply_inplace(const char* op, std::vector<Tensor>& tensors, const F& f) {
    for (const Tensor& t : tensors) t.bump_version();
    std::vector<Tensor> work;
    std::vector<size_t> copied;
    work.reserve(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        LAMINA_CHECK_RUNTIME(t.device().is_cpu(), op, ": tensor ", i, " is not on the CPU");
        dispatch_float(t.dtype(), op, [](auto) {});
        if (dense(t)) {
            work.push_back(t);
        } else {
            work.push_back(t.contiguous());
            copied.push_back(i);
        }
    }
    const auto off = concat_offsets(work);
    multi_tensor_apply(off, [&](size_t i, int64_t b, int64_t e) {
        dispatch_float(work[i].dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            f(work[i].data<T>() + b, e - b);
        });
    });
    for (size_t i : copied) copy_(tensors[i], work[i]);
}

}  // namespace

void multi_tensor_scale_(std::vector<Tensor>& tensors, double factor) {
    apply_inplace("clip_grad_norm_", tensors, [&](auto* x_, int64_t n) {
        using T = std::decay_t<decltype(*x_)>;
        T* __restrict x = x_;
        const T s = T(factor);
        for (int64_t k = 0; k < n; ++k) x[k] = x[k] * s;
    });
}

void multi_tensor_clamp_(std::vector<Tensor>& tensors, double lo, double hi) {
    apply_inplace("clip_grad_value_", tensors, [&](auto* x_, int64_t n) {
        using T = std::decay_t<decltype(*x_)>;
        T* __restrict x = x_;
        const T l = T(lo), h = T(hi);
        for (int64_t k = 0; k < n; ++k) {
            // clamp_min then clamp_max, as torch does; NaN stays NaN
            T v = x[k];
            v = (v < l) ? l : v;
            v = (v > h) ? h : v;
            x[k] = v;
        }
    });
}

}  // namespace lamina
