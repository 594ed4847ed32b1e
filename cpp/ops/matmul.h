// matmul with NumPy/PyTorch semantics: 1-D x 1-D dot, 2-D GEMM, and batched GEMM with broadcast
// batch dimensions. Shapes: a [..., M, K] @ b [..., K, N] -> [..., M, N] (1-D operands are
// promoted by a unit dimension that is removed again from the result).
#pragma once
#include <utility>

#include "../core/tensor.h"

namespace lamina {

Tensor matmul_forward(const Tensor& a, const Tensor& b);

// Gradients of matmul_forward: da = dout @ b^T (shape of a), db = a^T @ dout (shape of b), each
// summed over the batch dimensions its operand was broadcast along. A gradient not asked for
// (need_a / need_b false) comes back undefined.
std::pair<Tensor, Tensor> matmul_backward(const Tensor& dout, const Tensor& a, const Tensor& b,
                                          bool need_a, bool need_b);

// 2-D only, the core of every linear layer: out[M,N] = op(a) @ op(b) (+ beta * out). Operands may
// be transposed views; they are handed to BLAS with a transpose flag instead of being copied.
void gemm_into(Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta);

// out = alpha * a @ b + row_add in every row (CPU; row_add contiguous [N] of out's dtype): gemm's
// row_add (core/blas.h), a linear layer's bias without a pass that fills out first.
void gemm_into_row_add(Tensor& out, const Tensor& a, const Tensor& b, double alpha, const Tensor& row_add);

}  // namespace lamina
