// Channels-blocked direct conv2d forward, float32, one group: output channels in vector lanes,
// each tap's input broadcast straight from the NCHW image (no im2col, no shifted copies).
// conv2d.cpp uses it where cblocked_wins() says so (measured rows only); float64, groups > 1 and
// the data grad keep conv2d_direct.cpp / im2col + GEMM.
#pragma once
#include <cstdint>

#include "im2col.h"

namespace lamina {

// x [N, C, H, W], w [OC, C, KH, KW], b [OC] or null -> out [N, OC, OH, OW], all contiguous.
// out[n, oc, oh, ow] = b[oc] + sum over (c, kh, kw) of w[oc, c, kh, kw] * x[n, c, ih, iw], summed
// by chunks of 16 input channels, each in the order (kh, c, kw), whatever the thread count.
void conv_forward_cblocked(const float* x, const float* w, const float* b, float* out, int64_t N, int64_t OC,
                           const ConvGeometry& g);

// Whether this ISA level's channels-blocked kernel is measured faster than the path conv2d.cpp
// would take for this float32 forward (`direct`: the cost rule's choice of conv2d_direct.cpp over
// im2col + GEMM); see the rule and its numbers in the .cpp. LAMINA_CONV2D_CBLOCKED=1 / 0 in the
// environment overrides it (every one-group forward / none), for tests and in-process A/B timing.
bool cblocked_wins(int64_t OC, int64_t groups, const ConvGeometry& g, bool direct);

}  // namespace lamina
