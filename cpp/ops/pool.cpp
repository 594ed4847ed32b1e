// Pooling: argument checks (output-size arithmetic in the messages), then per-plane CPU kernels,
// OpenMP over planes (each thread owns whole planes, rows stay contiguous), forward then backward
// for max, average, adaptive average and adaptive max. max 2x2 stride 2 has its own fast loop; the
// indexed max kernel is in pool_max_plane.h.
#include "pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/check.h"
#include "../core/parallel.h"
#include "im2col.h"
#include "pool_max_plane.h"

namespace lamina {

namespace {

using pool_detail::max_pool_plane;
using pool_detail::PoolPlan;
using pool_detail::takes_max;

int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
    const int64_t num = in + 2 * p - d * (k - 1) - 1;
    int64_t o = (ceil_mode ? ceil_div(num, s) : floor_div(num, s)) + 1;
    // PyTorch's rule: the last window must start inside the input or the left padding.
    if (ceil_mode && o > 0 && (o - 1) * s >= in + p) --o;
    return o;
}

std::string pool_expr(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
    const char* f = ceil_mode ? "ceil" : "floor";
    const int64_t r = pool_out_size(in, k, s, p, d, ceil_mode);
    if (d == 1) return detail::cat(f, "((", in, " - ", k, " + 2*", p, ") / ", s, ") + 1 = ", r);
    return detail::cat(f, "((", in, " + 2*", p, " - ", d, "*(", k, " - 1) - 1) / ", s, ") + 1 = ", r);
}

std::string pstr(const std::array<int64_t, 2>& v, int64_t dims) {
    if (dims == 1 || v[0] == v[1]) return std::to_string(v[1]);
    return detail::cat("(", v[0], ", ", v[1], ")");
}

std::string kstr(int64_t kh, int64_t kw, int64_t dims) {
    return dims == 1 ? std::to_string(kw) : detail::cat(kh, "x", kw);
}

// Rank / dtype / device checks shared by every pool; returns the spatial sizes (H = 1 for 1-D).
void check_input(const char* op, const Tensor& x, int64_t dims, int64_t& P, int64_t& H, int64_t& W) {
    const char* bat = dims == 2 ? "(N, C, H, W)" : "(N, C, L)";
    const char* unb = dims == 2 ? "(C, H, W)" : "(C, L)";
    LAMINA_CHECK(x.dim() == dims + 1 || x.dim() == dims + 2, op, ": expected a ", dims + 1, "-D ", unb,
                 " or ", dims + 2, "-D ", bat, " input, got input of shape ", dims_str(x.shape()), " (",
                 x.dim(), "-D)");
    LAMINA_CHECK_TYPE(is_floating(x.dtype()), op,
                      ": expected a floating-point input (float32 or float64), got ", dtype_name(x.dtype()));
    LAMINA_CHECK_RUNTIME(x.device().is_cpu(), op, ": no CUDA kernel yet; move the tensor to the CPU");
    H = dims == 2 ? x.size(-2) : 1;
    W = x.size(-1);
    P = 1;
    for (int64_t d = 0; d < x.dim() - dims; ++d) P *= x.shape()[d];
}

PoolPlan plan_pool(const char* op, const Tensor& x, const PoolParams& p, bool has_dilation) {
    const int64_t dims = p.dims;
    LAMINA_CHECK(dims == 1 || dims == 2, op, ": dims must be 1 or 2, got ", dims);
    PoolPlan pl;
    check_input(op, x, dims, pl.P, pl.H, pl.W);
    const int a0 = dims == 2 ? 0 : 1;
    for (int a = a0; a < 2; ++a) {
        LAMINA_CHECK(p.kernel[a] >= 1, op, ": kernel_size must be positive, got kernel_size ",
                     pstr(p.kernel, dims));
        LAMINA_CHECK(p.stride[a] >= 1, op, ": stride must be positive, got stride ", pstr(p.stride, dims));
        LAMINA_CHECK(p.padding[a] >= 0, op, ": padding must be non-negative, got padding ",
                     pstr(p.padding, dims));
        LAMINA_CHECK(p.dilation[a] >= 1, op, ": dilation must be positive, got dilation ",
                     pstr(p.dilation, dims));
        LAMINA_CHECK(p.padding[a] <= p.kernel[a] / 2, op, ": padding ", pstr(p.padding, dims),
                     " must be at most half the kernel size ", pstr(p.kernel, dims), " (", p.kernel[a],
                     " // 2 = ", p.kernel[a] / 2, "), got input ", dims_str(x.shape()));
    }
    if (dims == 2) {
        pl.kh = p.kernel[0];
        pl.sh = p.stride[0];
        pl.ph = p.padding[0];
        pl.dh = p.dilation[0];
    }
    pl.kw = p.kernel[1];
    pl.sw = p.stride[1];
    pl.pw = p.padding[1];
    pl.dw = p.dilation[1];
    const std::string desc = detail::cat(
        op, ": input ", dims_str(x.shape()), ", kernel ", kstr(pl.kh, pl.kw, dims), ", stride ",
        pstr(p.stride, dims), ", padding ", pstr(p.padding, dims),
        has_dilation ? ", dilation " + pstr(p.dilation, dims) : std::string(), p.ceil_mode ? ", ceil_mode" : "");
    const int64_t in[2] = {pl.H, pl.W}, k[2] = {pl.kh, pl.kw}, s[2] = {pl.sh, pl.sw},
                  pd[2] = {pl.ph, pl.pw}, dl[2] = {pl.dh, pl.dw};
    int64_t out[2] = {1, 1};
    for (int a = a0; a < 2; ++a) {
        out[a] = pool_out_size(in[a], k[a], s[a], pd[a], dl[a], p.ceil_mode);
        if (out[a] < 1) {
            const bool dil = pl.dh == 1 && pl.dw == 1;
            const std::string ks = dil ? "kernel " + kstr(pl.kh, pl.kw, dims)
                                       : "dilated kernel " + kstr(pl.dh * (pl.kh - 1) + 1, pl.dw * (pl.kw - 1) + 1, dims) +
                                             " (dilation*(kernel-1)+1)";
            throw ValueError(detail::cat(desc, " -> output ", dims == 1 ? "length" : (a ? "width" : "height"),
                                         " ", pool_expr(in[a], k[a], s[a], pd[a], dl[a], p.ceil_mode), ": ", ks,
                                         " is larger than the padded input ",
                                         kstr(pl.H + 2 * pl.ph, pl.W + 2 * pl.pw, dims), " (",
                                         dims == 1 ? "L" : (a ? "W" : "H"),
                                         " + 2*padding); add padding or use a smaller kernel"));
        }
    }
    pl.OH = out[0];
    pl.OW = out[1];
    pl.out_shape = Shape(x.shape().begin(), x.shape().end() - dims);
    if (dims == 2) pl.out_shape.push_back(pl.OH);
    pl.out_shape.push_back(pl.OW);
    return pl;
}

// Planes per thread so that each thread does at least kGrainElementwise window reads.
int64_t plane_grain(int64_t per_plane) {
    return std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, per_plane));
}

