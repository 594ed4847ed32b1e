// conv2d / conv1d on the CPU: the forward (the direct kernel of conv2d_direct.cpp, or per chunk of
// images im2col and one GEMM per group with the bias pre-filled) and the data grad (the direct
// kernel or the channels-blocked one on flipped weights, or col2im(W^T dY)), which
// conv_transpose2d.cpp reuses with the roles swapped. Argument checks: conv2d_plan.cpp;
// weight and bias grads: conv2d_weight_grad.cpp.
#include "conv2d.h"

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "../core/allocator.h"
#include "../core/blas.h"
#include "../core/check.h"
#include "../core/parallel.h"
#include "conv2d_chunks.h"
#include "conv2d_cblocked.h"
#include "conv2d_direct.h"
#include "conv2d_winograd.h"

namespace lamina {

using namespace conv_chunks;

namespace detail {

// The one place the forward picks its algorithm: the direct kernel (conv2d_direct.cpp) or
// im2col + GEMM, whichever the cost estimates of conv2d_direct.cpp (fitted to the bench rows,
// every layout and register block forced in turn) call cheaper for this shape. Measured at
// 1 thread (2026-11-30, this Xeon, CPU clock, ms direct vs im2col + GEMM): every conv2d bench
// row goes direct at both levels (AVX-512 f, stride 2: 6.9-8.8 vs 9.1-9.9; e 11.5-13 vs 26.7;
// AVX2 with OpenBLAS's Haswell kernel, as on an AVX2-only CPU: f 10.6-12 vs 12.2). Large strided
// layers whose shifted input outgrows the L2 go to im2col + GEMM at both levels
// (test_conv2d_im2col_forward).
bool conv_use_direct(const ConvPlan& pl, int64_t elem_size) {
    return direct_cost(pl.OC, pl.groups, pl.g, elem_size) <=
           im2col_gemm_cost(pl.OC, pl.groups, pl.g, elem_size);
}

// ---- forward: out[OC, m*L] = W[OC, Kg] x cols[Kg, m*L] (+ b) per chunk of m images, one GEMM
// per group. A chunk of one image writes straight into the output (bias pre-filled, beta = 1).
Tensor conv_forward_cpu(const Tensor& x, const Tensor& w, const OptTensor& b, const ConvPlan& pl) {
    Tensor out = Tensor::empty(pl.out4, x.dtype(), x.device());
    // float32 3x3 stride-1 layers with enough channels: Winograd F(2x2, 3x3) (conv2d_winograd.cpp)
    if (x.dtype() == DType::Float32 && winograd_wins(pl.N, pl.OC, pl.groups, pl.g)) {
        conv_forward_winograd(x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, out.data<float>(),
                              pl.N, pl.OC, pl.g);
        return out;
    }
    const bool use_direct = conv_use_direct(pl, static_cast<int64_t>(x.element_size()));
    // float32 strided / small-OC layers: the channels-blocked kernel (conv2d_cblocked.cpp)
    if (x.dtype() == DType::Float32 && cblocked_wins(pl.OC, pl.groups, pl.g, use_direct)) {
        conv_forward_cblocked(x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, out.data<float>(),
                              pl.N, pl.OC, pl.g);
        return out;
    }
    if (use_direct) {
        dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
            using T = decltype(tag);
            conv_forward_direct<T>(x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, out.data<T>(), pl.N,
                                   pl.OC, pl.groups, pl.g);
        });
        return out;
    }
    dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
        using T = decltype(tag);
        const ConvGeometry& g = pl.g;
        const ChunkLayout c = chunk_layout(pl, sizeof(T));
        const int64_t G = pl.groups, L = c.L, OCg = c.OCg, Kg = c.Kg, nb = c.nb, R = c.R, CHW = c.CHW;
        const bool direct = c.direct;
        const int64_t scratch = c.scratch;
        const T* xp = x.data<T>();
        const T* wp = w.data<T>();
        const T* bp = b ? b->data<T>() : nullptr;
        T* op = out.data<T>();
        for_each_chunk<T, true>(pl.N, nb, scratch, [&](int64_t n0, int64_t n1, T* buf, int) {
            const int64_t m = n1 - n0, ld = m * L;
            const T* src = xp + n0 * CHW;
            if (c.band < g.OH) {  // one image in bands of output rows: out[:, band] = W cols_band
                T* o = op + n0 * pl.OC * L;
                for (int64_t oc = 0; oc < pl.OC; ++oc)
                    std::fill(o + oc * L, o + (oc + 1) * L, bp ? bp[oc] : T(0));
                for (int64_t oh0 = 0; oh0 < g.OH; oh0 += c.band) {
                    const int64_t oh1 = std::min(g.OH, oh0 + c.band), lb = (oh1 - oh0) * g.OW;
                    im2col_rows(src, g, oh0, oh1, buf, lb);
                    for (int64_t gr = 0; gr < G; ++gr)
                        gemm(false, false, OCg, lb, Kg, T(1), wp + gr * OCg * Kg, Kg, buf + gr * Kg * lb, lb,
                             T(1), o + gr * OCg * L + oh0 * g.OW, L);
                }
                return;
            }
            if (!direct) {
                for (int64_t j = 0; j < m; ++j) im2col(xp + (n0 + j) * CHW, g, buf + j * L, ld);
                src = buf;
            }
            T* dst = m == 1 ? op + n0 * pl.OC * L : buf + R * ld;
            T beta = 0;
            if (bp && m == 1) {
                for (int64_t oc = 0; oc < pl.OC; ++oc) std::fill(dst + oc * L, dst + (oc + 1) * L, bp[oc]);
                beta = 1;
            }
            for (int64_t gr = 0; gr < G; ++gr)
                gemm(false, false, OCg, ld, Kg, T(1), wp + gr * OCg * Kg, Kg, src + gr * Kg * ld, ld, beta,
                     dst + gr * OCg * ld, ld);
            if (m > 1)  // scatter [OC, m*L] back to [m, OC, L], adding the bias on the way
                for (int64_t j = 0; j < m; ++j)
                    for (int64_t oc = 0; oc < pl.OC; ++oc) {
                        const T* s = dst + oc * ld + j * L;
                        T* o = op + ((n0 + j) * pl.OC + oc) * L;
                        const T bv = bp ? bp[oc] : T(0);
                        for (int64_t l = 0; l < L; ++l) o[l] = s[l] + bv;
                    }
        });
    });
    return out;
}

