// Direct (no im2col) forward convolution, NCHW, float32/float64, any stride, padding, dilation
// and groups: out[n, oc, oh, ow] = b[oc] + sum over (c, kh, kw) of
// w[oc, c, kh, kw] * x[n, c, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw].
// conv2d.cpp decides when it is used (conv_use_direct, from direct_cost below); backward stays
// im2col + GEMM.
#pragma once
#include <cstdint>

#include "im2col.h"

namespace lamina {

// x [N, C, H, W] contiguous, w [OC, C/groups, KH, KW] contiguous, b [OC] or null,
// out [N, OC, OH, OW].
template <class T>
void conv_forward_direct(const T* x, const T* w, const T* b, T* out, int64_t N, int64_t OC,
                         int64_t groups, const ConvGeometry& g);

// The direct kernel's estimated time for one image, in cycles of this ISA level's vector FMA
// (the cheaper of its two input layouts and its register blocks; see conv2d_direct.cpp), and the
// same estimate for im2col + GEMM, so conv2d.cpp can pick per shape (forward and data grad).
double direct_cost(int64_t OC, int64_t groups, const ConvGeometry& g, int64_t elem_size);
// data_grad: the data grad's GEMM (W^T dY: M = C*KH*KW / groups, K = OC / groups) and col2im.
double im2col_gemm_cost(int64_t OC, int64_t groups, const ConvGeometry& g, int64_t elem_size,
                        bool data_grad = false);

}  // namespace lamina
