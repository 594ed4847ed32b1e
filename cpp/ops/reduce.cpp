// Reduction kernels. Every reduction is planned as x[outer, R, inner] over a contiguous buffer
// (see ReducePlan); a sum over the last dim runs a unit-stride simd loop, a sum over a leading dim
// accumulates whole rows of `inner` at once, and float32 accumulates in double (torch's CPU acc type).
#include "reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/iter.h"
#include "../core/parallel.h"
#include "../core/vec_math.h"
#include "softmax_line.h"
#include "vec_sum.h"

namespace lamina {

namespace {

template <class T> struct AccOf { using type = T; };
template <> struct AccOf<float> { using type = double; };
template <> struct AccOf<bool> { using type = int64_t; };

std::vector<bool> reduced_mask(int64_t ndim, const std::vector<int64_t>& dims, const char* op) {
    std::vector<bool> m(static_cast<size_t>(ndim), dims.empty());
    for (int64_t d : dims) {
        const int64_t w = wrap_dim(d, ndim, op);
        if (ndim == 0) continue;
        LAMINA_CHECK(!m[w], op, ": dim ", w, " appears multiple times in the list of dims ", dims);
        m[w] = true;
    }
    return m;
}

// Broadcasts a gradient of the forward's output shape back over x_shape (a view, stride 0).
Tensor expand_back(const Tensor& dout, const ReducePlan& p, const Shape& x_shape) {
    return dout.reshape(p.keep_shape).expand(x_shape);
}

// Calls f(j, base) for every output element j (row-major over kept dims): its line starts at
// element `base` of p.x and steps by p.inner for p.R elements.
template <class F>
void for_lines(const ReducePlan& p, const F& f) {
    const int64_t n = p.outer * p.inner;
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, p.R));
    parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
        if (p.inner == 1) {  // lines along the last dim: no 64-bit division per line (~20 cycles each)
            for (int64_t j = b; j < e; ++j) f(j, j * p.R);
        } else {
            for (int64_t j = b; j < e; ++j) f(j, (j / p.inner) * p.R * p.inner + j % p.inner);
        }
    });
}

// A tensor in plan layout (outer, R, inner) mapped back to the input's layout.
Tensor from_plan_layout(const Tensor& t, const ReducePlan& p) {
    if (p.perm.empty()) return t;
    std::vector<int64_t> inv(p.perm.size());
    for (size_t i = 0; i < p.perm.size(); ++i) inv[p.perm[i]] = static_cast<int64_t>(i);
    return t.permute(inv).contiguous();
}

Tensor finish(Tensor out, const ReducePlan& p, bool keepdim) {
    return keepdim ? out.reshape(p.keep_shape) : out;
}

}  // namespace

ReducePlan plan_reduce(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
    LAMINA_CHECK_RUNTIME(x.device().is_cpu(), op, ": only CPU tensors are supported, got ", x.device());
    ReducePlan p;
    const int64_t nd = x.dim();
    p.reduced = reduced_mask(nd, dims, op);
    const Shape& sh = x.shape();
    int64_t first = -1, last = -1;
    for (int64_t d = 0; d < nd; ++d) {
        if (p.reduced[d]) {
            if (first < 0) first = d;
            last = d;
            p.keep_shape.push_back(1);
        } else {
            p.out_shape.push_back(sh[d]);
            p.keep_shape.push_back(sh[d]);
        }
    }
    bool block = true;
    for (int64_t d = first; d >= 0 && d <= last; ++d) block = block && p.reduced[d];
    if (block) {
        p.x = x.contiguous();
        for (int64_t d = 0; d < nd; ++d) {
            if (first >= 0 && d >= first && d <= last) p.R *= sh[d];
            else if (first >= 0 && d > last) p.inner *= sh[d];
            else p.outer *= sh[d];
        }
        return p;
    }
    for (int64_t d = 0; d < nd; ++d)
        if (!p.reduced[d]) p.perm.push_back(d);
    for (int64_t d = 0; d < nd; ++d)
        if (p.reduced[d]) p.perm.push_back(d);
    p.x = x.permute(p.perm).contiguous();
    for (int64_t d = 0; d < nd; ++d) (p.reduced[d] ? p.R : p.outer) *= sh[d];
    return p;
}

