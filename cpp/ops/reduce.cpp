// Reduction kernels: the plan, sum / mean (+ sum_to) and prod. Every reduction is planned as
// x[outer, R, inner] over a contiguous buffer (see ReducePlan); a sum over the last dim runs a
// unit-stride simd loop, a sum over a leading dim accumulates whole rows of `inner` at once, and
// float32 accumulates in double (torch's CPU acc type). max/min, argmax, var/std, logsumexp and
// any/all are in reduce_stats.cpp; the helpers both use in reduce_lines.h.
#include "reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/iter.h"
#include "../core/parallel.h"
#include "reduce_lines.h"
#include "../core/vec_math.h"
#include "softmax_line.h"
#include "vec_sum.h"

namespace lamina {

using namespace reduce_detail;

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
// 4 vectors of columns summed in T over 16 rows at a time (all column groups of a chunk for one
// block of 16 rows, then the next block), then flushed into double accumulators,
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
            // Row blocks outside, column groups inside: 16 rows are streamed left to right (16
            // prefetch streams) rather than all R rows for one 4-vector column group (R streams,
            // more than the prefetcher tracks). Same additions in the same order per column.
            for (int64_t r0 = 0; r0 < p.R; r0 += kRowBlock) {
                const int64_t r1 = std::min(p.R, r0 + kRowBlock);
                for (int64_t c = 0; c < len; c += 4 * W) {
                    const int64_t cl = std::min<int64_t>(4 * W, len - c);
                    const int nv = static_cast<int>((cl + W - 1) / W);
                    const int last = static_cast<int>(cl - (nv - 1) * W);
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
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
            // Each line is one or a few pages, and the hardware prefetchers stop at a page's end
            // and ramp up again on the next one; so while line j is summed, the same offset of
            // line j + 1 is prefetched (a line an element is cheap next to an L3 miss).
            // Same additions, same order as sum_line_unit.
            using V = vec::Vectorized<T>;
            const int64_t R = p.R;
            for_lines(p, [&](int64_t j, int64_t base) {
                const T* xl = x + base;
                out[j] = fin(vsum::sum_terms<T>(
                    R,
                    [&](int64_t i) {
                        __builtin_prefetch(xl + i + R);
                        return V::loadu(xl + i);
                    },
                    [&](int64_t i) { return static_cast<double>(xl[i]); }));
            });
            return;
        }
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

}  // namespace lamina
