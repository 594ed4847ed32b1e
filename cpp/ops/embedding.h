// Embedding lookup: rows of a weight table picked by integer ids, and the gradient that adds each
// output row back into the row it came from. Shapes: weight [V, D], indices [...] -> [..., D].
#pragma once
#include "../core/tensor.h"

namespace lamina {

Tensor embedding_forward(const Tensor& weight, const Tensor& indices);
// dweight [V, D]: dout rows index-added into their rows; row padding_idx (if >= 0) stays zero.
Tensor embedding_backward(const Tensor& dout, const Tensor& indices, int64_t num_weights, int64_t padding_idx);

}  // namespace lamina
