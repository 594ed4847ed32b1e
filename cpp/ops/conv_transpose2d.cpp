// conv_transpose2d / conv_transpose1d. With conv(X; W) the convolution whose weight is ours and
// whose input has our output's shape, our forward is conv's data gradient applied to x, and our
// backward uses conv's forward (dx) and conv's weight gradient with x as "dY" and dout as "X".
#include "conv_transpose2d.h"

#include <algorithm>

#include "../core/check.h"
#include "../core/parallel.h"

namespace lamina {

Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const OptTensor& b, const ConvParams& p) {
    const char* op = p.dims == 1 ? "conv_transpose1d" : "conv_transpose2d";
    const detail::ConvPlan pl = detail::plan_conv(op, x, w, b, p, true);
    const Tensor xc = x.contiguous().reshape(pl.out4), wc = w.contiguous().reshape(pl.w4);
    Tensor out = detail::conv_data_grad_cpu(xc, wc, pl);
    if (b) {
        const Tensor bc = b->contiguous();
        dispatch_float(out.dtype(), op, [&](auto tag) {
            using T = decltype(tag);
            const int64_t C = pl.g.C, L = pl.g.H * pl.g.W;
            const T* bp = bc.data<T>();
            T* o = out.data<T>();
            parallel_for(0, pl.N * C, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, L)),
                         [&](int64_t r0, int64_t r1) {
                             for (int64_t r = r0; r < r1; ++r) {
                                 const T v = bp[r % C];
                                 T* row = o + r * L;
                                 for (int64_t i = 0; i < L; ++i) row[i] += v;
                             }
                         });
        });
    }
    return out.view(pl.out_shape);
}

ConvGrads conv_transpose2d_backward(const Tensor& dout, const Tensor& x, const Tensor& w,
                                    const ConvParams& p, bool need_dx, bool need_dw, bool need_db) {
    const char* op = p.dims == 1 ? "conv_transpose1d backward" : "conv_transpose2d backward";
    const detail::ConvPlan pl = detail::plan_conv(op, x, w, std::nullopt, p, true);
    LAMINA_CHECK(dout.shape() == pl.out_shape, op, ": expected dout of shape ", pl.out_shape, ", got ",
                 dout.shape());
    LAMINA_CHECK_TYPE(dout.dtype() == x.dtype(), op, ": dout dtype ", dtype_name(dout.dtype()),
                      " differs from input dtype ", dtype_name(x.dtype()));
    const Tensor dy = dout.contiguous().reshape(pl.x4);  // the forward conv's input
    OptTensor dx, dw, db;
    if (need_dx)
        dx = detail::conv_forward_cpu(dy, w.contiguous().reshape(pl.w4), std::nullopt, pl).view(x.shape());
    if (need_dw)
        dw = detail::conv_weight_grad_cpu(x.contiguous().reshape(pl.out4), dy, pl).view(w.shape());
    if (need_db) db = detail::conv_bias_grad_cpu(dy);
    return {dx, dw, db};
}

}  // namespace lamina
