// Winograd F(2x2, 3x3) conv2d forward (float32, one group, 3x3, stride 1, dilation 1, any padding):
// 16 GEMMs of transformed weights x transformed input tiles instead of 9 taps per output, 2.25x
// fewer multiply-adds (Lavin & Gray 2015). conv2d.cpp takes it where winograd_wins() says so.
#pragma once
#include <cstdint>

#include "im2col.h"

namespace lamina {

// x [N, C, H, W], w [OC, C, 3, 3], b [OC] or null -> out [N, OC, OH, OW], all contiguous; g must
// satisfy winograd_applies(). The tile chunks do not depend on the thread count, and each chunk's
// GEMMs are bit-deterministic (gemm_f32), so neither do the results.
void conv_forward_winograd(const float* x, const float* w, const float* b, float* out, int64_t N, int64_t OC,
                           const ConvGeometry& g);

// dw [OC, C, 3, 3] of the same layer from dy [N, OC, OH, OW] and x [N, C, H, W] (contiguous), as the
// adjoint of the forward's transforms; bits independent of the thread count as above.
void conv_weight_grad_winograd(const float* dy, const float* x, float* dw, int64_t N, int64_t OC,
                               const ConvGeometry& g);

// Whether conv_forward_winograd can compute this forward (3x3, stride 1, dilation 1, one group).
bool winograd_applies(int64_t groups, const ConvGeometry& g);

// Whether it is measured faster than the path conv2d.cpp would otherwise take (see the rule and its
// numbers in the .cpp). LAMINA_CONV2D_WINOGRAD=1 / 0 in the environment overrides it (every
// float32 forward it applies to / none), for tests and in-process A/B timing.
bool winograd_wins(int64_t N, int64_t OC, int64_t groups, const ConvGeometry& g);

// The same for the weight grad of that layer (conv_weight_grad_winograd; its own measured rule).
bool winograd_weight_grad_wins(int64_t OC, int64_t groups, const ConvGeometry& g);

// LAMINA_CONV2D_WINOGRAD: 1 forced on, 0 forced off, -1 unset (the rules decide).
int winograd_override();

}  // namespace lamina
