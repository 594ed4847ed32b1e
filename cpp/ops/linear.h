// Fused linear layer: y = x @ W^T + b in one GEMM (bias pre-filled, beta = 1), and its backward.
// Shapes: x [..., IN], weight [OUT, IN], bias [OUT] (optional) -> y [..., OUT].
#pragma once
#include <optional>
#include <tuple>

#include "../core/tensor.h"

namespace lamina {

Tensor linear_forward(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias);

// dx = dy @ W [..., IN], dW = dy^T @ x [OUT, IN], db = sum of dy over rows [OUT]. Gradients not
// asked for come back undefined.
std::tuple<Tensor, Tensor, Tensor> linear_backward(const Tensor& dout, const Tensor& x, const Tensor& weight,
                                                   bool need_x, bool need_w, bool need_b);

}  // namespace lamina
