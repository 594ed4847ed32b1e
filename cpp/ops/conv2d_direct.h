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
// The shifted input layout of one image [C, H, W] (any stride, padding, dilation):
// xs[kw][c][s][r][ow] = xpad[c][r*sh + s][ow*sw + kw*dw], r < Hs = shifted_rows(g), so tap
// (c, kh, kw) of output position p = oh*OW + ow reads xs[p + ((kw*C + c)*sh + (kh*dh) % sh)*Hs*OW
// + ((kh*dh) / sh)*OW]: one contiguous run per tap. xp holds shifted_size(g) elements.
inline int64_t shifted_rows(const ConvGeometry& g) { return g.OH + ((g.KH - 1) * g.dh) / g.sh; }
inline int64_t shifted_size(const ConvGeometry& g) { return g.KW * g.C * g.sh * shifted_rows(g) * g.OW; }
template <class T>
void fill_shifted(const T* xn, T* xp, const ConvGeometry& g, int64_t Hs, int64_t plane = -1);

// Weight grad without a column matrix (conv2d_weight_grad.cpp): dy [N, OC, OH, OW], x [N, C, H, W]
// contiguous -> dw [OC, C/groups, KH, KW]. weight_grad_direct_fits: whether its per-image working
// set (shifted layout + dy) is small enough for it (otherwise im2col + GEMM, banded).
// db: the bias grad [OC] as well (null: not asked).
template <class T>
void conv_weight_grad_direct(const T* dy, const T* x, T* dw, int64_t N, int64_t OC, int64_t groups,
                             const ConvGeometry& g, T* db = nullptr);
bool weight_grad_direct_fits(int64_t OC, const ConvGeometry& g, int64_t elem_size);

double direct_cost(int64_t OC, int64_t groups, const ConvGeometry& g, int64_t elem_size);
// data_grad: the data grad's GEMM (W^T dY: M = C*KH*KW / groups, K = OC / groups) and col2im.
double im2col_gemm_cost(int64_t OC, int64_t groups, const ConvGeometry& g, int64_t elem_size,
                        bool data_grad = false);

}  // namespace lamina
