// Reductions that pick or compare: max/min (values + indices), amax/amin, argmax/argmin, var/std,
// logsumexp, any/all, and their backwards. Planned as x[outer, R, inner] like the sums
// (reduce.cpp; shared helpers in reduce_lines.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/iter.h"
#include "../core/parallel.h"
#include "../core/vec_math.h"
#include "reduce.h"
#include "reduce_lines.h"
#include "softmax_line.h"
#include "vec_sum.h"

namespace lamina {

using namespace reduce_detail;

// ---- max / min ----------------------------------------------------------------------------

namespace {

// True when v should replace the current best (NaN propagates; ties keep the first).
template <class T>
inline bool better(T v, T best, bool is_max) {
    if constexpr (std::is_floating_point_v<T>) {
        if (v != v) return best == best;
    }
    return is_max ? v > best : v < best;
}

void check_nonempty(const ReducePlan& p, const char* op) {
    LAMINA_CHECK_INDEX(p.R > 0 || p.outer * p.inner == 0, op,
                       "(): Expected reduction dim to have non-zero size (input shape with reduced dims ",
                       p.keep_shape, ")");
}

// Calls f(j, best_index, best_value) per output element.
template <class T, class F>
void extreme_lines(const ReducePlan& p, bool is_max, const F& f) {
    const T* xp = p.x.data<T>();
    for_lines(p, [&](int64_t j, int64_t base) {
        T best = xp[base];
        int64_t bi = 0;
        for (int64_t r = 1; r < p.R; ++r) {
            const T v = xp[base + r * p.inner];
            if (better(v, best, is_max)) {
                best = v;
                bi = r;
            }
        }
        f(j, bi, best);
    });
}

}  // namespace

std::vector<Tensor> max_dim_forward(const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
    const char* op = is_max ? "max" : "min";
    LAMINA_CHECK_TYPE(x.dtype() != DType::Bool, op, ": bool tensors are not supported; convert first");
    const ReducePlan p = plan_reduce(x, {dim}, op);
    check_nonempty(p, op);
    Tensor vals = Tensor::empty(p.out_shape, x.dtype());
    Tensor idx = Tensor::empty(p.out_shape, DType::Int64);
    if (vals.numel() > 0) {
        dispatch_numeric(x.dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            T* v = vals.data<T>();
            int64_t* ix = idx.data<int64_t>();
            extreme_lines<T>(p, is_max, [&](int64_t j, int64_t bi, T best) {
                v[j] = best;
                ix[j] = bi;
            });
        });
    }
    return {finish(vals, p, keepdim), finish(idx, p, keepdim)};
}

Tensor max_dim_backward(const Tensor& dout, const Tensor& indices, const Shape& x_shape, int64_t dim) {
    const int64_t nd = static_cast<int64_t>(x_shape.size());
    const int64_t d = wrap_dim(dim, nd, "max_backward");
    int64_t outer = 1, R = 1, inner = 1;
    for (int64_t k = 0; k < nd; ++k) (k < d ? outer : k == d ? R : inner) *= x_shape[k];
    Tensor dx = Tensor::empty(x_shape, dout.dtype());
    const Tensor g = dout.contiguous(), ix = indices.contiguous();
    dispatch_float(dout.dtype(), "max_backward", [&](auto tag) {
        using T = decltype(tag);
        T* dp = dx.data<T>();
        const T* gp = g.data<T>();
        const int64_t* ip = ix.data<int64_t>();
        parallel_for(0, outer, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, R * inner)),
                     [&](int64_t b, int64_t e) {
                         std::fill(dp + b * R * inner, dp + e * R * inner, T(0));
                         for (int64_t o = b; o < e; ++o)
                             for (int64_t i = 0; i < inner; ++i)
                                 dp[(o * R + ip[o * inner + i]) * inner + i] = gp[o * inner + i];
                     });
    });
    return dx;
}

Tensor amax_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max) {
    const char* op = is_max ? "amax" : "amin";
    const ReducePlan p = plan_reduce(x, dims, op);
    check_nonempty(p, op);
    Tensor vals = Tensor::empty(p.out_shape, x.dtype());
    if (vals.numel() > 0) {
        dispatch_all(x.dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            T* v = vals.data<T>();
            extreme_lines<T>(p, is_max, [&](int64_t j, int64_t, T best) { v[j] = best; });
        });
    }
    return finish(vals, p, keepdim);
}