// ---- sum / mean --------------------------------------------------------------------------

namespace {

constexpr int64_t kSumBlock = 16384;  // full reductions: fixed blocks, so results never depend
                                      // on the thread count
constexpr int64_t kColChunk = 512;

template <class T, class A>
A sum_line_unit(const T* x, int64_t n) {
    // float/double: four vector accumulators flushed to double every 16 vectors (vec_sum.h); the
    // simd reduction below was one double add chain (sum dim1 2.3x PyTorch's time).
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) return vsum::sum(x, n);
    A acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t k = 0; k < n; ++k) acc += static_cast<A>(x[k]);
    return acc;
}

// Column sums of float/double planes x[outer, R, inner] (inner >= one vector): register blocks of
// 4 vectors of columns summed in T over 16 rows at a time, then flushed into double accumulators,
// so every partial sum holds at most 16 roundings (the old loop converted each element to double
// and loaded and stored its accumulator per row: mean dim0 1.9x PyTorch's time). Fixed chunks of
// columns per task: the result does not depend on the thread count.
template <class T, class Fin>
void col_sums_vec(const ReducePlan& p, const T* x, T* out, const Fin& fin) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    constexpr int64_t kRowBlock = 16;
    const int64_t nch = (p.inner + kColChunk - 1) / kColChunk;
    const int64_t tasks = p.outer * nch;
    const int64_t grain =
        std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, p.R * std::min(p.inner, kColChunk)));
    parallel_for(0, tasks, grain, [&](int64_t b, int64_t e) {
        double acc[kColChunk];
        alignas(64) T tmp[4 * W];
        for (int64_t t = b; t < e; ++t) {
            const int64_t o = t / nch, c0 = (t % nch) * kColChunk;
            const int64_t len = std::min(kColChunk, p.inner - c0);
            for (int64_t i = 0; i < len; ++i) acc[i] = 0;
            const T* xo = x + o * p.R * p.inner + c0;
            int64_t c = 0;
            for (; c < len; c += 4 * W) {
                const int64_t cl = std::min<int64_t>(4 * W, len - c);
                const int nv = static_cast<int>((cl + W - 1) / W);
                const int last = static_cast<int>(cl - (nv - 1) * W);
                for (int64_t r0 = 0; r0 < p.R; r0 += kRowBlock) {
                    const int64_t r1 = std::min(p.R, r0 + kRowBlock);
                    V a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
                    if (cl == 4 * W) {
                        for (int64_t r = r0; r < r1; ++r) {
                            const T* row = xo + r * p.inner + c;
                            a0 = a0 + V::loadu(row);
                            a1 = a1 + V::loadu(row + W);
                            a2 = a2 + V::loadu(row + 2 * W);
                            a3 = a3 + V::loadu(row + 3 * W);
                        }
                        a0.store(tmp);
                        a1.store(tmp + W);
                        a2.store(tmp + 2 * W);
                        a3.store(tmp + 3 * W);
                    } else {
                        V a[4] = {a0, a1, a2, a3};
                        for (int64_t r = r0; r < r1; ++r) {
                            const T* row = xo + r * p.inner + c;
                            for (int v = 0; v < nv; ++v)
                                a[v] = a[v] + (v + 1 < nv ? V::loadu(row + v * W) : V::loadu(row + v * W, last));
                        }
                        for (int v = 0; v < nv; ++v) a[v].store(tmp + v * W);
                    }
                    double* ac = acc + c;
                    for (int64_t i = 0; i < cl; ++i) ac[i] += static_cast<double>(tmp[i]);
                }
            }
            T* oo = out + o * p.inner + c0;
            for (int64_t i = 0; i < len; ++i) oo[i] = fin(acc[i]);
        }
    });
}

