// Embedding on top of the indexing kernels: the forward copies whole rows (index_forward on dim 0),
// the backward index-adds rows (threads own column ranges, so repeated ids need no atomics).
#include "embedding.h"

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

}  // namespace

Tensor embedding_forward(const Tensor& weight, const Tensor& indices) {
    LAMINA_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, embedding_dim], got shape ",
                 weight.shape());
    const Tensor flat = flat_ids(indices, weight.size(0), weight);
    return index_forward(weight, 0, {flat}).view(out_shape(indices, weight.size(1)));
}

Tensor embedding_backward(const Tensor& dout, const Tensor& indices, int64_t num_weights, int64_t padding_idx) {
    const int64_t D = dout.dim() ? dout.size(-1) : 0;
    LAMINA_CHECK(dout.shape() == out_shape(indices, D), "embedding backward: gradient of shape ", dout.shape(),
                 " does not match indices of shape ", indices.shape());
    const Tensor flat = indices.contiguous().reshape({indices.numel()});
    Tensor g = index_backward(dout.reshape({flat.numel(), D}), {num_weights, D}, 0, {flat});
    if (padding_idx >= 0 && padding_idx < num_weights) {
        dispatch_float(g.dtype(), "embedding", [&](auto tag) {
            using T = decltype(tag);
            T* row = g.data<T>() + padding_idx * D;
            for (int64_t i = 0; i < D; ++i) row[i] = T(0);
        });
    }
    return g;
}

}  // namespace lamina
