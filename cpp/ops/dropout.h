// Dropout with the seeded counter-based generator: element i (row-major order) is kept when
// uniform(seed, offset + i) >= p, and kept values are scaled by 1 / (1 - p). The backward
// regenerates the same mask from (seed, offset) instead of storing it.
#pragma once
#include <cstdint>
#include <tuple>

#include "../core/hostdev.h"
#include "../core/philox.h"
#include "../core/tensor.h"

namespace lamina {

// The mask, shared with CUDA: 1 if element i survives.
LAMINA_HD bool dropout_keep(uint64_t seed, uint64_t offset, uint64_t i, double p) {
    return philox_uniform(seed, offset, i) >= p;
}

// Returns (out, seed, offset); reserves x.numel() counters of the default generator.
std::tuple<Tensor, uint64_t, uint64_t> dropout_forward(const Tensor& x, double p);
// dx = dout * mask / (1 - p), with the mask of the forward that returned (seed, offset).
Tensor dropout_backward(const Tensor& dout, double p, uint64_t seed, uint64_t offset);
// The scaled mask itself (0 or 1 / (1 - p) in dtype), for tests and callers that keep it.
Tensor dropout_mask(const Shape& shape, DType dtype, double p, uint64_t seed, uint64_t offset);

}  // namespace lamina
