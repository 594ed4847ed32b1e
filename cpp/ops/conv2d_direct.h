// Direct (no im2col) forward convolution for stride-1 convolutions, NCHW, float32/float64:
// out[n, oc] = b[oc] + sum over (c, kh, kw) of w[oc, c, kh, kw] * x[n, c, oh + kh*dh - ph, ...].
// conv2d.cpp decides when it is used (conv_use_direct); backward stays im2col + GEMM.
#pragma once
#include <cstdint>

#include "im2col.h"

namespace lamina {

// x [N, C, H, W] contiguous, w [OC, C/groups, KH, KW] contiguous, b [OC] or null,
// out [N, OC, OH, OW]; g.sh == g.sw == 1 is required.
template <class T>
void conv_forward_direct(const T* x, const T* w, const T* b, T* out, int64_t N, int64_t OC,
                         int64_t groups, const ConvGeometry& g);

}  // namespace lamina
