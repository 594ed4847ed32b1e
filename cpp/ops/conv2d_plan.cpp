// conv2d / conv1d / conv_transpose{1,2}d argument checks and the plan every CPU path runs from:
// shape errors name the op, the shapes and the output-size arithmetic that failed.
#include <string>

#include "../core/check.h"
#include "conv2d.h"

namespace lamina {

namespace {

std::string pair_str(const std::array<int64_t, 2>& v, int64_t dims) {
    if (dims == 1 || v[0] == v[1]) return std::to_string(v[1]);
    return detail::cat("(", v[0], ", ", v[1], ")");
}

std::string kernel_str(int64_t kh, int64_t kw, int64_t dims) {
    return dims == 1 ? std::to_string(kw) : detail::cat(kh, "x", kw);
}

const char* axis_name(int a, int64_t dims) { return dims == 1 ? "length" : (a == 0 ? "height" : "width"); }
const char* axis_letter(int a, int64_t dims) { return dims == 1 ? "L" : (a == 0 ? "H" : "W"); }

// "floor((7 - 5 + 2*0) / 2) + 1 = 2" (the dilated form when d > 1).
std::string out_size_expr(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
    const int64_t r = conv_out_size(in, k, s, p, d);
    if (d == 1) return detail::cat("floor((", in, " - ", k, " + 2*", p, ") / ", s, ") + 1 = ", r);
    return detail::cat("floor((", in, " + 2*", p, " - ", d, "*(", k, " - 1) - 1) / ", s, ") + 1 = ", r);
}

std::string transpose_out_expr(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op) {
    return detail::cat("(", in, " - 1)*", s, " - 2*", p, " + ", d, "*(", k, " - 1) + ", op, " + 1 = ",
                       conv_transpose_out_size(in, k, s, p, d, op));
}

}  // namespace

namespace detail {

ConvPlan plan_conv(const char* op, const Tensor& x, const Tensor& w, const OptTensor& b,
                   const ConvParams& p, bool transposed) {
    const int64_t dims = p.dims;
    LAMINA_CHECK(dims == 1 || dims == 2, op, ": dims must be 1 or 2, got ", dims);
    const char* bat = dims == 2 ? "(N, C, H, W)" : "(N, C, L)";
    const char* unb = dims == 2 ? "(C, H, W)" : "(C, L)";
    const char* wl = transposed ? (dims == 2 ? "(C_in, C_out/groups, KH, KW)" : "(C_in, C_out/groups, K)")
                                : (dims == 2 ? "(OC, C/groups, KH, KW)" : "(OC, C/groups, K)");
    LAMINA_CHECK(x.dim() == dims + 1 || x.dim() == dims + 2, op, ": expected a ", dims + 1, "-D ", unb,
                 " or ", dims + 2, "-D ", bat, " input, got input of shape ", dims_str(x.shape()), " (",
                 x.dim(), "-D)");
    LAMINA_CHECK(w.dim() == dims + 2, op, ": expected a ", dims + 2, "-D weight ", wl,
                 ", got weight of shape ", dims_str(w.shape()), " (", w.dim(), "-D)");
    LAMINA_CHECK_TYPE(is_floating(x.dtype()), op,
                      ": expected a floating-point input (float32 or float64), got ", dtype_name(x.dtype()));
    LAMINA_CHECK_TYPE(w.dtype() == x.dtype(), op, ": input and weight must have the same dtype, got input ",
                      dtype_name(x.dtype()), " and weight ", dtype_name(w.dtype()));
    if (b) {
        LAMINA_CHECK_TYPE(b->dtype() == x.dtype(), op, ": input and bias must have the same dtype, got input ",
                          dtype_name(x.dtype()), " and bias ", dtype_name(b->dtype()));
    }
    LAMINA_CHECK_RUNTIME(x.device() == w.device() && (!b || b->device() == x.device()), op,
                         ": expected all tensors on the same device, got input on ", x.device(),
                         " and weight on ", w.device());
    LAMINA_CHECK_RUNTIME(x.device().is_cpu(), op, ": no CUDA kernel yet; move the tensors to the CPU");

    const int a0 = dims == 2 ? 0 : 1;
    for (int a = a0; a < 2; ++a) {
        LAMINA_CHECK(p.stride[a] >= 1, op, ": stride must be positive, got stride ", pair_str(p.stride, dims));
        LAMINA_CHECK(p.padding[a] >= 0, op, ": padding must be non-negative, got padding ",
                     pair_str(p.padding, dims));
        LAMINA_CHECK(p.dilation[a] >= 1, op, ": dilation must be positive, got dilation ",
                     pair_str(p.dilation, dims));
    }
    const int64_t groups = p.groups;
    LAMINA_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);

    Shape xs = x.shape(), ws = w.shape();
    const bool batched = x.dim() == dims + 2;
    if (!batched) xs.insert(xs.begin(), 1);
    if (dims == 1) {
        xs.insert(xs.begin() + 2, 1);
        ws.insert(ws.begin() + 2, 1);
    }
    const int64_t N = xs[0], Cx = xs[1], H = xs[2], Wd = xs[3], KH = ws[2], KW = ws[3];
    LAMINA_CHECK(KH >= 1 && KW >= 1, op, ": kernel size must be positive, got weight ", dims_str(w.shape()));
    const std::array<int64_t, 2> in{H, Wd}, k{KH, KW};
    const std::string desc =
        detail::cat(op, ": input ", dims_str(x.shape()), ", kernel ", kernel_str(KH, KW, dims), ", stride ",
                    pair_str(p.stride, dims), ", padding ", pair_str(p.padding, dims), ", dilation ",
                    pair_str(p.dilation, dims));

