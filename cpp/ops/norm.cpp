// Batch and layer normalisation on the CPU. Statistics are accumulated in double with two passes
// (mean, then centred squares) so float32 inputs with a large mean stay accurate; per-channel /
// per-row work is split across threads so every output element has one writer.
#include "norm.h"

#include <cmath>
#include <vector>

#include "../core/parallel.h"
#include "copy.h"

namespace lamina {

namespace {

// A per-channel / per-feature parameter as a contiguous tensor of dtype dt (or undefined).
Tensor param(const std::optional<Tensor>& p, const Shape& shape, DType dt, const char* op, const char* name) {
    if (!p) return Tensor();
    LAMINA_CHECK(p->shape() == shape, op, ": ", name, " must have shape ", shape, ", got ", p->shape());
    LAMINA_CHECK_TYPE(is_floating(p->dtype()), op, ": ", name, " must be floating point, got ",
                      dtype_name(p->dtype()));
    LAMINA_CHECK_RUNTIME(p->device().is_cpu(), op, ": only implemented for CPU tensors");
    return p->to(dt).contiguous();
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}

struct NCS {
    int64_t N, C, S;
};

NCS bn_dims(const Tensor& x) {
    LAMINA_CHECK(x.dim() >= 2, "batch_norm: expected an input of shape (N, C) or (N, C, *), got shape ", x.shape());
    int64_t S = 1;
    for (int64_t d = 2; d < x.dim(); ++d) S *= x.shape()[d];
    return {x.shape()[0], x.shape()[1], S};
}

// running = (1 - momentum) * running + momentum * value, in place and in running's own dtype.
void update_running(Tensor& running, const std::vector<double>& value, double momentum) {
    Tensor r = running.to(DType::Float64).contiguous();
    if (r.storage() == running.storage()) r = r.clone();
    double* p = r.data<double>();
    for (size_t c = 0; c < value.size(); ++c) p[c] = (1.0 - momentum) * p[c] + momentum * value[c];
    copy_(running, r);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
std::tuple<Tensor, Tensor, Tensor> batch_norm_forward(const Tensor& x_in, const std::optional<Tensor>& running_mean,
                                                      const std::optional<Tensor>& running_var,
                                                      const std::optional<Tensor>& weight_in,
                                                      const std::optional<Tensor>& bias_in, bool training,
                                                      double momentum, double eps) {
    const NCS dims = bn_dims(x_in);
    const int64_t N = dims.N, C = dims.C, S = dims.S, M = N * S;
    LAMINA_CHECK_TYPE(is_floating(x_in.dtype()), "batch_norm: expected a floating-point input, got ",
                      dtype_name(x_in.dtype()));
    LAMINA_CHECK_RUNTIME(x_in.device().is_cpu(), "batch_norm: only implemented for CPU tensors");
    const DType dt = x_in.dtype();
    const Tensor w = param(weight_in, {C}, dt, "batch_norm", "weight");
    const Tensor b = param(bias_in, {C}, dt, "batch_norm", "bias");
    const Tensor rm = param(running_mean, {C}, DType::Float64, "batch_norm", "running_mean");
    const Tensor rv = param(running_var, {C}, DType::Float64, "batch_norm", "running_var");
    LAMINA_CHECK(running_mean.has_value() == running_var.has_value(),
                 "batch_norm: running_mean and running_var must both be given or both be None");
    if (training) {
        LAMINA_CHECK(M > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape ",
                     x_in.shape());
    } else {
        LAMINA_CHECK(running_mean.has_value(), "batch_norm: running_mean and running_var are needed in evaluation mode "
                     "(training=False)");
    }
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty(x.shape(), dt), mean = Tensor::empty({C}, dt), invstd = Tensor::empty({C}, dt);
    std::vector<double> mean_d(static_cast<size_t>(C)), var_d(static_cast<size_t>(C));
    dispatch_float(dt, "batch_norm", [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        if (training) {
            const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(M, 1));
            parallel_for(0, C, grain, [&](int64_t cb, int64_t ce) {
                for (int64_t c = cb; c < ce; ++c) {
                    double s = 0;
                    for (int64_t n = 0; n < N; ++n) {
                        const T* row = xp + (n * C + c) * S;
                        for (int64_t i = 0; i < S; ++i) s += row[i];
                    }
                    const double mu = s / static_cast<double>(M);
                    double q = 0;
                    for (int64_t n = 0; n < N; ++n) {
                        const T* row = xp + (n * C + c) * S;
                        for (int64_t i = 0; i < S; ++i) q += (row[i] - mu) * (row[i] - mu);
                    }
                    mean_d[c] = mu;
                    var_d[c] = q / static_cast<double>(M);
                }
            });
        } else {
            for (int64_t c = 0; c < C; ++c) {
                mean_d[c] = rm.data<double>()[c];
                var_d[c] = rv.data<double>()[c];
            }
        }
        T* mp = mean.data<T>();
        T* ip = invstd.data<T>();
        for (int64_t c = 0; c < C; ++c) {
            mp[c] = static_cast<T>(mean_d[c]);
            ip[c] = static_cast<T>(1.0 / std::sqrt(var_d[c] + eps));
        }
        const T* wp = ptr_or_null<T>(w);
        const T* bp = ptr_or_null<T>(b);
        T* op = out.data<T>();
        const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(S, 1));
        parallel_for(0, N * C, grain, [&](int64_t rb, int64_t re) {
            for (int64_t r = rb; r < re; ++r) {
                const int64_t c = r % C;
                const double a = (1.0 / std::sqrt(var_d[c] + eps)) * (wp ? static_cast<double>(wp[c]) : 1.0);
                const T scale = static_cast<T>(a);
                const T shift = static_cast<T>((bp ? static_cast<double>(bp[c]) : 0.0) - mean_d[c] * a);
                const T* xr = xp + r * S;
                T* orow = op + r * S;
                for (int64_t i = 0; i < S; ++i) orow[i] = xr[i] * scale + shift;
            }
        });
    });
    if (training && running_mean) {
        std::vector<double> unbiased(var_d);
        for (auto& v : unbiased) v *= static_cast<double>(M) / static_cast<double>(M - 1);
        Tensor rmt = *running_mean, rvt = *running_var;
        update_running(rmt, mean_d, momentum);
        update_running(rvt, unbiased, momentum);
    }
    return {out, mean, invstd};
}

std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& dout_in, const Tensor& x_in,
                                                       const std::optional<Tensor>& weight_in, const Tensor& save_mean,
                                                       const Tensor& save_invstd, bool training, bool need_x,
                                                       bool need_w, bool need_b) {
    const NCS dims = bn_dims(x_in);
    const int64_t N = dims.N, C = dims.C, S = dims.S, M = N * S;
    const DType dt = x_in.dtype();
    LAMINA_CHECK(dout_in.shape() == x_in.shape(), "batch_norm backward: gradient of shape ", dout_in.shape(),
                 " does not match input of shape ", x_in.shape());
    const Tensor x = x_in.contiguous(), dy = dout_in.to(dt).contiguous();
    const Tensor w = param(weight_in, {C}, dt, "batch_norm", "weight");
    const Tensor mean = save_mean.to(dt).contiguous(), invstd = save_invstd.to(dt).contiguous();
    Tensor dx, dw, db;
    if (need_x) dx = Tensor::empty(x.shape(), dt);
    if (need_w) dw = Tensor::empty({C}, dt);
    if (need_b) db = Tensor::empty({C}, dt);
    std::vector<double> sdy(static_cast<size_t>(C), 0.0), sdyx(static_cast<size_t>(C), 0.0);
    dispatch_float(dt, "batch_norm backward", [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        const T* gp = dy.data<T>();
        const T* mp = mean.data<T>();
        const T* ip = invstd.data<T>();
        const T* wp = ptr_or_null<T>(w);
        const bool sums = need_w || need_b || (need_x && training);
        if (sums) {
            const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(M, 1));
            parallel_for(0, C, grain, [&](int64_t cb, int64_t ce) {
                for (int64_t c = cb; c < ce; ++c) {
                    double s = 0, sx = 0;
                    const double mu = mp[c];
                    for (int64_t n = 0; n < N; ++n) {
                        const T* xr = xp + (n * C + c) * S;
                        const T* gr = gp + (n * C + c) * S;
                        for (int64_t i = 0; i < S; ++i) {
                            s += gr[i];
                            sx += gr[i] * (xr[i] - mu);
                        }
                    }
                    sdy[c] = s;
                    sdyx[c] = sx * ip[c];
                }
            });
        }
        for (int64_t c = 0; c < C; ++c) {
            if (need_w) dw.data<T>()[c] = static_cast<T>(sdyx[c]);
            if (need_b) db.data<T>()[c] = static_cast<T>(sdy[c]);
        }
        if (!need_x) return;
        T* dp = dx.data<T>();
        const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(S, 1));
        parallel_for(0, N * C, grain, [&](int64_t rb, int64_t re) {
            for (int64_t r = rb; r < re; ++r) {
                const int64_t c = r % C;
                const double is = ip[c], k = is * (wp ? static_cast<double>(wp[c]) : 1.0);
                const T* xr = xp + r * S;
                const T* gr = gp + r * S;
                T* dr = dp + r * S;
                if (training) {
                    // dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
                    const double mdy = sdy[c] / static_cast<double>(M), mdyx = sdyx[c] / static_cast<double>(M);
                    const double mu = mp[c];
                    for (int64_t i = 0; i < S; ++i)
                        dr[i] = static_cast<T>(k * (gr[i] - mdy - (xr[i] - mu) * is * mdyx));
                } else {
                    for (int64_t i = 0; i < S; ++i) dr[i] = static_cast<T>(k * gr[i]);
                }
            }
        });
    });
    return {dx, dw, db};
}