// ---- backward ----
// A stride-1 convolution's data grad is itself a stride-1 convolution: dx = conv(dy, wt) with the
// kernel flipped in both axes, the channel axes swapped per group, and padding d*(k-1) - p
// (which must not be negative). Returns false where that does not hold.
static bool data_grad_geometry(const ConvPlan& pl, ConvGeometry& gt) {
    const ConvGeometry& g = pl.g;
    const int64_t ph = g.dh * (g.KH - 1) - g.ph, pw = g.dw * (g.KW - 1) - g.pw;
    if (g.sh != 1 || g.sw != 1 || ph < 0 || pw < 0) return false;
    gt = g;
    gt.C = pl.OC;
    gt.H = g.OH;
    gt.W = g.OW;
    gt.OH = g.H;
    gt.OW = g.W;
    gt.ph = ph;
    gt.pw = pw;
    // conv_transpose's output_padding (stride 1, dilation > 1) adds rows that padding p' alone
    // does not produce: leave those to im2col + GEMM.
    return conv_out_size(gt.H, gt.KH, 1, ph, gt.dh) == gt.OH && conv_out_size(gt.W, gt.KW, 1, pw, gt.dw) == gt.OW;
}

// Whether a float32 stride-1 data grad (gt: its geometry as a forward, dx's C channels its
// outputs) runs on the channels-blocked kernel (conv2d_cblocked.cpp) instead of conv2d_direct.cpp:
// where the forward's rule would take it for that geometry (cblocked_wins, with its
// LAMINA_CONV2D_CBLOCKED override). Measured on data grads, 1 thread, CPU clock, in-process A/B
// direct -> channels-blocked (2026-12-01 15:21, load 4.5-5, after the edge kernels 84db907),
// time ratios AVX-512 / AVX2: d (N32 32->64 16x16) 0.83-0.84 / 0.80, N32 64->128 8x8 0.71 / -,
// N32 16->32 16x16 0.86 / 0.81, N16 32->64 32x32 0.93-0.96 / 1.00-1.01, N8 64->64 28x28
// 0.95 / 0.94, e (N8 64->64 56x56) 0.95 / 0.98-0.99, N16 32->64 28x28 k5 p2 0.87 / 0.86.
// (Before the edge kernels it won only on d and 8x8 at AVX2, which was the rule here at e503b1d.)
static bool data_grad_cblocked(const ConvPlan& pl, const ConvGeometry& gt) {
    return cblocked_wins(pl.g.C, pl.groups, gt, true);
}