    ConvPlan pl;
    pl.N = N;
    pl.groups = groups;
    ConvGeometry& g = pl.g;
    g.KH = KH;
    g.KW = KW;
    g.sh = p.stride[0];
    g.sw = p.stride[1];
    g.ph = p.padding[0];
    g.pw = p.padding[1];
    g.dh = p.dilation[0];
    g.dw = p.dilation[1];
    if (dims == 1) {
        g.sh = g.dh = 1;
        g.ph = 0;
    }
    int64_t outC = 0;
    std::array<int64_t, 2> out{1, 1};
    if (!transposed) {
        const int64_t OC = ws[0], Cg = ws[1];
        LAMINA_CHECK(Cx % groups == 0, op, ": groups ", groups, " must divide the input channels ", Cx,
                     " (input ", dims_str(x.shape()), ")");
        LAMINA_CHECK(OC % groups == 0, op, ": groups ", groups, " must divide the output channels ", OC,
                     " (weight ", dims_str(w.shape()), ")");
        LAMINA_CHECK(Cx == Cg * groups, op, ": expected input with ", Cg * groups, " channels (weight ",
                     dims_str(w.shape()), ", groups ", groups, "), got input ", dims_str(x.shape()));
        for (int a = a0; a < 2; ++a) {
            const int64_t s = a ? g.sw : g.sh, pd = a ? g.pw : g.ph, d = a ? g.dw : g.dh;
            const int64_t eff = d * (k[a] - 1) + 1;
            if (eff > in[a] + 2 * pd) {
                const bool dil = (dims == 1 ? g.dw == 1 : (g.dh == 1 && g.dw == 1));
                const std::string kstr =
                    dil ? detail::cat("kernel ", kernel_str(KH, KW, dims))
                        : detail::cat("dilated kernel ",
                                      kernel_str(g.dh * (KH - 1) + 1, g.dw * (KW - 1) + 1, dims),
                                      " (dilation*(kernel-1)+1)");
                throw ValueError(detail::cat(
                    desc, " -> output ", axis_name(a, dims), " ", out_size_expr(in[a], k[a], s, pd, d), ": ",
                    kstr, " is larger than the padded input ",
                    kernel_str(H + 2 * g.ph, Wd + 2 * g.pw, dims), " (", axis_letter(a, dims),
                    " + 2*padding); add padding or use a smaller kernel"));
            }
            out[a] = conv_out_size(in[a], k[a], s, pd, d);
        }
        pl.OC = OC;
        outC = OC;
        g.C = Cx;
        g.H = H;
        g.W = Wd;
        g.OH = out[0];
        g.OW = out[1];
        pl.x4 = xs;
        pl.out4 = {N, OC, g.OH, g.OW};
    } else {
        const int64_t Cin = ws[0], Coutg = ws[1];
        LAMINA_CHECK(Cin % groups == 0, op, ": groups ", groups, " must divide the input channels ", Cin,
                     " (weight ", dims_str(w.shape()), ")");
        LAMINA_CHECK(Cx == Cin, op, ": expected input with ", Cin, " channels (weight ", dims_str(w.shape()),
                     ", groups ", groups, "), got input ", dims_str(x.shape()));
        for (int a = a0; a < 2; ++a) {
            const int64_t s = a ? g.sw : g.sh, pd = a ? g.pw : g.ph, d = a ? g.dw : g.dh;
            const int64_t opad = p.output_padding[a];
            LAMINA_CHECK(opad >= 0 && (opad < s || opad < d), op, ": output_padding ",
                         pair_str(p.output_padding, dims), " must be smaller than either stride ",
                         pair_str(p.stride, dims), " or dilation ", pair_str(p.dilation, dims));
            out[a] = conv_transpose_out_size(in[a], k[a], s, pd, d, opad);
            LAMINA_CHECK(out[a] >= 1, desc, " -> output ", axis_name(a, dims), " ",
                         transpose_out_expr(in[a], k[a], s, pd, d, opad), " is not positive; reduce padding");
        }
        outC = Coutg * groups;
        pl.OC = Cin;  // the matching forward convolution maps outC channels to Cin
        g.C = outC;
        g.H = out[0];
        g.W = out[1];
        g.OH = H;
        g.OW = Wd;
        pl.x4 = {N, outC, out[0], out[1]};
        pl.out4 = xs;
    }
    pl.w4 = ws;
    if (b) {
        LAMINA_CHECK(b->dim() == 1 && b->shape()[0] == outC, op, ": expected bias of shape [", outC,
                     "], got bias of shape ", b->shape());
    }
    pl.out_shape = {N, outC, out[0], out[1]};
    if (dims == 1) pl.out_shape.erase(pl.out_shape.begin() + 2);
    if (!batched) pl.out_shape.erase(pl.out_shape.begin());
    return pl;
}

}  // namespace detail

}  // namespace lamina
