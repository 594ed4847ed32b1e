// CPU strided loops over several operands that share one logical shape (after broadcasting).
// Dimensions are coalesced first, so a contiguous tensor of any rank becomes a single flat run and
// the kernel's inner loop sees unit strides it can vectorise.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "index_math.h"
#include "parallel.h"
#include "tensor.h"

namespace lamina {

template <int NARGS>
struct LoopPlan {
    StridedIndexer<NARGS> ix;       // outer dimensions (all but the innermost)
    int64_t inner = 1;              // length of the innermost run
    int64_t inner_stride[NARGS];    // innermost strides, in elements
    int64_t outer = 1;              // number of innermost runs
};

// Operands must already have `shape` (use Tensor::expand for broadcasting).
template <int NARGS>
LoopPlan<NARGS> plan_loop(const Shape& shape, const std::array<const Tensor*, NARGS>& ts) {
    // Drop size-1 dims, then merge neighbours that are contiguous with each other in every operand.
    std::vector<int64_t> sz;
    std::vector<std::array<int64_t, NARGS>> st;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        std::array<int64_t, NARGS> s;
        for (int a = 0; a < NARGS; ++a) s[a] = ts[a]->strides()[d];
        if (!sz.empty()) {
            bool merge = true;
            for (int a = 0; a < NARGS; ++a)
                if (st.back()[a] != s[a] * shape[d]) merge = false;
            if (merge) {
                sz.back() *= shape[d];
                st.back() = s;
                continue;
            }
        }
        sz.push_back(shape[d]);
        st.push_back(s);
    }
    LoopPlan<NARGS> p;
    if (sz.empty()) {
        p.inner = 1;
        for (int a = 0; a < NARGS; ++a) p.inner_stride[a] = 1;
        p.ix.ndim = 0;
        return p;
    }
    LAMINA_CHECK_RUNTIME(sz.size() <= static_cast<size_t>(kMaxDims) + 1,
                         "tensor iteration: at most ", kMaxDims + 1, " non-mergeable dimensions");
    p.inner = sz.back();
    for (int a = 0; a < NARGS; ++a) p.inner_stride[a] = st.back()[a];
    p.ix.ndim = static_cast<int>(sz.size()) - 1;
    for (int d = 0; d < p.ix.ndim; ++d) {
        p.ix.sizes[d] = sz[d];
        p.outer *= sz[d];
        for (int a = 0; a < NARGS; ++a) p.ix.strides[a][d] = st[d][a];
    }
    return p;
}

// Runs body(ptrs, inner_strides, n) over every innermost run, in parallel over runs (or over
// pieces of one long run) when the tensor is big enough. ptrs are typed element pointers of
// each operand's scalar type, passed as char* and the element size in `elsize`.
template <int NARGS, class F>
void for_each_run(const Shape& shape, const std::array<const Tensor*, NARGS>& ts, const F& body) {
    const LoopPlan<NARGS> p = plan_loop<NARGS>(shape, ts);
    std::array<char*, NARGS> base;
    std::array<int64_t, NARGS> es;
    for (int a = 0; a < NARGS; ++a) {
        base[a] = static_cast<char*>(ts[a]->data_ptr());
        es[a] = static_cast<int64_t>(ts[a]->element_size());
    }
    const int64_t total = p.outer * p.inner;
    if (total == 0) return;
    if (p.outer == 1) {
        // One long run: split it.
        parallel_for(0, p.inner, kGrainElementwise, [&](int64_t b, int64_t e) {
            std::array<char*, NARGS> ptr;
            for (int a = 0; a < NARGS; ++a) ptr[a] = base[a] + b * p.inner_stride[a] * es[a];
            body(ptr, p.inner_stride, e - b);
        });
        return;
    }
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / p.inner);
    parallel_for(0, p.outer, grain, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            std::array<char*, NARGS> ptr;
            for (int a = 0; a < NARGS; ++a) ptr[a] = base[a] + p.ix.offset(r, a) * es[a];
            body(ptr, p.inner_stride, p.inner);
        }
    });
}

}  // namespace lamina