template <class T>
void sum_kernel(const ReducePlan& p, T* out, double scale) {
    using A = typename AccOf<T>::type;
    const T* x = p.x.data<T>();
    const auto fin = [scale](A v) {
        return scale == 1.0 ? static_cast<T>(v) : static_cast<T>(static_cast<double>(v) * scale);
    };
    if (p.inner == 1 && p.outer == 1) {
        const int64_t nb = std::max<int64_t>(1, (p.R + kSumBlock - 1) / kSumBlock);
        std::vector<A> part(static_cast<size_t>(nb));
        parallel_for(0, nb, 2, [&](int64_t b, int64_t e) {
            for (int64_t k = b; k < e; ++k) {
                const int64_t s = k * kSumBlock;
                part[k] = sum_line_unit<T, A>(x + s, std::min(kSumBlock, p.R - s));
            }
        });
        A acc = 0;
        for (A v : part) acc += v;
        out[0] = fin(acc);
        return;
    }
    if (p.inner == 1) {
        for_lines(p, [&](int64_t j, int64_t base) { out[j] = fin(sum_line_unit<T, A>(x + base, p.R)); });
        return;
    }
    // Columns: rows of `inner` contiguous elements are added into an accumulator chunk, which
    // vectorises across the inner dimension.
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        if (p.inner >= vec::Vectorized<T>::size()) {
            col_sums_vec<T>(p, x, out, fin);
            return;
        }
    }
    const int64_t nch = (p.inner + kColChunk - 1) / kColChunk;
    const int64_t tasks = p.outer * nch;
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, p.R * std::min(p.inner, kColChunk)));
    parallel_for(0, tasks, grain, [&](int64_t b, int64_t e) {
        A acc[kColChunk];
        for (int64_t t = b; t < e; ++t) {
            const int64_t o = t / nch, c0 = (t % nch) * kColChunk;
            const int64_t len = std::min(kColChunk, p.inner - c0);
            for (int64_t i = 0; i < len; ++i) acc[i] = 0;
            const T* xo = x + o * p.R * p.inner + c0;
            for (int64_t r = 0; r < p.R; ++r) {
                const T* row = xo + r * p.inner;
#pragma omp simd
                for (int64_t i = 0; i < len; ++i) acc[i] += static_cast<A>(row[i]);
            }
            T* oo = out + o * p.inner + c0;
            for (int64_t i = 0; i < len; ++i) oo[i] = fin(acc[i]);
        }
    });
}

Tensor sum_impl(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim, double scale_or_mean,
                bool mean, const char* op) {
    Tensor x = x_in;
    if (x.dtype() == DType::Bool) x = x.to(DType::Int64);
    const ReducePlan p = plan_reduce(x, dims, op);
    Tensor out = Tensor::empty(p.out_shape, x.dtype());
    const double scale = mean ? 1.0 / static_cast<double>(p.R) : scale_or_mean;
    if (out.numel() > 0) {
        dispatch_numeric(x.dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            sum_kernel<T>(p, out.data<T>(), scale);
        });
    }
    return finish(out, p, keepdim);
}

}  // namespace

Tensor sum_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    return sum_impl(x, dims, keepdim, 1.0, false, "sum");
}

Tensor mean_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    LAMINA_CHECK_TYPE(is_floating(x.dtype()),
                      "mean(): could not infer output dtype. Input dtype must be a floating point dtype, got ",
                      dtype_name(x.dtype()));
    return sum_impl(x, dims, keepdim, 1.0, true, "mean");
}