// [kh0, kh1) per output row, then [kw0, kw1) per output column.
std::vector<int64_t> pool_taps(const PoolPlan& g) {
    std::vector<int64_t> t(2 * (g.OH + g.OW));
    for (int64_t oh = 0; oh < g.OH; ++oh) window_tap_range(oh, g.kh, g.H, g.sh, g.ph, g.dh, t[2 * oh], t[2 * oh + 1]);
    int64_t* tw = t.data() + 2 * g.OH;
    for (int64_t ow = 0; ow < g.OW; ++ow) window_tap_range(ow, g.kw, g.W, g.sw, g.pw, g.dw, tw[2 * ow], tw[2 * ow + 1]);
    return t;
}

// Adaptive windows: [floor(o*In/Out), ceil((o+1)*In/Out)).
inline void adaptive_range(int64_t o, int64_t in, int64_t out, int64_t& b, int64_t& e) {
    b = floor_div(o * in, out);
    e = ceil_div((o + 1) * in, out);
}

// dx plane p = dout plane p added at its argmax positions (windows may overlap, hence +=).
// Out-of-range indices (only possible from a hand-made indices tensor) are skipped.
void scatter_max(const Tensor& dout, const Tensor& indices, Tensor& dx, int64_t P, int64_t HW) {
    const int64_t OHW = P ? dout.numel() / P : 0;
    dispatch_float(dx.dtype(), "max_pool2d backward", [&](auto tag) {
        using T = decltype(tag);
        const T* dy = dout.data<T>();
        const int64_t* ix = indices.data<int64_t>();
        T* d = dx.data<T>();
        parallel_for_fine(0, P, plane_grain(OHW + HW), [&](int64_t p0, int64_t p1) {
            for (int64_t p = p0; p < p1; ++p) {
                T* dp = d + p * HW;
                std::fill(dp, dp + HW, T(0));
                const T* g = dy + p * OHW;
                const int64_t* ip = ix + p * OHW;
                for (int64_t i = 0; i < OHW; ++i)
                    if (static_cast<uint64_t>(ip[i]) < static_cast<uint64_t>(HW)) dp[ip[i]] += g[i];
            }
        });
    });
}

}  // namespace