// Positions from which an image is a chunk of its own in the im2col data grad, as in the weight
// grad: conv (f)'s 3-image chunks had the GEMM write a 5.4 MB column matrix to L3 and col2im read
// it back; one image's (1.8 MB) stays in the L2. dx of f, 1 thread, CPU clock, in-process A/B,
// load 5.5: AVX-512 7.46 -> 6.95 and 6.52 -> 6.21 ms, AVX2 10.10 -> 9.80 and 10.28 -> 9.87. Bands
// of output rows (GEMM per band, col2im of the band added into dx) were slower than whole images:
// 8-row bands (512 KB) +1% / +8%, 4 rows +3% / +16% (AVX2 / AVX-512): the GEMM gets too thin.
constexpr int64_t kDataGradOwnChunkPositions = 512;

// The data grad's kernel as a forward kernel: wt[gr*Cg + c, o, kh, kw] = w[gr*OCg + o, c, KH-1-kh, KW-1-kw].
template <class T>
static std::vector<T> flipped_weights(const T* wp, const ConvPlan& pl) {
    const ConvGeometry& g = pl.g;
    const int64_t G = pl.groups, OCg = pl.OC / G, Cg = g.C / G, KH = g.KH, KW = g.KW;
    std::vector<T> wt(static_cast<size_t>(pl.OC * Cg * KH * KW));
    for (int64_t gr = 0; gr < G; ++gr)
        for (int64_t o = 0; o < OCg; ++o)
            for (int64_t c = 0; c < Cg; ++c)
                for (int64_t kh = 0; kh < KH; ++kh)
                    for (int64_t kw = 0; kw < KW; ++kw)
                        wt[(((gr * Cg + c) * OCg + o) * KH + kh) * KW + kw] =
                            wp[(((gr * OCg + o) * Cg + c) * KH + KH - 1 - kh) * KW + KW - 1 - kw];
    return wt;
}

// Whether a stride-1 data grad (gt: its geometry as a forward) runs on Winograd: the forward's rule
// (winograd_wins) on dx's geometry, and rows of at least 28 outputs, unless LAMINA_CONV2D_WINOGRAD=1
// forces it. Measured on data grads, 1 thread, CPU clock, in-process, time with / without (the
// channels-blocked kernel), 2026-12-01 17:40, AVX2 / AVX-512: e (N8 64->64 56x56) 0.66 / 0.89,
// N8 128->128 28x28 0.65 / 0.92, N16 64->64 32x32 0.74 / 0.84, N8 64->32 56x56 0.81 / 1.12,
// but d's dx (N32 64->32 16x16, and CIFAR's second conv alike) 1.13 / 1.62: at 16x16 the 64 tiles
// of an image are too few for the transforms to pay, while the forward of d (32->64) gained 0.92.
static bool data_grad_winograd(const ConvPlan& pl, const ConvGeometry& gt) {
    return winograd_wins(pl.N, pl.g.C, pl.groups, gt) && (gt.OW >= 28 || winograd_override() == 1);
}

