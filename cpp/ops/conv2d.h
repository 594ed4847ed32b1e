// conv2d (and conv1d as conv2d with H = 1), NCHW, float32/float64, through im2col + GEMM.
//   x [N, C, H, W] (or unbatched [C, H, W]), w [OC, C/groups, KH, KW], b [OC] or none
//   -> out [N, OC, OH, OW], OH = floor((H + 2*ph - dh*(KH-1) - 1) / sh) + 1 (same for W).
// conv1d: x [N, C, L] (or [C, L]), w [OC, C/groups, K]; params.dims = 1 and index 1 of each pair.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <tuple>

#include "../core/tensor.h"
#include "im2col.h"

namespace lamina {

struct ConvParams {
    std::array<int64_t, 2> stride{1, 1};
    std::array<int64_t, 2> padding{0, 0};
    std::array<int64_t, 2> dilation{1, 1};
    std::array<int64_t, 2> output_padding{0, 0};  // conv_transpose only
    int64_t groups = 1;
    int64_t dims = 2;  // 1: conv1d / conv_transpose1d (the H axis is a unit axis), 2: 2-D
};

using OptTensor = std::optional<Tensor>;
using ConvGrads = std::tuple<OptTensor, OptTensor, OptTensor>;  // dx, dw, db (None if not asked)

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const OptTensor& b, const ConvParams& p);
// dout [N, OC, OH, OW] -> dx [N, C, H, W], dw [OC, C/groups, KH, KW], db [OC].
ConvGrads conv2d_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const ConvParams& p,
                          bool need_dx, bool need_dw, bool need_db);

namespace detail {

// Everything one convolution call needs, after argument checks: batch, geometry of one image of
// the *convolution's* input, output channels and groups, and the 4-D shapes used internally.
struct ConvPlan {
    int64_t N = 0, OC = 0, groups = 1;
    ConvGeometry g;
    Shape x4, w4, out4;  // 4-D views: conv input, weight, conv output
    Shape out_shape;     // output shape as the user sees it (unbatched / 1-D dropped)
};

// Checks arguments of conv{1,2}d (transposed = false) or conv_transpose{1,2}d and builds the plan.
// For the transposed op the geometry is that of the matching forward convolution: its "input" is
// the transposed op's output and its "output" is the transposed op's input.
ConvPlan plan_conv(const char* op, const Tensor& x, const Tensor& w, const OptTensor& b,
                   const ConvParams& p, bool transposed);

// The three building blocks on contiguous 4-D tensors (shapes as in the plan):
// out = conv(x, w) + b;  dx = conv^T(dy, w);  dw = sum_n dy_n (x) cols(x_n)^T;  db = sum dy.
Tensor conv_forward_cpu(const Tensor& x, const Tensor& w, const OptTensor& b, const ConvPlan& pl);
Tensor conv_data_grad_cpu(const Tensor& dy, const Tensor& w, const ConvPlan& pl);
// db (null: not asked) receives the bias grad [OC], computed with the weight grad (dy [N, OC, ...]).
Tensor conv_weight_grad_cpu(const Tensor& dy, const Tensor& x, const ConvPlan& pl, OptTensor* db = nullptr);
Tensor conv_bias_grad_cpu(const Tensor& dy);  // dy [N, C, L...] -> [C]

}  // namespace detail

}  // namespace lamina