// ---- max pool ----
std::tuple<Tensor, Tensor> max_pool2d_forward(const Tensor& x_in, const PoolParams& p) {
    const char* op = p.dims == 1 ? "max_pool1d" : "max_pool2d";
    const PoolPlan g = plan_pool(op, x_in, p, true);
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty(g.out_shape, x.dtype(), x.device());
    Tensor idx = Tensor::empty(g.out_shape, DType::Int64, x.device());
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        T* op_ = out.data<T>();
        int64_t* ip = idx.data<int64_t>();
        const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
        const std::vector<int64_t> taps = pool_taps(g);
        parallel_for_fine(0, g.P, plane_grain(OHW * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
            for (int64_t pl = p0; pl < p1; ++pl)
                max_pool_plane(xp + pl * HW, op_ + pl * OHW, ip + pl * OHW, g, taps.data());
        });
    });
    return {out, idx};
}

Tensor max_pool2d_backward(const Tensor& dout, const Tensor& indices, const Tensor& x, int64_t dims) {
    LAMINA_CHECK(dims == 1 || dims == 2, "max_pool2d backward: dims must be 1 or 2, got ", dims);
    LAMINA_CHECK(dout.shape() == indices.shape() && dout.dim() == x.dim() && x.dim() > dims,
                 "max_pool2d backward: expected dout and indices of the same shape and rank as the input ",
                 dims_str(x.shape()), ", got dout ", dims_str(dout.shape()), " and indices ",
                 dims_str(indices.shape()));
    LAMINA_CHECK_TYPE(indices.dtype() == DType::Int64 && dout.dtype() == x.dtype(),
                      "max_pool2d backward: expected int64 indices and dout of the input's dtype");
    // Indices are flat positions within one (H, W) plane; the leading dims enumerate the planes.
    const int64_t nd = x.dim();
    int64_t P = 1, HW = 1;
    for (int64_t d = 0; d < nd - dims; ++d) P *= x.shape()[d];
    for (int64_t d = nd - dims; d < nd; ++d) HW *= x.shape()[d];
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    scatter_max(dout.contiguous(), indices.contiguous(), dx, P, HW);
    return dx;
}