Tensor sum_backward(const Tensor& dout, const Shape& x_shape, const std::vector<int64_t>& dims, double scale) {
    ReducePlan p;
    p.reduced = reduced_mask(static_cast<int64_t>(x_shape.size()), dims, "sum_backward");
    for (size_t d = 0; d < x_shape.size(); ++d) p.keep_shape.push_back(p.reduced[d] ? 1 : x_shape[d]);
    const Tensor g = expand_back(dout, p, x_shape);
    Tensor dx = Tensor::empty(x_shape, dout.dtype());
    if (dx.numel() == 0) return dx;
    dispatch_float(dout.dtype(), "sum_backward", [&](auto tag) {
        using T = decltype(tag);
        const T s = static_cast<T>(scale);
        for_each_run<2>(x_shape, {&dx, &g}, [&](const std::array<char*, 2>& ptr, const int64_t* st, int64_t n) {
            T* o = reinterpret_cast<T*>(ptr[0]);
            const T* a = reinterpret_cast<const T*>(ptr[1]);
            // the two common runs get loops of their own (vectorised: a fill, a scaled copy)
            if (st[1] == 0) {
                const T v = a[0] * s;
                for (int64_t k = 0; k < n; ++k) o[k] = v;
            } else if (st[1] == 1) {
                for (int64_t k = 0; k < n; ++k) o[k] = a[k] * s;
            } else {
                for (int64_t k = 0; k < n; ++k) o[k] = a[k * st[1]] * s;
            }
        });
    });
    return dx;
}

Tensor sum_to(const Tensor& t, const Shape& shape) {
    const int64_t nd = t.dim(), ns = static_cast<int64_t>(shape.size());
    LAMINA_CHECK(ns <= nd, "sum_to: cannot reduce a tensor of shape ", t.shape(), " to shape ", shape);
    std::vector<int64_t> dims;
    const int64_t lead = nd - ns;
    for (int64_t d = 0; d < lead; ++d) dims.push_back(d);
    for (int64_t d = 0; d < ns; ++d) {
        const int64_t have = t.shape()[lead + d];
        if (shape[d] == have) continue;
        LAMINA_CHECK(shape[d] == 1, "sum_to: cannot reduce a tensor of shape ", t.shape(), " to shape ", shape,
                     " (dim ", d, " has size ", have, ", target ", shape[d], ")");
        dims.push_back(lead + d);
    }
    if (dims.empty()) return t;
    const Tensor s = sum_forward(t, dims, true);
    return s.reshape(shape);
}

// ---- prod ---------------------------------------------------------------------------------

Tensor prod_forward(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim) {
    Tensor x = x_in.dtype() == DType::Bool ? x_in.to(DType::Int64) : x_in;
    const ReducePlan p = plan_reduce(x, dims, "prod");
    Tensor out = Tensor::empty(p.out_shape, x.dtype());
    if (out.numel() == 0) return finish(out, p, keepdim);
    dispatch_numeric(x.dtype(), "prod", [&](auto tag) {
        using T = decltype(tag);
        using A = typename AccOf<T>::type;
        const T* xp = p.x.data<T>();
        T* o = out.data<T>();
        for_lines(p, [&](int64_t j, int64_t base) {
            A acc = 1;
            for (int64_t r = 0; r < p.R; ++r) acc *= static_cast<A>(xp[base + r * p.inner]);
            o[j] = static_cast<T>(acc);
        });
    });
    return finish(out, p, keepdim);
}

// Exclusive products (prefix times suffix), so zeros in x need no division.
Tensor prod_backward(const Tensor& dout, const Tensor& x, const std::vector<int64_t>& dims) {
    const ReducePlan p = plan_reduce(x, dims, "prod_backward");
    const Tensor g = dout.contiguous();
    Tensor dx = Tensor::empty(p.x.shape(), x.dtype());
    if (dx.numel() == 0) return from_plan_layout(dx, p);
    dispatch_float(x.dtype(), "prod_backward", [&](auto tag) {
        using T = decltype(tag);
        using A = typename AccOf<T>::type;
        const T* xp = p.x.data<T>();
        const T* gp = g.data<T>();
        T* d = dx.data<T>();
        for_lines(p, [&](int64_t j, int64_t base) {
            A pre = 1;
            for (int64_t r = 0; r < p.R; ++r) {
                d[base + r * p.inner] = static_cast<T>(pre);
                pre *= static_cast<A>(xp[base + r * p.inner]);
            }
            A suf = static_cast<A>(gp[j]);
            for (int64_t r = p.R - 1; r >= 0; --r) {
                const int64_t k = base + r * p.inner;
                d[k] = static_cast<T>(static_cast<A>(d[k]) * suf);
                suf *= static_cast<A>(xp[k]);
            }
        });
    });
    return from_plan_layout(dx, p);
}

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
