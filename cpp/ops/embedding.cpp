// Embedding on top of the indexing kernels: the forward copies whole rows (index_forward on dim 0),
// the backward index-adds rows (threads own column ranges, so repeated ids need no atomics).
// embedding_renorm_ (max_norm) rescales each distinct referenced row once, threads owning rows.
#include "embedding.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "../core/check.h"
#include "../core/dtype.h"
#include "../core/parallel.h"
#include "indexing.h"

namespace lamina {

namespace {

Tensor flat_ids(const Tensor& indices, int64_t V, const Tensor& weight) {
    LAMINA_CHECK_TYPE(indices.dtype() == DType::Int64, "embedding: indices must be int64, got ",
                      dtype_name(indices.dtype()), " (shape ", indices.shape(), ")");
    LAMINA_CHECK_RUNTIME(indices.device().is_cpu(), "embedding: only implemented for CPU tensors");
    const Tensor flat = indices.contiguous().reshape({indices.numel()});
    const int64_t* p = flat.data<int64_t>();
    for (int64_t i = 0; i < flat.numel(); ++i)
        LAMINA_CHECK_INDEX(p[i] >= 0 && p[i] < V, "embedding: index ", p[i], " is out of range for ", V,
                           " embeddings (weight shape ", weight.shape(), ")");
    return flat;
}

Shape out_shape(const Tensor& indices, int64_t D) {
    Shape s = indices.shape();
    s.push_back(D);
    return s;
}

// Distinct ids in ascending order with how often each occurs.
std::vector<std::pair<int64_t, int64_t>> id_counts(const Tensor& flat) {
    const int64_t* p = flat.data<int64_t>();
    std::vector<int64_t> ids(p, p + flat.numel());
    std::sort(ids.begin(), ids.end());
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const int64_t id : ids) {
        if (!out.empty() && out.back().first == id) ++out.back().second;
        else out.emplace_back(id, 1);
    }
    return out;
}

// Rows per task so a parallel loop over rows of width D has kGrainElementwise elements per thread.
int64_t row_grain(int64_t D) { return std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(D, 1)); }

// torch.norm(row, p) of a strided row, accumulated in double: p = 0 counts non-zeros, +-inf take
// the largest / smallest magnitude.
template <class T>
double row_norm(const T* row, int64_t D, int64_t stride, double p) {
    if (D == 0) return p == -std::numeric_limits<double>::infinity() ? std::numeric_limits<double>::infinity() : 0.0;
    double acc = 0.0;
    if (std::isinf(p)) {
        acc = p > 0 ? 0.0 : std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < D; ++i) {
            const double a = std::abs(static_cast<double>(row[i * stride]));
            acc = p > 0 ? std::max(acc, a) : std::min(acc, a);
        }
        return acc;
    }
    if (p == 0.0) {
        for (int64_t i = 0; i < D; ++i) acc += row[i * stride] != T(0);
        return acc;
    }
    if (p == 1.0) {
        for (int64_t i = 0; i < D; ++i) acc += std::abs(static_cast<double>(row[i * stride]));
        return acc;
    }
    if (p == 2.0) {
        for (int64_t i = 0; i < D; ++i) {
            const double v = row[i * stride];
            acc += v * v;
        }
        return std::sqrt(acc);
    }
    for (int64_t i = 0; i < D; ++i) acc += std::pow(std::abs(static_cast<double>(row[i * stride])), p);
    return std::pow(acc, 1.0 / p);
}

}  // namespace

Tensor embedding_forward(const Tensor& weight, const Tensor& indices) {
    LAMINA_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, embedding_dim], got shape ",
                 weight.shape());
    const Tensor flat = flat_ids(indices, weight.size(0), weight);
    return index_forward(weight, 0, {flat}).view(out_shape(indices, weight.size(1)));
}

Tensor embedding_backward(const Tensor& dout, const Tensor& indices, int64_t num_weights, int64_t padding_idx,
                          bool scale_grad_by_freq) {
    const int64_t D = dout.dim() ? dout.size(-1) : 0;
    LAMINA_CHECK(dout.shape() == out_shape(indices, D), "embedding backward: gradient of shape ", dout.shape(),
                 " does not match indices of shape ", indices.shape());
    const Tensor flat = indices.contiguous().reshape({indices.numel()});
    Tensor g = index_backward(dout.reshape({flat.numel(), D}), {num_weights, D}, 0, {flat});
    dispatch_float(g.dtype(), "embedding", [&](auto tag) {
        using T = decltype(tag);
        T* gp = g.data<T>();  // fresh and contiguous
        if (scale_grad_by_freq) {
            // Every contribution to row id carries the same 1 / count, so scale the summed row once.
            const auto counts = id_counts(flat);
            parallel_for(0, static_cast<int64_t>(counts.size()), row_grain(D), [&](int64_t b, int64_t e) {
                for (int64_t k = b; k < e; ++k) {
                    if (counts[k].second == 1) continue;
                    const T inv = T(1) / static_cast<T>(counts[k].second);
                    T* row = gp + counts[k].first * D;
                    for (int64_t i = 0; i < D; ++i) row[i] *= inv;
                }
            });
        }
        if (padding_idx >= 0 && padding_idx < num_weights) {
            T* row = gp + padding_idx * D;
            for (int64_t i = 0; i < D; ++i) row[i] = T(0);
        }
    });
    return g;
}

Tensor embedding_renorm_(const Tensor& weight, const Tensor& indices, double max_norm, double norm_type) {
    weight.bump_version();
    LAMINA_CHECK(weight.dim() == 2, "embedding_renorm_: weight must be 2-D [num_embeddings, embedding_dim], got shape ",
                 weight.shape());
    LAMINA_CHECK_RUNTIME(weight.device().is_cpu(), "embedding_renorm_: only implemented for CPU tensors");
    LAMINA_CHECK(!std::isnan(max_norm) && max_norm >= 0, "embedding_renorm_: max_norm must be >= 0, got ", max_norm);
    const Tensor flat = flat_ids(indices, weight.size(0), weight);
    // Each distinct row once (repeated ids must not be shrunk twice); distinct rows never alias,
    // so threads can own disjoint slices of the sorted id list.
    const auto counts = id_counts(flat);
    const int64_t D = weight.size(1), s0 = weight.stride(0), s1 = weight.stride(1);
    dispatch_float(weight.dtype(), "embedding_renorm_", [&](auto tag) {
        using T = decltype(tag);
        T* w = weight.data<T>();
        parallel_for(0, static_cast<int64_t>(counts.size()), row_grain(D), [&](int64_t b, int64_t e) {
            for (int64_t k = b; k < e; ++k) {
                T* row = w + counts[k].first * s0;
                const double norm = row_norm(row, D, s1, norm_type);
                if (!(norm > max_norm)) continue;
                // torch multiplies by the scale cast to the row's dtype.
                const T scale = static_cast<T>(max_norm / (norm + 1e-7));
                for (int64_t i = 0; i < D; ++i) row[i * s1] *= scale;
            }
        });
    });
    return weight;
}

}  // namespace lamina