// ---- max pool, 2x2 stride 2 without indices ----
bool max_pool2d_is_2x2(const Tensor& x, const PoolParams& p) {
    return p.dims == 2 && x.dim() >= 3 && p.kernel[0] == 2 && p.kernel[1] == 2 && p.stride[0] == 2 &&
           p.stride[1] == 2 && p.padding[0] == 0 && p.padding[1] == 0 && p.dilation[0] == 1 &&
           p.dilation[1] == 1 && !p.ceil_mode && x.size(-1) >= 2 && x.size(-2) >= 2 &&
           is_floating(x.dtype()) && x.device().is_cpu();
}

namespace {

// m = the window's max with NaN winning (the same result as the indexed kernel's scan).
template <class T>
inline T nan_max(T a, T b) {
    return ((b > a) | (b != b)) ? b : a;
}

// The 2x2 maxima of one pair of input rows: out[ow] = max of r0/r1 columns 2ow, 2ow+1. Plain max
// selects over a vertical then a horizontal pass (the vectoriser turns them into vmaxps); a NaN
// breaks those, so a row pair that holds one is redone with nan_max. v: scratch of 2*OW.
template <class T>
void window_max_row(const T* r0, const T* r1, T* v, T* out, int64_t OW) {
    bool nan = false;
    for (int64_t c = 0; c < 2 * OW; ++c) {
        const T a = r0[c], b = r1[c];
        v[c] = a > b ? a : b;
        nan |= (a != a) | (b != b);
    }
    for (int64_t ow = 0; ow < OW; ++ow) {
        const T a = v[2 * ow], b = v[2 * ow + 1];
        out[ow] = a > b ? a : b;
    }
    if (nan)
        for (int64_t ow = 0; ow < OW; ++ow)
            out[ow] = nan_max(nan_max(r0[2 * ow], r0[2 * ow + 1]), nan_max(r1[2 * ow], r1[2 * ow + 1]));
}

// Output rows [rb, re) (row r = plane r / OH, output row r % OH).
template <class T>
void pool2x2_rows(const T* x, T* out, int64_t rb, int64_t re, int64_t H, int64_t W, int64_t OH, int64_t OW) {
    std::vector<T> vbuf(2 * OW);
    T* v = vbuf.data();
    // (plane, row) stepped along, not divided out per row: a 64-bit division costs about as much
    // as pooling a 16-wide row.
    for (int64_t r = rb, p = rb / OH, oh = rb % OH; r < re; ++r) {
        const T* r0 = x + p * H * W + 2 * oh * W;
        window_max_row(r0, r0 + W, v, out + r * OW, OW);
        if (++oh == OH) oh = 0, ++p;
    }
}

// dx for output rows [rb, re): each 2x2 window gets dout at its first max (or first NaN), zeros
// elsewhere; rows and columns past 2*OH / 2*OW (odd sizes) are zero. The winner is picked with
// float selects (0/1 weights), not branches, for the same reason as the forward.
template <class T>
void unpool2x2_rows(const T* x, const T* dy, T* dx, int64_t rb, int64_t re, int64_t H, int64_t W,
                    int64_t OH, int64_t OW) {
    std::vector<T> vbuf(2 * OW), mbuf(OW);
    T* v = vbuf.data();
    T* mx = mbuf.data();
    for (int64_t r = rb, p = rb / OH, oh0 = rb % OH; r < re; ++r, (++oh0 == OH ? (oh0 = 0, ++p) : 0)) {
        const int64_t oh = oh0;
        const T* x0 = x + p * H * W + 2 * oh * W;
        const T* x1 = x0 + W;
        T* d0 = dx + p * H * W + 2 * oh * W;
        T* d1 = d0 + W;
        const T* g = dy + r * OW;
        window_max_row(x0, x1, v, mx, OW);
        for (int64_t ow = 0; ow < OW; ++ow) {
            const T a = x0[2 * ow], b = x0[2 * ow + 1], c = x1[2 * ow], m = mx[ow];
            // A NaN max is matched by the first NaN tap (x != x), a number by equality.
            const T fa = static_cast<T>((a == m) | (a != a));
            const T fb = static_cast<T>((b == m) | (b != b)) * (T(1) - fa);
            const T fc = static_cast<T>((c == m) | (c != c)) * (T(1) - fa - fb);
            const T fe = T(1) - fa - fb - fc;
            d0[2 * ow] = fa * g[ow];
            d0[2 * ow + 1] = fb * g[ow];
            d1[2 * ow] = fc * g[ow];
            d1[2 * ow + 1] = fe * g[ow];
        }
        if (2 * OW < W) {
            d0[W - 1] = T(0);
            d1[W - 1] = T(0);
        }
        if (oh == OH - 1 && 2 * OH < H) std::fill(d1 + W, d1 + 2 * W, T(0));
    }
}

Shape pooled_shape(const Tensor& x) {
    Shape s = x.shape();
    s[s.size() - 2] /= 2;
    s[s.size() - 1] /= 2;
    return s;
}

}  // namespace

