// Batch and layer normalisation on the CPU. Statistics are accumulated in double with two passes
// (mean, then centred squares) so float32 inputs with a large mean stay accurate; per-channel /
// per-row work is split across threads so every output element has one writer. The loops run on
// lamina::vec::Vectorized<T> (vec_sum.h: four vector accumulators flushed to double every 16
// vectors); the scalar double loops they replaced were one 4-cycle add chain per element
// (LayerNorm 4.4x, BatchNorm 1.4x PyTorch's time). Deviations are taken from the mean rounded to
// T (mf) and corrected by the rounding mu - mf, so no double arithmetic runs per element.
#include "norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/allocator.h"
#include "../core/parallel.h"
#include "copy.h"
#include "vec_sum.h"

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
                    for (int64_t n = 0; n < N; ++n) s += vsum::sum(xp + (n * C + c) * S, S);
                    const double mu = s / static_cast<double>(M);
                    const T mf = static_cast<T>(mu);
                    const double dmu = mu - static_cast<double>(mf);
                    double q = 0;
                    for (int64_t n = 0; n < N; ++n) q += vsum::sum_sq_dev(xp + (n * C + c) * S, S, mf);
                    // sum (x - mf)^2 = sum (x - mu)^2 + M (mu - mf)^2
                    mean_d[c] = mu;
                    var_d[c] = std::max(0.0, q / static_cast<double>(M) - dmu * dmu);
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
                using V = vec::Vectorized<T>;
                constexpr int W = V::size();
                const V vs(scale), vb(shift);
                int64_t i = 0;
                for (; i + W <= S; i += W) fmadd(V::loadu(xr + i), vs, vb).store(orow + i);
                if (i < S) fmadd(V::loadu(xr + i, static_cast<int>(S - i)), vs, vb).store(orow + i, static_cast<int>(S - i));
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
                    const T mu = mp[c];
                    for (int64_t n = 0; n < N; ++n) {
                        const int64_t at = (n * C + c) * S;
                        s += vsum::sum(gp + at, S);
                        sx += vsum::dot_dev(gp + at, xp + at, S, mu);
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
                using V = vec::Vectorized<T>;
                constexpr int W = V::size();
                const int64_t full = S - S % W;
                const int rest = static_cast<int>(S - full);
                if (training) {
                    // dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
                    //    = k dy + b (x - mu) + c0
                    const double mdy = sdy[c] / static_cast<double>(M), mdyx = sdyx[c] / static_cast<double>(M);
                    const V vk(static_cast<T>(k)), vb(static_cast<T>(-k * is * mdyx)), vc(static_cast<T>(-k * mdy));
                    const V vmu(mp[c]);
                    auto f = [&](const V& g, const V& xv) { return fmadd(g, vk, fmadd(xv - vmu, vb, vc)); };
                    for (int64_t i = 0; i < full; i += W) f(V::loadu(gr + i), V::loadu(xr + i)).store(dr + i);
                    if (rest) f(V::loadu(gr + full, rest), V::loadu(xr + full, rest)).store(dr + full, rest);
                } else {
                    const V vk(static_cast<T>(k));
                    for (int64_t i = 0; i < full; i += W) (V::loadu(gr + i) * vk).store(dr + i);
                    if (rest) (V::loadu(gr + full, rest) * vk).store(dr + full, rest);
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
        using V = vec::Vectorized<T>;
        constexpr int W = V::size();
        const int64_t full = H - H % W;
        const int rest = static_cast<int>(H - full);
        const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(H, 1));
        parallel_for(0, R, grain, [&](int64_t rb, int64_t re) {
            for (int64_t r = rb; r < re; ++r) {
                const T* xr = xp + r * H;
                const double mu = H ? vsum::sum(xr, H) / static_cast<double>(H) : 0.0;
                const T mf = static_cast<T>(mu);
                const double dmu = mu - static_cast<double>(mf);
                const double q = vsum::sum_sq_dev(xr, H, mf);
                const double var = H ? std::max(0.0, q / static_cast<double>(H) - dmu * dmu) : 0.0;
                const double is = 1.0 / std::sqrt(var + eps);
                mp[r] = mf;
                rp[r] = static_cast<T>(is);
                T* orow = op + r * H;
                const V vm(mf), vd(static_cast<T>(dmu)), vi(static_cast<T>(is));
                auto norm = [&](const V& x) { return ((x - vm) - vd) * vi; };
                if (wp && bp) {
                    for (int64_t i = 0; i < full; i += W)
                        fmadd(norm(V::loadu(xr + i)), V::loadu(wp + i), V::loadu(bp + i)).store(orow + i);
                    if (rest)
                        fmadd(norm(V::loadu(xr + full, rest)), V::loadu(wp + full, rest), V::loadu(bp + full, rest))
                            .store(orow + full, rest);
                } else {
                    for (int64_t i = 0; i < full; i += W) {
                        V v = norm(V::loadu(xr + i));
                        if (wp) v = v * V::loadu(wp + i);
                        if (bp) v = v + V::loadu(bp + i);
                        v.store(orow + i);
                    }
                    if (rest) {
                        V v = norm(V::loadu(xr + full, rest));
                        if (wp) v = v * V::loadu(wp + full, rest);
                        if (bp) v = v + V::loadu(bp + full, rest);
                        v.store(orow + full, rest);
                    }
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
        using V = vec::Vectorized<T>;
        constexpr int W = V::size();
        const int64_t full = H - H % W;
        const int rest = static_cast<int>(H - full);
        T* dp = need_x ? dx.data<T>() : nullptr;
        const bool need_wb = need_w || need_b;
        // Rows go in fixed blocks of kRows (not per thread), each block's dweight / dbias partial
        // summed in T and kept in double; the partials are added in block order after the loop,
        // so the result does not depend on the thread count.
        constexpr int64_t kRows = 16;
        const int64_t nblk = (R + kRows - 1) / kRows;
        // every block writes its whole slice: no zero-fill (a 512 KB memset at 32x128x128)
        ScratchBuffer<double> part(need_wb ? static_cast<size_t>(nblk * 2 * H) : 0);
        const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(kRows * H, 1));
        parallel_for(0, nblk, grain, [&](int64_t bb, int64_t be) {
            std::vector<T> aw(need_wb ? static_cast<size_t>(H) : 0), ab(need_wb ? static_cast<size_t>(H) : 0);
            for (int64_t blk = bb; blk < be; ++blk) {
                if (need_wb) std::fill(aw.begin(), aw.end(), T(0)), std::fill(ab.begin(), ab.end(), T(0));
                const int64_t r1 = std::min(R, (blk + 1) * kRows);
                for (int64_t r = blk * kRows; r < r1; ++r) {
                    const T* xr = xp + r * H;
                    const T* gr = gp + r * H;
                    // mean is stored in T; its rounding is part of the forward's result, so xhat
                    // below is the forward's (x - mean) * rstd.
                    const V vm(mp[r]), vi(rp[r]);
                    auto xhat = [&](const V& x) { return (x - vm) * vi; };
                    if (need_wb) {
                        T* awp = aw.data();
                        T* abp = ab.data();
                        for (int64_t i = 0; i < full; i += W) {
                            const V g = V::loadu(gr + i);
                            fmadd(g, xhat(V::loadu(xr + i)), V::loadu(awp + i)).store(awp + i);
                            (V::loadu(abp + i) + g).store(abp + i);
                        }
                        if (rest) {
                            const V g = V::loadu(gr + full, rest);
                            fmadd(g, xhat(V::loadu(xr + full, rest)), V::loadu(awp + full, rest)).store(awp + full, rest);
                            (V::loadu(abp + full, rest) + g).store(abp + full, rest);
                        }
                    }
                    if (!need_x) continue;
                    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w
                    auto gw = [&](int64_t i) { return wp ? V::loadu(gr + i) * V::loadu(wp + i) : V::loadu(gr + i); };
                    auto gw1 = [&](int64_t i) { return wp ? gr[i] * wp[i] : gr[i]; };
                    const T mt = mp[r], it = rp[r];
                    // sum g and sum g xhat in one pass, two accumulators each, flushed to double
                    // after 16 vectors of their own
                    double sg = 0, sgx = 0;
                    int64_t i = 0;
                    while (i < full) {
                        V a0(T(0)), a1(T(0)), b0(T(0)), b1(T(0));
                        const int64_t stop = std::min(full, i + 32 * W);
                        for (; i + 2 * W <= stop; i += 2 * W) {
                            const V g0 = gw(i), g1 = gw(i + W);
                            a0 = a0 + g0;
                            a1 = a1 + g1;
                            b0 = fmadd(g0, xhat(V::loadu(xr + i)), b0);
                            b1 = fmadd(g1, xhat(V::loadu(xr + i + W)), b1);
                        }
                        if (i < stop) {
                            const V g0 = gw(i);
                            a0 = a0 + g0;
                            b0 = fmadd(g0, xhat(V::loadu(xr + i)), b0);
                            i += W;
                        }
                        sg += vsum::flush<T>(a0 + a1);
                        sgx += vsum::flush<T>(b0 + b1);
                    }
                    for (; i < H; ++i) {
                        sg += static_cast<double>(gw1(i));
                        sgx += static_cast<double>(gw1(i) * ((xr[i] - mt) * it));
                    }
                    const double is = rp[r];
                    const T bt = static_cast<T>(-is * sgx / static_cast<double>(H));
                    const T ct = static_cast<T>(-is * sg / static_cast<double>(H));
                    const V va(static_cast<T>(is)), vb(bt), vc(ct);
                    T* dr = dp + r * H;
                    // dx = is g - is mgx xhat - is mg
                    for (int64_t i = 0; i < full; i += W)
                        fmadd(gw(i), va, fmadd(xhat(V::loadu(xr + i)), vb, vc)).store(dr + i);
                    for (int64_t i = full; i < H; ++i)
                        dr[i] = gw1(i) * it + (((xr[i] - mt) * it) * bt + ct);
                }
                if (need_wb) {
                    double* pw = part.get() + blk * 2 * H;
                    for (int64_t c = 0; c < H; ++c) {
                        pw[c] = static_cast<double>(aw[c]);
                        pw[H + c] = static_cast<double>(ab[c]);
                    }
                }
            }
        });
        if (need_wb) {
            std::vector<double> tw(static_cast<size_t>(H), 0.0), tb(static_cast<size_t>(H), 0.0);
            for (int64_t blk = 0; blk < nblk; ++blk) {
                const double* pw = part.get() + blk * 2 * H;
                for (int64_t c = 0; c < H; ++c) {
                    tw[c] += pw[c];
                    tb[c] += pw[H + c];
                }
            }
            for (int64_t c = 0; c < H; ++c) {
                if (need_w) dw.data<T>()[c] = static_cast<T>(tw[c]);
                if (need_b) db.data<T>()[c] = static_cast<T>(tb[c]);
            }
        }
    });
    return {dx, dw, db};
}

}  // namespace lamina
