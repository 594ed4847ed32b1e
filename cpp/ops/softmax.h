// softmax and log_softmax over one dimension, and their backwards from the saved output.
// Shapes: x [...] -> y [...] (same shape); dy, y [...] -> dx [...].
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "../core/fastmath.h"
#include "../core/tensor.h"

namespace lamina {

// Stable: the line maximum is subtracted before exp; sums are compensated (Kahan) or in double.
Tensor softmax_forward(const Tensor& x, int64_t dim, bool log);
// softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - exp(y) * sum(dy).
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim, bool log);

}  // namespace lamina
