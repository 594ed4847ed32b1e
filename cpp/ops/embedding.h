// Embedding lookup: rows of a weight table picked by integer ids, the gradient that adds each
// output row back into the row it came from, and max_norm's in-place renormalisation of rows.
// Shapes: weight [V, D], indices [...] -> [..., D].
#pragma once
#include "../core/tensor.h"

namespace lamina {

Tensor embedding_forward(const Tensor& weight, const Tensor& indices);
// dweight [V, D]: dout rows index-added into their rows; row padding_idx (if >= 0) stays zero. With
// scale_grad_by_freq each row's gradient is divided by how often its id occurs in indices.
Tensor embedding_backward(const Tensor& dout, const Tensor& indices, int64_t num_weights, int64_t padding_idx,
                          bool scale_grad_by_freq = false);
// In place, outside autograd (torch.embedding_renorm_): each distinct row of weight [V, D] named in
// indices whose norm_type-norm exceeds max_norm is scaled by max_norm / (norm + 1e-7). Returns weight.
Tensor embedding_renorm_(const Tensor& weight, const Tensor& indices, double max_norm, double norm_type);

}  // namespace lamina