Tensor max_pool2d_2x2_forward(const Tensor& x_in) {
    const Tensor x = x_in.contiguous();
    const int64_t H = x.size(-2), W = x.size(-1), OH = H / 2, OW = W / 2;
    Tensor out = Tensor::empty(pooled_shape(x), x.dtype(), x.device());
    const int64_t rows = OW ? out.numel() / OW : 0;
    dispatch_float(x.dtype(), "max_pool2d", [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        T* op = out.data<T>();
        parallel_for_fine(0, rows, std::max<int64_t>(1, kGrainElementwise / (4 * std::max<int64_t>(OW, 1))),
                          [&](int64_t b, int64_t e) { pool2x2_rows(xp, op, b, e, H, W, OH, OW); });
    });
    return out;
}

Tensor max_pool2d_2x2_backward(const Tensor& dout_in, const Tensor& x_in) {
    const Tensor x = x_in.contiguous(), dout = dout_in.contiguous();
    const int64_t H = x.size(-2), W = x.size(-1), OH = H / 2, OW = W / 2;
    LAMINA_CHECK(dout.shape() == pooled_shape(x), "max_pool2d backward: dout ", dims_str(dout.shape()),
                 " does not match input ", dims_str(x.shape()), " pooled 2x2");
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    const int64_t rows = dout.numel() / std::max<int64_t>(OW, 1);
    dispatch_float(x.dtype(), "max_pool2d backward", [&](auto tag) {
        using T = decltype(tag);
        if (OH == 0 || OW == 0) {
            std::fill(dx.data<T>(), dx.data<T>() + dx.numel(), T(0));
            return;
        }
        parallel_for_fine(0, rows, std::max<int64_t>(1, kGrainElementwise / (8 * OW)), [&](int64_t b, int64_t e) {
            unpool2x2_rows(x.data<T>(), dout.data<T>(), dx.data<T>(), b, e, H, W, OH, OW);
        });
    });
    return dx;
}

// ---- average pool ----
template <class T, bool Backward>
static void avg_pool_planes(const T* in, T* out, const PoolPlan& g, const PoolParams& p) {
    // Forward: in = x planes, out = y planes. Backward: in = dout planes, out = dx planes.
    const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
    parallel_for_fine(0, g.P, plane_grain(OHW * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
        for (int64_t pl = p0; pl < p1; ++pl) {
            const T* src = in + pl * (Backward ? OHW : HW);
            T* dst = out + pl * (Backward ? HW : OHW);
            if (Backward) std::fill(dst, dst + HW, T(0));
            for (int64_t oh = 0; oh < g.OH; ++oh) {
                const int64_t h0 = oh * g.sh - g.ph, h1p = std::min(h0 + g.kh, g.H + g.ph);
                const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h1p, g.H);
                for (int64_t ow = 0; ow < g.OW; ++ow) {
                    const int64_t w0 = ow * g.sw - g.pw, w1p = std::min(w0 + g.kw, g.W + g.pw);
                    const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w1p, g.W);
                    const int64_t o = oh * g.OW + ow;
                    if (hs >= he || ws >= we) {
                        if (!Backward) dst[o] = T(0);
                        continue;
                    }
                    const int64_t div = p.divisor_override ? p.divisor_override
                                        : p.count_include_pad ? (h1p - h0) * (w1p - w0)
                                                              : (he - hs) * (we - ws);
                    if (Backward) {
                        const T gv = src[o] / static_cast<T>(div);
                        for (int64_t ih = hs; ih < he; ++ih)
                            for (int64_t iw = ws; iw < we; ++iw) dst[ih * g.W + iw] += gv;
                    } else {
                        T s = 0;
                        for (int64_t ih = hs; ih < he; ++ih)
                            for (int64_t iw = ws; iw < we; ++iw) s += src[ih * g.W + iw];
                        dst[o] = s / static_cast<T>(div);
                    }
                }
            }
        }
    });
}

