// Binary elementwise ops with NumPy broadcasting. Shapes: a [...], b [...] -> broadcast(a, b).
#pragma once
#include "../core/tensor.h"

namespace lamina {

// out = a + alpha * b
Tensor add_forward(const Tensor& a, const Tensor& b, double alpha);

}  // namespace lamina