// ---------------------------------------------------------------------------------------------
namespace {

struct RowsCols {
    int64_t R, H;
};

RowsCols ln_dims(const Tensor& x, const Shape& ns) {
    const int64_t nd = static_cast<int64_t>(ns.size());
    LAMINA_CHECK(nd >= 1, "layer_norm: normalized_shape must have at least one dimension");
    bool ok = x.dim() >= nd;
    for (int64_t k = 0; ok && k < nd; ++k) ok = x.shape()[x.dim() - nd + k] == ns[k];
    LAMINA_CHECK(ok, "layer_norm: input of shape ", x.shape(), " does not end with normalized_shape ", ns);
    int64_t R = 1, H = 1;
    for (int64_t d = 0; d < x.dim() - nd; ++d) R *= x.shape()[d];
    for (int64_t v : ns) H *= v;
    return {R, H};
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> layer_norm_forward(const Tensor& x_in, const Shape& normalized_shape,
                                                      const std::optional<Tensor>& weight_in,
                                                      const std::optional<Tensor>& bias_in, double eps) {
    LAMINA_CHECK_TYPE(is_floating(x_in.dtype()), "layer_norm: expected a floating-point input, got ",
                      dtype_name(x_in.dtype()));
    LAMINA_CHECK_RUNTIME(x_in.device().is_cpu(), "layer_norm: only implemented for CPU tensors");
    const RowsCols d = ln_dims(x_in, normalized_shape);
    const int64_t R = d.R, H = d.H;
    const DType dt = x_in.dtype();
    const Tensor w = param(weight_in, normalized_shape, dt, "layer_norm", "weight");
    const Tensor b = param(bias_in, normalized_shape, dt, "layer_norm", "bias");
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty(x.shape(), dt), mean = Tensor::empty({R}, dt), rstd = Tensor::empty({R}, dt);
    dispatch_float(dt, "layer_norm", [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        const T* wp = ptr_or_null<T>(w);
        const T* bp = ptr_or_null<T>(b);
        T* op = out.data<T>();
        T* mp = mean.data<T>();
        T* rp = rstd.data<T>();
        const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(H, 1));
        parallel_for(0, R, grain, [&](int64_t rb, int64_t re) {
            for (int64_t r = rb; r < re; ++r) {
                const T* xr = xp + r * H;
                double s = 0, q = 0;
                for (int64_t i = 0; i < H; ++i) s += xr[i];
                const double mu = H ? s / static_cast<double>(H) : 0.0;
                for (int64_t i = 0; i < H; ++i) q += (xr[i] - mu) * (xr[i] - mu);
                const double is = 1.0 / std::sqrt((H ? q / static_cast<double>(H) : 0.0) + eps);
                mp[r] = static_cast<T>(mu);
                rp[r] = static_cast<T>(is);
                T* orow = op + r * H;
                for (int64_t i = 0; i < H; ++i) {
                    double v = (xr[i] - mu) * is;
                    if (wp) v *= wp[i];
                    if (bp) v += bp[i];
                    orow[i] = static_cast<T>(v);
                }
            }
        });
    });
    return {out, mean, rstd};
}

std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& dout_in, const Tensor& x_in,
                                                       const Shape& normalized_shape,
                                                       const std::optional<Tensor>& weight_in, const Tensor& mean_in,
                                                       const Tensor& rstd_in, bool need_x, bool need_w, bool need_b) {
    const RowsCols d = ln_dims(x_in, normalized_shape);
    const int64_t R = d.R, H = d.H;
    const DType dt = x_in.dtype();
    LAMINA_CHECK(dout_in.shape() == x_in.shape(), "layer_norm backward: gradient of shape ", dout_in.shape(),
                 " does not match input of shape ", x_in.shape());
    const Tensor x = x_in.contiguous(), dy = dout_in.to(dt).contiguous();
    const Tensor w = param(weight_in, normalized_shape, dt, "layer_norm", "weight");
    const Tensor mean = mean_in.to(dt).contiguous(), rstd = rstd_in.to(dt).contiguous();
    Tensor dx, dw, db;
    if (need_x) dx = Tensor::empty(x.shape(), dt);
    if (need_w) dw = Tensor::empty(normalized_shape, dt);
    if (need_b) db = Tensor::empty(normalized_shape, dt);
    dispatch_float(dt, "layer_norm backward", [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        const T* gp = dy.data<T>();
        const T* wp = ptr_or_null<T>(w);
        const T* mp = mean.data<T>();
        const T* rp = rstd.data<T>();
        if (need_x) {
            T* dp = dx.data<T>();
            const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(H, 1));
            parallel_for(0, R, grain, [&](int64_t rb, int64_t re) {
                for (int64_t r = rb; r < re; ++r) {
                    const T* xr = xp + r * H;
                    const T* gr = gp + r * H;
                    const double mu = mp[r], is = rp[r];
                    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w
                    double sg = 0, sgx = 0;
                    for (int64_t i = 0; i < H; ++i) {
                        const double g = wp ? gr[i] * static_cast<double>(wp[i]) : static_cast<double>(gr[i]);
                        sg += g;
                        sgx += g * (xr[i] - mu) * is;
                    }
                    const double mg = sg / static_cast<double>(H), mgx = sgx / static_cast<double>(H);
                    T* dr = dp + r * H;
                    for (int64_t i = 0; i < H; ++i) {
                        const double g = wp ? gr[i] * static_cast<double>(wp[i]) : static_cast<double>(gr[i]);
                        dr[i] = static_cast<T>(is * (g - mg - (xr[i] - mu) * is * mgx));
                    }
                }
            });
        }
        if (need_w || need_b) {
            T* dwp = need_w ? dw.data<T>() : nullptr;
            T* dbp = need_b ? db.data<T>() : nullptr;
            // Threads own column ranges and walk the rows in order (each row read contiguously).
            const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(R, 1));
            parallel_for(0, H, grain, [&](int64_t cb, int64_t ce) {
                std::vector<double> aw(static_cast<size_t>(ce - cb), 0.0), ab(static_cast<size_t>(ce - cb), 0.0);
                for (int64_t r = 0; r < R; ++r) {
                    const T* xr = xp + r * H;
                    const T* gr = gp + r * H;
                    const double mu = mp[r], is = rp[r];
                    for (int64_t c = cb; c < ce; ++c) {
                        aw[c - cb] += gr[c] * (xr[c] - mu) * is;
                        ab[c - cb] += gr[c];
                    }
                }
                for (int64_t c = cb; c < ce; ++c) {
                    if (dwp) dwp[c] = static_cast<T>(aw[c - cb]);
                    if (dbp) dbp[c] = static_cast<T>(ab[c - cb]);
                }
            });
        }
    });
    return {dx, dw, db};
}

}  // namespace lamina
