// conv_transpose2d (and conv_transpose1d with params.dims = 1), NCHW, float32/float64: the adjoint
// of conv2d with respect to its input, so it reuses conv2d's data-grad path as its forward.
//   x [N, C_in, H, W] (or [C_in, H, W]), w [C_in, C_out/groups, KH, KW], b [C_out] or none
//   -> out [N, C_out, OH, OW], OH = (H - 1)*sh - 2*ph + dh*(KH-1) + output_padding_h + 1.
#pragma once
#include "conv2d.h"

namespace lamina {

Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const OptTensor& b, const ConvParams& p);
// dout [N, C_out, OH, OW] -> dx [N, C_in, H, W] (= conv2d(dout, w)), dw [C_in, C_out/groups, KH, KW],
// db [C_out].
ConvGrads conv_transpose2d_backward(const Tensor& dout, const Tensor& x, const Tensor& w,
                                    const ConvParams& p, bool need_dx, bool need_dw, bool need_db);

}  // namespace lamina