// dx (stride 1): Winograd where data_grad_winograd says so, else the direct kernel on the
// flipped weights where the cost rule prefers it; otherwise col2im(W^T[Kg, OCg] x dy[OCg, m*L])
// per group and chunk, a pointwise conv of one image writing W^T dy_n directly.
Tensor conv_data_grad_cpu(const Tensor& dy, const Tensor& w, const ConvPlan& pl) {
    Tensor dx = Tensor::empty(pl.x4, dy.dtype(), dy.device());
    ConvGeometry gt;
    const int64_t es = static_cast<int64_t>(dy.element_size());
    const bool stride1 = data_grad_geometry(pl, gt);
    if (stride1 && dy.dtype() == DType::Float32 && data_grad_winograd(pl, gt)) {
        const std::vector<float> wt = flipped_weights(w.data<float>(), pl);
        conv_forward_winograd(dy.data<float>(), wt.data(), nullptr, dx.data<float>(), pl.N, pl.g.C, gt);
        return dx;
    }
    if (stride1 && direct_cost(pl.g.C, pl.groups, gt, es) <= im2col_gemm_cost(pl.OC, pl.groups, pl.g, es, true)) {
        dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
            using T = decltype(tag);
            const std::vector<T> wt = flipped_weights(w.data<T>(), pl);
            if constexpr (std::is_same_v<T, float>) {
                if (data_grad_cblocked(pl, gt)) {
                    conv_forward_cblocked(dy.data<float>(), wt.data(), nullptr, dx.data<float>(), pl.N, pl.g.C, gt);
                    return;
                }
            }
            conv_forward_direct<T>(dy.data<T>(), wt.data(), nullptr, dx.data<T>(), pl.N, pl.g.C, pl.groups, gt);
        });
        return dx;
    }
    dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
        using T = decltype(tag);
        const ConvGeometry& g = pl.g;
        ChunkLayout c = chunk_layout(pl, sizeof(T), false);  // col2im needs all of it
        if (c.nb > 1 && c.L >= kDataGradOwnChunkPositions) {
            ConvPlan one = pl;
            one.N = 1;
            c = chunk_layout(one, sizeof(T), false);
        }
        const int64_t G = pl.groups, L = c.L, OCg = c.OCg, Kg = c.Kg, nb = c.nb, R = c.R, CHW = c.CHW;
        const bool direct = c.direct;
        const int64_t scratch = c.scratch;
        const T* dyp = dy.data<T>();
        const T* wp = w.data<T>();
        T* dxp = dx.data<T>();
        for_each_chunk<T, true>(pl.N, nb, scratch, [&](int64_t n0, int64_t n1, T* buf, int) {
            const int64_t m = n1 - n0, ld = m * L;
            const T* dyc = dyp + n0 * pl.OC * L;
            if (m > 1) {
                gather_chunk(dyp, n0, m, pl.OC, L, buf + R * ld);
                dyc = buf + R * ld;
            }
            T* dst = direct ? dxp + n0 * CHW : buf;
            for (int64_t gr = 0; gr < G; ++gr)
                gemm(true, false, Kg, ld, OCg, T(1), wp + gr * OCg * Kg, Kg, dyc + gr * OCg * ld, ld, T(0),
                     dst + gr * Kg * ld, ld);
            if (!direct)
                for (int64_t j = 0; j < m; ++j) col2im(buf + j * L, g, dxp + (n0 + j) * CHW, ld);
        });
    });
    return dx;
}

}  // namespace detail

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const OptTensor& b, const ConvParams& p) {
    const char* op = p.dims == 1 ? "conv1d" : "conv2d";
    const detail::ConvPlan pl = detail::plan_conv(op, x, w, b, p, false);
    const Tensor xc = x.contiguous().reshape(pl.x4), wc = w.contiguous().reshape(pl.w4);
    OptTensor bc;
    if (b) bc = b->contiguous();
    return detail::conv_forward_cpu(xc, wc, bc, pl).view(pl.out_shape);
}

ConvGrads conv2d_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const ConvParams& p,
                          bool need_dx, bool need_dw, bool need_db) {
    const char* op = p.dims == 1 ? "conv1d backward" : "conv2d backward";
    const detail::ConvPlan pl = detail::plan_conv(op, x, w, std::nullopt, p, false);
    LAMINA_CHECK(dout.shape() == pl.out_shape, op, ": expected dout of shape ", pl.out_shape, ", got ",
                 dout.shape());
    LAMINA_CHECK_TYPE(dout.dtype() == x.dtype(), op, ": dout dtype ", dtype_name(dout.dtype()),
                      " differs from input dtype ", dtype_name(x.dtype()));
    const Tensor dy = dout.contiguous().reshape(pl.out4);
    OptTensor dx, dw, db;
    if (need_dx) dx = detail::conv_data_grad_cpu(dy, w.contiguous().reshape(pl.w4), pl).view(x.shape());
    // The bias grad comes with the weight grad when both are asked (one pass over dy).
    if (need_dw)
        dw = detail::conv_weight_grad_cpu(dy, x.contiguous().reshape(pl.x4), pl, need_db ? &db : nullptr)
                 .view(w.shape());
    else if (need_db)
        db = detail::conv_bias_grad_cpu(dy);
    return {dx, dw, db};
}

}  // namespace lamina