Tensor avg_pool2d_forward(const Tensor& x_in, const PoolParams& p) {
    const char* op = p.dims == 1 ? "avg_pool1d" : "avg_pool2d";
    PoolParams q = p;
    q.dilation = {1, 1};
    LAMINA_CHECK(p.divisor_override >= 0, op, ": divisor_override must be positive, got ", p.divisor_override);
    const PoolPlan g = plan_pool(op, x_in, q, false);
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty(g.out_shape, x.dtype(), x.device());
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        avg_pool_planes<T, false>(x.data<T>(), out.data<T>(), g, q);
    });
    return out;
}

Tensor avg_pool2d_backward(const Tensor& dout_in, const Tensor& x, const PoolParams& p) {
    const char* op = p.dims == 1 ? "avg_pool1d backward" : "avg_pool2d backward";
    PoolParams q = p;
    q.dilation = {1, 1};
    const PoolPlan g = plan_pool(op, x, q, false);
    LAMINA_CHECK(dout_in.shape() == g.out_shape, op, ": expected dout of shape ", g.out_shape, ", got ",
                 dout_in.shape());
    const Tensor dout = dout_in.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    dispatch_float(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        avg_pool_planes<T, true>(dout.data<T>(), dx.data<T>(), g, q);
    });
    return dx;
}

// ---- adaptive pools ----
namespace {

PoolPlan plan_adaptive(const char* op, const Tensor& x, const std::array<int64_t, 2>& os) {
    PoolPlan g;
    check_input(op, x, 2, g.P, g.H, g.W);
    LAMINA_CHECK(os[0] >= 0 && os[1] >= 0, op, ": output_size must be non-negative, got (", os[0], ", ",
                 os[1], ")");
    LAMINA_CHECK(g.H >= 1 && g.W >= 1, op, ": expected an input with non-zero height and width, got input ",
                 dims_str(x.shape()));
    g.OH = os[0];
    g.OW = os[1];
    g.out_shape = Shape(x.shape().begin(), x.shape().end() - 2);
    g.out_shape.push_back(g.OH);
    g.out_shape.push_back(g.OW);
    return g;
}

}  // namespace

template <class T, bool Backward>
static void adaptive_avg_planes(const T* in, T* out, const PoolPlan& g) {
    const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
    parallel_for_fine(0, g.P, plane_grain(HW + OHW), [&](int64_t p0, int64_t p1) {
        for (int64_t pl = p0; pl < p1; ++pl) {
            const T* src = in + pl * (Backward ? OHW : HW);
            T* dst = out + pl * (Backward ? HW : OHW);
            if (Backward) std::fill(dst, dst + HW, T(0));
            for (int64_t oh = 0; oh < g.OH; ++oh) {
                int64_t hs, he;
                adaptive_range(oh, g.H, g.OH, hs, he);
                for (int64_t ow = 0; ow < g.OW; ++ow) {
                    int64_t ws, we;
                    adaptive_range(ow, g.W, g.OW, ws, we);
                    const T div = static_cast<T>((he - hs) * (we - ws));
                    const int64_t o = oh * g.OW + ow;
                    if (Backward) {
                        const T gv = src[o] / div;
                        for (int64_t ih = hs; ih < he; ++ih)
                            for (int64_t iw = ws; iw < we; ++iw) dst[ih * g.W + iw] += gv;
                    } else {
                        T s = 0;
                        for (int64_t ih = hs; ih < he; ++ih)
                            for (int64_t iw = ws; iw < we; ++iw) s += src[ih * g.W + iw];
                        dst[o] = s / div;
                    }
                }
            }
        }
    });
}

