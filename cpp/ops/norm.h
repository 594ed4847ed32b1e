// Normalisation layers. batch_norm: x [N, C, *] normalised per channel C over N and *; layer_norm:
// x [..., *normalized_shape] normalised over the trailing dims. Both with optional affine
// weight / bias of the normalised shape ([C] or normalized_shape).
#pragma once
#include <optional>
#include <tuple>

#include "../core/tensor.h"

namespace lamina {

// Returns (out, save_mean [C], save_invstd [C]). Training: batch statistics, and running_mean /
// running_var (if given) are updated in place with momentum, running_var from the unbiased
// variance. Eval: the running statistics are used.
std::tuple<Tensor, Tensor, Tensor> batch_norm_forward(const Tensor& x, const std::optional<Tensor>& running_mean,
                                                      const std::optional<Tensor>& running_var,
                                                      const std::optional<Tensor>& weight,
                                                      const std::optional<Tensor>& bias, bool training,
                                                      double momentum, double eps);
// (dx, dweight [C], dbias [C]); in training the statistics depend on x and contribute to dx.
std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& dout, const Tensor& x,
                                                       const std::optional<Tensor>& weight, const Tensor& save_mean,
                                                       const Tensor& save_invstd, bool training, bool need_x,
                                                       bool need_w, bool need_b);

// Returns (out, mean [R], rstd [R]) with R = x.numel() / prod(normalized_shape).
std::tuple<Tensor, Tensor, Tensor> layer_norm_forward(const Tensor& x, const Shape& normalized_shape,
                                                      const std::optional<Tensor>& weight,
                                                      const std::optional<Tensor>& bias, double eps);
// (dx, dweight, dbias), the last two of normalized_shape.
std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& dout, const Tensor& x,
                                                       const Shape& normalized_shape,
                                                       const std::optional<Tensor>& weight, const Tensor& mean,
                                                       const Tensor& rstd, bool need_x, bool need_w, bool need_b);

}  // namespace lamina