Tensor amax_backward(const Tensor& dout, const Tensor& x, const Tensor& out, const std::vector<int64_t>& dims) {
    const ReducePlan p = plan_reduce(x, dims, "amax_backward");
    const Tensor oc = out.contiguous();
    Tensor count = Tensor::empty(p.out_shape, x.dtype());
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    if (dx.numel() == 0) return dx;
    dispatch_float(x.dtype(), "amax_backward", [&](auto tag) {
        using T = decltype(tag);
        const T* xp = p.x.data<T>();
        const T* op = oc.data<T>();
        T* cp = count.data<T>();
        for_lines(p, [&](int64_t j, int64_t base) {
            int64_t c = 0;
            for (int64_t r = 0; r < p.R; ++r) {
                const T v = xp[base + r * p.inner];
                c += (v == op[j] || (v != v && op[j] != op[j]));
            }
            cp[j] = static_cast<T>(c);
        });
        const Tensor ge = expand_back(dout, p, x.shape()), oe = expand_back(oc, p, x.shape()),
                     ce = expand_back(count, p, x.shape());
        for_each_run<5>(x.shape(), {&dx, &x, &ge, &oe, &ce},
                        [&](const std::array<char*, 5>& ptr, const int64_t* st, int64_t n) {
                            T* d = reinterpret_cast<T*>(ptr[0]);
                            const T* a = reinterpret_cast<const T*>(ptr[1]);
                            const T* g = reinterpret_cast<const T*>(ptr[2]);
                            const T* o = reinterpret_cast<const T*>(ptr[3]);
                            const T* c = reinterpret_cast<const T*>(ptr[4]);
                            for (int64_t k = 0; k < n; ++k) {
                                const T v = a[k * st[1]], m = o[k * st[3]];
                                const bool hit = v == m || (v != v && m != m);
                                d[k] = hit ? g[k * st[2]] / c[k * st[4]] : T(0);
                            }
                        });
    });
    return dx;
}

Tensor argmax_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max) {
    const char* op = is_max ? "argmax" : "argmin";
    LAMINA_CHECK_TYPE(x.dtype() != DType::Bool, op, ": bool tensors are not supported; convert first");
    const ReducePlan p = plan_reduce(x, dims, op);
    check_nonempty(p, op);
    Tensor idx = Tensor::empty(p.out_shape, DType::Int64);
    if (idx.numel() > 0) {
        dispatch_numeric(x.dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            int64_t* ix = idx.data<int64_t>();
            extreme_lines<T>(p, is_max, [&](int64_t j, int64_t bi, T) { ix[j] = bi; });
        });
    }
    return finish(idx, p, keepdim);
}

// ---- var / std ----------------------------------------------------------------------------

std::vector<Tensor> var_forward(const Tensor& x, const std::vector<int64_t>& dims, double correction,
                                bool keepdim, bool take_sqrt) {
    const char* op = take_sqrt ? "std" : "var";
    const ReducePlan p = plan_reduce(x, dims, op);
    Tensor out = Tensor::empty(p.out_shape, x.dtype());
    Tensor mean = Tensor::empty(p.out_shape, x.dtype());
    const double div = std::max(0.0, static_cast<double>(p.R) - correction);
    if (out.numel() > 0) {
        dispatch_float(x.dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            const T* xp = p.x.data<T>();
            T* o = out.data<T>();
            T* m = mean.data<T>();
            for_lines(p, [&](int64_t j, int64_t base) {
                double s = 0;
                for (int64_t r = 0; r < p.R; ++r) s += static_cast<double>(xp[base + r * p.inner]);
                const double mu = s / static_cast<double>(p.R);
                double ss = 0;
                for (int64_t r = 0; r < p.R; ++r) {
                    const double dv = static_cast<double>(xp[base + r * p.inner]) - mu;
                    ss += dv * dv;
                }
                const double v = ss / div;
                o[j] = static_cast<T>(take_sqrt ? std::sqrt(v) : v);
                m[j] = static_cast<T>(mu);
            });
        });
    }
    return {finish(out, p, keepdim), mean.reshape(p.keep_shape)};
}

Tensor var_backward(const Tensor& dout, const Tensor& x, const Tensor& mean, const Tensor& out,
                    const std::vector<int64_t>& dims, double correction, bool take_sqrt) {
    ReducePlan p;
    p.reduced = reduced_mask(x.dim(), dims, "var_backward");
    int64_t R = 1;
    for (int64_t d = 0; d < x.dim(); ++d) {
        p.keep_shape.push_back(p.reduced[d] ? 1 : x.shape()[d]);
        if (p.reduced[d]) R *= x.shape()[d];
    }
    const double div = std::max(0.0, static_cast<double>(R) - correction);
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    if (dx.numel() == 0) return dx;
    const Tensor ge = expand_back(dout, p, x.shape()), me = expand_back(mean, p, x.shape()),
                 oe = expand_back(out, p, x.shape());
    dispatch_float(x.dtype(), "var_backward", [&](auto tag) {
        using T = decltype(tag);
        const T two_over = static_cast<T>(2.0 / div);
        for_each_run<5>(x.shape(), {&dx, &x, &ge, &me, &oe},
                        [&](const std::array<char*, 5>& ptr, const int64_t* st, int64_t n) {
                            T* d = reinterpret_cast<T*>(ptr[0]);
                            const T* a = reinterpret_cast<const T*>(ptr[1]);
                            const T* g = reinterpret_cast<const T*>(ptr[2]);
                            const T* mu = reinterpret_cast<const T*>(ptr[3]);
                            const T* o = reinterpret_cast<const T*>(ptr[4]);
                            for (int64_t k = 0; k < n; ++k) {
                                T v = g[k * st[2]] * two_over * (a[k * st[1]] - mu[k * st[3]]);
                                if (take_sqrt) v = v / (T(2) * o[k * st[4]]);
                                d[k] = v;
                            }
                        });
    });
    return dx;
}

