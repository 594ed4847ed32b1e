// Reductions over any set of dimensions (sum, mean, prod, max/min with indices, amax/amin, argmax,
// var/std, logsumexp, any/all) and their backwards. Shapes: x [...] -> out with the reduced dims
// removed (kept as size 1 when keepdim). `dims` empty means every dimension.
#pragma once
#include <vector>

#include "../core/tensor.h"

namespace lamina {

// A reduction seen as x[outer, R, inner] over a contiguous buffer: the reduced dims form the
// middle block R. When they are not adjacent, x is permuted (kept dims first) and copied, and
// `perm` records that permutation so per-element results can be mapped back.
struct ReducePlan {
    Tensor x;                   // contiguous, in plan layout
    int64_t outer = 1, R = 1, inner = 1;
    Shape out_shape;            // kept dims only
    Shape keep_shape;           // input shape with reduced dims set to 1
    std::vector<bool> reduced;  // per input dim
    std::vector<int64_t> perm;  // empty unless x was permuted
};
ReducePlan plan_reduce(const Tensor& x, const std::vector<int64_t>& dims, const char* op);

// sum: float -> same dtype, int64/bool -> int64. mean: floating only.
Tensor sum_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor mean_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
// dx [x_shape] = broadcast(dout) * scale (sum: 1, mean: 1/R). dout has the forward's out shape.
Tensor sum_backward(const Tensor& dout, const Shape& x_shape, const std::vector<int64_t>& dims,
                    double scale);
// Sums t over its broadcast dims back to `shape` (the autograd engine's gradient reduction).
Tensor sum_to(const Tensor& t, const Shape& shape);

Tensor prod_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor prod_backward(const Tensor& dout, const Tensor& x, const std::vector<int64_t>& dims);

// values, indices (int64) over one dim; ties pick the first index; NaN wins.
std::vector<Tensor> max_dim_forward(const Tensor& x, int64_t dim, bool keepdim, bool is_max);
// dx [x_shape]: dout scattered to the chosen indices.
Tensor max_dim_backward(const Tensor& dout, const Tensor& indices, const Shape& x_shape, int64_t dim);
Tensor amax_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max);
// The gradient is shared evenly among tied extrema (as torch does for amax and full max).
Tensor amax_backward(const Tensor& dout, const Tensor& x, const Tensor& out,
                     const std::vector<int64_t>& dims);
// dims empty: index into the flattened tensor.
Tensor argmax_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max);

// {out, mean}: var (or std when take_sqrt) with divisor max(0, R - correction); mean in keep shape.
std::vector<Tensor> var_forward(const Tensor& x, const std::vector<int64_t>& dims, double correction,
                                bool keepdim, bool take_sqrt);
Tensor var_backward(const Tensor& dout, const Tensor& x, const Tensor& mean, const Tensor& out,
                    const std::vector<int64_t>& dims, double correction, bool take_sqrt);

Tensor logsumexp_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor logsumexp_backward(const Tensor& dout, const Tensor& x, const Tensor& out,
                          const std::vector<int64_t>& dims);

// bool output: any (or all) element nonzero along dims.
Tensor any_forward(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_all);

}  // namespace lamina
