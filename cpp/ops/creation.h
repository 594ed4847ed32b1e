// Filling tensors: constants, ranges and the seeded random distributions.
#pragma once
#include "../core/tensor.h"

namespace lamina {

void fill_(Tensor& t, double value);
Tensor arange(double start, double end, double step, DType dtype, Device device);
// In place, from the default generator (lamina.manual_seed).
void uniform_(Tensor& t, double low, double high);
void normal_(Tensor& t, double mean, double std);
// Integers in [low, high).
void randint_(Tensor& t, int64_t low, int64_t high);
// Bernoulli(p) as 0/1 in t's dtype.
void bernoulli_(Tensor& t, double p);

}  // namespace lamina
