// Helpers shared by the reduction kernels (reduce.cpp, reduce_stats.cpp): the accumulation type,
// the reduced-dims mask, walking the output's lines of a ReducePlan, and mapping results back to
// the input's layout or the keepdim shape. Internal to cpp/ops.
#pragma once
#include <algorithm>
#include <vector>

#include "../core/parallel.h"
#include "reduce.h"

namespace lamina {
namespace reduce_detail {

template <class T> struct AccOf { using type = T; };
template <> struct AccOf<float> { using type = double; };
template <> struct AccOf<bool> { using type = int64_t; };

inline std::vector<bool> reduced_mask(int64_t ndim, const std::vector<int64_t>& dims, const char* op) {
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
inline Tensor expand_back(const Tensor& dout, const ReducePlan& p, const Shape& x_shape) {
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
inline Tensor from_plan_layout(const Tensor& t, const ReducePlan& p) {
    if (p.perm.empty()) return t;
    std::vector<int64_t> inv(p.perm.size());
    for (size_t i = 0; i < p.perm.size(); ++i) inv[p.perm[i]] = static_cast<int64_t>(i);
    return t.permute(inv).contiguous();
}

inline Tensor finish(Tensor out, const ReducePlan& p, bool keepdim) {
    return keepdim ? out.reshape(p.keep_shape) : out;
}

}  // namespace reduce_detail
}  // namespace lamina
