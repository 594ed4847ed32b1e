// CPU im2col / col2im. Each column-matrix row is one (channel, kh, kw) tap: for every output row
// we find the valid output columns once, copy them (a memcpy at stride 1) and zero the borders.
#include "im2col.h"

#include <algorithm>
#include <cstring>

#include "../core/parallel.h"

namespace lamina {

namespace {

// Channels per thread so that each thread moves at least kGrainElementwise elements.
int64_t channel_grain(const ConvGeometry& g) {
    const int64_t per_channel = std::max<int64_t>(1, g.KH * g.KW * g.OH * g.OW);
    return std::max<int64_t>(1, kGrainElementwise / per_channel);
}

}  // namespace

template <class T>
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void im2col_rows(const T* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, T* cols, int64_t ld) {
    const int64_t L = (oh1 - oh0) * g.OW;
    if (ld < 0) ld = L;
    parallel_for_fine(0, g.C, std::max<int64_t>(1, channel_grain(g) * g.OH / std::max<int64_t>(1, oh1 - oh0)),
                      [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            const T* xc = x + c * g.H * g.W;
            for (int64_t kh = 0; kh < g.KH; ++kh) {
                int64_t oh_lo, oh_hi;
                conv_valid_range(kh, g.H, g.OH, g.sh, g.ph, g.dh, oh_lo, oh_hi);
                oh_lo = std::min(std::max(oh_lo, oh0), oh1);
                oh_hi = std::max(std::min(oh_hi, oh1), oh_lo);
                for (int64_t kw = 0; kw < g.KW; ++kw) {
                    int64_t ow_lo, ow_hi;
                    conv_valid_range(kw, g.W, g.OW, g.sw, g.pw, g.dw, ow_lo, ow_hi);
                    T* row = cols + ((c * g.KH + kh) * g.KW + kw) * ld;
                    std::fill(row, row + (oh_lo - oh0) * g.OW, T(0));
                    for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
                        T* dst = row + (oh - oh0) * g.OW;
                        const int64_t ih = conv_in_coord(oh, kh, g.sh, g.ph, g.dh);
                        const T* src = xc + ih * g.W + conv_in_coord(ow_lo, kw, g.sw, g.pw, g.dw);
                        // Plain loops, not memcpy/fill: rows are short (8-32 elements in small
                        // layers), where a library call costs more than the copy (see the
                        // optimize attribute above, which stops GCC turning them back into calls).
                        for (int64_t i = 0; i < ow_lo; ++i) dst[i] = T(0);
                        const int64_t n = ow_hi - ow_lo;
                        T* d = dst + ow_lo;
                        if (g.sw == 1) {
                            for (int64_t i = 0; i < n; ++i) d[i] = src[i];
                        } else {
                            for (int64_t i = 0; i < n; ++i) d[i] = src[i * g.sw];
                        }
                        for (int64_t i = ow_hi; i < g.OW; ++i) dst[i] = T(0);
                    }
                    std::fill(row + (oh_hi - oh0) * g.OW, row + L, T(0));
                }
            }
        }
    });
}

template <class T>
void im2col(const T* x, const ConvGeometry& g, T* cols, int64_t ld) {
    im2col_rows(x, g, 0, g.OH, cols, ld);
}

template <class T>
void col2im(const T* cols, const ConvGeometry& g, T* dx, int64_t ld) {
    if (ld < 0) ld = g.OH * g.OW;
    // Each channel's taps write only into that channel, so channels split across threads safely.
    parallel_for_fine(0, g.C, channel_grain(g), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            T* dxc = dx + c * g.H * g.W;
            std::fill(dxc, dxc + g.H * g.W, T(0));
            for (int64_t kh = 0; kh < g.KH; ++kh) {
                int64_t oh_lo, oh_hi;
                conv_valid_range(kh, g.H, g.OH, g.sh, g.ph, g.dh, oh_lo, oh_hi);
                for (int64_t kw = 0; kw < g.KW; ++kw) {
                    int64_t ow_lo, ow_hi;
                    conv_valid_range(kw, g.W, g.OW, g.sw, g.pw, g.dw, ow_lo, ow_hi);
                    const T* row = cols + ((c * g.KH + kh) * g.KW + kw) * ld;
                    const int64_t n = ow_hi - ow_lo;
                    for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
                        const int64_t ih = conv_in_coord(oh, kh, g.sh, g.ph, g.dh);
                        T* dst = dxc + ih * g.W + conv_in_coord(ow_lo, kw, g.sw, g.pw, g.dw);
                        const T* src = row + oh * g.OW + ow_lo;
                        if (g.sw == 1) {
                            for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
                        } else {
                            for (int64_t i = 0; i < n; ++i) dst[i * g.sw] += src[i];
                        }
                    }
                }
            }
        }
    });
}

template void im2col<float>(const float*, const ConvGeometry&, float*, int64_t);
template void im2col_rows<float>(const float*, const ConvGeometry&, int64_t, int64_t, float*, int64_t);
template void im2col_rows<double>(const double*, const ConvGeometry&, int64_t, int64_t, double*, int64_t);
template void im2col<double>(const double*, const ConvGeometry&, double*, int64_t);
template void col2im<float>(const float*, const ConvGeometry&, float*, int64_t);
template void col2im<double>(const double*, const ConvGeometry&, double*, int64_t);

}  // namespace lamina