Tensor adaptive_avg_pool2d_forward(const Tensor& x_in, const std::array<int64_t, 2>& output_size) {
    const PoolPlan g = plan_adaptive("adaptive_avg_pool2d", x_in, output_size);
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty(g.out_shape, x.dtype(), x.device());
    dispatch_float(x.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
        using T = decltype(tag);
        adaptive_avg_planes<T, false>(x.data<T>(), out.data<T>(), g);
    });
    return out;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& dout_in, const Tensor& x) {
    LAMINA_CHECK(dout_in.dim() == x.dim() && x.dim() >= 3, "adaptive_avg_pool2d backward: expected dout of rank ",
                 x.dim(), ", got ", dims_str(dout_in.shape()));
    const PoolPlan g = plan_adaptive("adaptive_avg_pool2d backward", x, {dout_in.size(-2), dout_in.size(-1)});
    LAMINA_CHECK(dout_in.shape() == g.out_shape, "adaptive_avg_pool2d backward: expected dout of shape ",
                 g.out_shape, ", got ", dout_in.shape());
    const Tensor dout = dout_in.contiguous();
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    dispatch_float(x.dtype(), "adaptive_avg_pool2d backward", [&](auto tag) {
        using T = decltype(tag);
        adaptive_avg_planes<T, true>(dout.data<T>(), dx.data<T>(), g);
    });
    return dx;
}

std::tuple<Tensor, Tensor> adaptive_max_pool2d_forward(const Tensor& x_in,
                                                        const std::array<int64_t, 2>& output_size) {
    const PoolPlan g = plan_adaptive("adaptive_max_pool2d", x_in, output_size);
    const Tensor x = x_in.contiguous();
    Tensor out = Tensor::empty(g.out_shape, x.dtype(), x.device());
    Tensor idx = Tensor::empty(g.out_shape, DType::Int64, x.device());
    dispatch_float(x.dtype(), "adaptive_max_pool2d", [&](auto tag) {
        using T = decltype(tag);
        const T* xp = x.data<T>();
        T* op = out.data<T>();
        int64_t* ip = idx.data<int64_t>();
        const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
        parallel_for_fine(0, g.P, plane_grain(HW + OHW), [&](int64_t p0, int64_t p1) {
            for (int64_t pl = p0; pl < p1; ++pl) {
                const T* src = xp + pl * HW;
                for (int64_t oh = 0; oh < g.OH; ++oh) {
                    int64_t hs, he;
                    adaptive_range(oh, g.H, g.OH, hs, he);
                    for (int64_t ow = 0; ow < g.OW; ++ow) {
                        int64_t ws, we;
                        adaptive_range(ow, g.W, g.OW, ws, we);
                        T m = -std::numeric_limits<T>::infinity();
                        int64_t mi = hs * g.W + ws;
                        for (int64_t ih = hs; ih < he; ++ih)
                            for (int64_t iw = ws; iw < we; ++iw)
                                if (takes_max(src[ih * g.W + iw], m)) m = src[ih * g.W + iw], mi = ih * g.W + iw;
                        op[pl * OHW + oh * g.OW + ow] = m;
                        ip[pl * OHW + oh * g.OW + ow] = mi;
                    }
                }
            }
        });
    });
    return {out, idx};
}

}  // namespace lamina
