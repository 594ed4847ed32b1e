// copy_(dst, src): the one routine that moves elements between tensors — broadcasting src to
// dst's shape, converting dtype, and crossing devices. contiguous/clone/to are built on it.
#pragma once
#include "../core/tensor.h"

namespace lamina {

void copy_(Tensor& dst, const Tensor& src);

}  // namespace lamina