// ---- logsumexp ----------------------------------------------------------------------------

Tensor logsumexp_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    const ReducePlan p = plan_reduce(x, dims, "logsumexp");
    Tensor out = Tensor::empty(p.out_shape, x.dtype());
    if (out.numel() > 0) {
        dispatch_float(x.dtype(), "logsumexp", [&](auto tag) {
            using T = decltype(tag);
            const T* xp = p.x.data<T>();
            T* o = out.data<T>();
            if (p.inner == 1) {  // the reduced dims are the last ones: vectorised lines
                for_lines(p, [&](int64_t j, int64_t base) {
                    const LineExpSum<T> ls = line_exp_sum(xp + base, p.R, static_cast<T*>(nullptr));
                    o[j] = static_cast<T>(ls.log_sum() + static_cast<double>(ls.m));
                });
                return;
            }
            for_lines(p, [&](int64_t j, int64_t base) {
                T m = -std::numeric_limits<T>::infinity();
                for (int64_t r = 0; r < p.R; ++r) m = std::max(m, xp[base + r * p.inner]);
                const T shift = std::isfinite(m) ? m : T(0);
                double s = 0;
                for (int64_t r = 0; r < p.R; ++r) s += std::exp(static_cast<double>(xp[base + r * p.inner] - shift));
                o[j] = static_cast<T>(std::log(s) + shift);
            });
        });
    }
    return finish(out, p, keepdim);
}

Tensor logsumexp_backward(const Tensor& dout, const Tensor& x, const Tensor& out, const std::vector<int64_t>& dims) {
    ReducePlan p;
    p.reduced = reduced_mask(x.dim(), dims, "logsumexp_backward");
    for (int64_t d = 0; d < x.dim(); ++d) p.keep_shape.push_back(p.reduced[d] ? 1 : x.shape()[d]);
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    if (dx.numel() == 0) return dx;
    const Tensor ge = expand_back(dout, p, x.shape()), oe = expand_back(out, p, x.shape());
    dispatch_float(x.dtype(), "logsumexp_backward", [&](auto tag) {
        using T = decltype(tag);
        for_each_run<4>(x.shape(), {&dx, &x, &ge, &oe},
                        [&](const std::array<char*, 4>& ptr, const int64_t* st, int64_t n) {
                            T* d = reinterpret_cast<T*>(ptr[0]);
                            const T* a = reinterpret_cast<const T*>(ptr[1]);
                            const T* g = reinterpret_cast<const T*>(ptr[2]);
                            const T* o = reinterpret_cast<const T*>(ptr[3]);
                            int64_t k = 0;
                            if (st[0] == 1 && st[1] == 1 && st[2] == 0 && st[3] == 0) {
                                // A run along a reduced dim: g and out are one value each.
                                using V = vec::Vectorized<T>;
                                constexpr int W = V::size();
                                const V gv(g[0]), ov(o[0]);
                                for (; k + W <= n; k += W) (gv * vec::exp(V::loadu(a + k) - ov)).store(d + k);
                                if (k < n) {
                                    const int rest = static_cast<int>(n - k);
                                    (gv * vec::exp(V::loadu(a + k, rest) - ov)).store(d + k, rest);
                                }
                                return;
                            }
                            for (; k < n; ++k) d[k] = g[k * st[2]] * std::exp(a[k * st[1]] - o[k * st[3]]);
                        });
    });
    return dx;
}

// ---- any / all ----------------------------------------------------------------------------

Tensor any_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_all) {
    const char* op = is_all ? "all" : "any";
    const ReducePlan p = plan_reduce(x, dims, op);
    Tensor out = Tensor::empty(p.out_shape, DType::Bool);
    if (out.numel() > 0) {
        dispatch_all(x.dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            const T* xp = p.x.data<T>();
            bool* o = out.data<bool>();
            for_lines(p, [&](int64_t j, int64_t base) {
                bool r_all = true, r_any = false;
                for (int64_t r = 0; r < p.R; ++r) {
                    const bool nz = xp[base + r * p.inner] != T(0);
                    r_all = r_all && nz;
                    r_any = r_any || nz;
                }
                o[j] = is_all ? r_all : r_any;
            });
        });
    }
    return finish(out, p, keepdim);
}

}  // namespace lamina
