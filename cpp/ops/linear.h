// Fused linear layer: y = x @ W^T + b in one GEMM (the bias as its row_add), and its backward.
// Shapes: x [..., IN], weight [OUT, IN], bias [OUT] (optional) -> y [..., OUT].
#pragma once
#include <optional>
#include <tuple>

#include "../core/tensor.h"

namespace lamina {

Tensor linear_forward(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias);

// dx = dy @ W [..., IN], dW = dy^T @ x [OUT, IN], db = sum of dy over rows [OUT]. Gradients not
// asked for come back undefined.
// dw_out / db_out: where dW / db go instead of new memory (contiguous, the weight's shape and
// dtype; returned as dW / db). dw_scale / db_scale: dW and db come out multiplied by them (the
// GEMM's alpha; one multiply after the row sum for db). DistributedDataParallel offers its
// shared-memory window with scale 1 / world size: a pass that would copy and scale the gradient
// into it is saved.
std::tuple<Tensor, Tensor, Tensor> linear_backward(const Tensor& dout, const Tensor& x, const Tensor& weight,
                                                   bool need_x, bool need_w, bool need_b,
                                                   const std::optional<Tensor>& dw_out = std::nullopt,
                                                   const std::optional<Tensor>& db_out = std::nullopt,
                                                   double dw_scale = 1.0, double db_scale = 1.0);

}  // namespace lamina
