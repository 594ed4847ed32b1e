// im2col / col2im for NCHW convolution: one image [C, H, W] <-> columns [C*KH*KW, OH*OW], plus the
// window index math (LAMINA_HD) that the CPU loops, the pooling kernels and CUDA all share, so every
// path agrees on which input pixel an output position reads.
#pragma once
#include <cstdint>

#include "../core/hostdev.h"

namespace lamina {

// Floor / ceil division for any sign of a and b > 0 (C++ '/' truncates toward zero).
LAMINA_HD int64_t floor_div(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (q * b > a) ? q - 1 : q;
}
LAMINA_HD int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// floor((in + 2p - d*(k-1) - 1) / s) + 1: the output size of a convolution along one axis.
LAMINA_HD int64_t conv_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
    return floor_div(in + 2 * p - d * (k - 1) - 1, s) + 1;
}

// (in - 1)*s - 2p + d*(k-1) + output_padding + 1: the output size of a transposed convolution.
LAMINA_HD int64_t conv_transpose_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d,
                                          int64_t op) {
    return (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

// Input coordinate that output position o reads through kernel tap k.
LAMINA_HD int64_t conv_in_coord(int64_t o, int64_t k, int64_t s, int64_t p, int64_t d) {
    return o * s - p + k * d;
}

// Output positions [lo, hi) of [0, out) whose tap k lands inside the input [0, in). Outside that
// range the tap reads padding; computing the range once per row keeps the inner loop branch-free.
LAMINA_HD void conv_valid_range(int64_t k, int64_t in, int64_t out, int64_t s, int64_t p, int64_t d,
                                int64_t& lo, int64_t& hi) {
    const int64_t off = k * d - p;  // input coordinate = o * s + off
    lo = ceil_div(-off, s);
    if (lo < 0) lo = 0;
    hi = floor_div(in - 1 - off, s) + 1;
    if (hi > out) hi = out;
    if (hi < lo) hi = lo;
}

// Kernel taps [lo, hi) of [0, k) that output position o reads inside the input [0, in)
// (the pooling view of the same geometry).
LAMINA_HD void window_tap_range(int64_t o, int64_t k, int64_t in, int64_t s, int64_t p, int64_t d,
                                int64_t& lo, int64_t& hi) {
    const int64_t start = o * s - p;  // coordinate of tap 0
    lo = ceil_div(-start, d);
    if (lo < 0) lo = 0;
    hi = floor_div(in - 1 - start, d) + 1;
    if (hi > k) hi = k;
    if (hi < lo) hi = lo;
}

// One convolution's geometry: the input image (C, H, W), kernel, output and per-axis parameters.
struct ConvGeometry {
    int64_t C = 0, H = 0, W = 0;
    int64_t KH = 1, KW = 1;
    int64_t OH = 0, OW = 0;
    int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;

    int64_t col_rows() const { return C * KH * KW; }
    int64_t col_cols() const { return OH * OW; }
    // 1x1, stride 1, no padding: the image already is its column matrix [C, H*W].
    bool is_pointwise() const { return KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// cols[(c*KH + kh)*KW + kw, oh*OW + ow] = x[c, ih, iw] (0 in the padding). Parallel over channels
// when called outside a parallel region.
// `ld` is the row stride of cols (default OH*OW); a larger one lets several images share one
// column matrix side by side (conv2d batches small images into one GEMM that way).
template <class T>
void im2col(const T* x, const ConvGeometry& g, T* cols, int64_t ld = -1);

// Output rows [oh0, oh1) only: cols[(c*KH + kh)*KW + kw, (oh - oh0)*OW + ow] (ld default
// (oh1 - oh0)*OW), so a band of a large image's column matrix can stay in cache.
template <class T>
void im2col_rows(const T* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, T* cols, int64_t ld = -1);

// The adjoint: dx[c, ih, iw] = sum of the column entries that read it. dx is overwritten.
template <class T>
void col2im(const T* cols, const ConvGeometry& g, T* dx, int64_t ld = -1);

}  // namespace lamina
