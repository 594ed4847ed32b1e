// Pooling over NCHW planes, float32/float64: max (with int64 argmax indices h*W + w per plane, like
// PyTorch), average, adaptive average and adaptive max. 1-D pools are 2-D pools with H = 1.
//   x [N, C, H, W] or [C, H, W] (1-D: [N, C, L] or [C, L]) -> out [..., OH, OW] (same leading dims),
//   OH = floor_or_ceil((H + 2*ph - dh*(KH-1) - 1) / sh) + 1 (ceil_mode drops a window that would
//   start in the right padding).
#pragma once
#include <array>
#include <tuple>

#include "../core/tensor.h"

namespace lamina {

struct PoolParams {
    std::array<int64_t, 2> kernel{1, 1};
    std::array<int64_t, 2> stride{1, 1};
    std::array<int64_t, 2> padding{0, 0};
    std::array<int64_t, 2> dilation{1, 1};
    bool ceil_mode = false;
    bool count_include_pad = true;  // avg only
    int64_t divisor_override = 0;   // avg only; 0 means none
    int64_t dims = 2;               // 1: max_pool1d / avg_pool1d (index 1 of each pair is used)
};

// -> (out, indices int64)
std::tuple<Tensor, Tensor> max_pool2d_forward(const Tensor& x, const PoolParams& p);

// The common 2x2, stride 2, unpadded, undilated case when nobody asked for indices: values only
// (a vectorised kernel, ~5x faster than tracking indices), and a backward that finds each window's
// argmax again from x (same first-max / NaN rule). Windows do not overlap, so dx is written, not
// accumulated. x [N, C, H, W] (or [C, H, W]) -> out [N, C, H/2, W/2].
bool max_pool2d_is_2x2(const Tensor& x, const PoolParams& p);
Tensor max_pool2d_2x2_forward(const Tensor& x);
Tensor max_pool2d_2x2_backward(const Tensor& dout, const Tensor& x);
// Scatters dout to the argmax positions (shared by max_pool and adaptive_max_pool): -> dx like x.
// dims: number of spatial dims (1 for max_pool1d); indices are flat positions within one plane.
Tensor max_pool2d_backward(const Tensor& dout, const Tensor& indices, const Tensor& x, int64_t dims);

Tensor avg_pool2d_forward(const Tensor& x, const PoolParams& p);
Tensor avg_pool2d_backward(const Tensor& dout, const Tensor& x, const PoolParams& p);

// Output window o covers [floor(o*In/Out), ceil((o+1)*In/Out)) on each axis.
Tensor adaptive_avg_pool2d_forward(const Tensor& x, const std::array<int64_t, 2>& output_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& dout, const Tensor& x);
std::tuple<Tensor, Tensor> adaptive_max_pool2d_forward(const Tensor& x,
                                                        const std::array<int64_t, 2>& output_size);

}  // namespace lamina
