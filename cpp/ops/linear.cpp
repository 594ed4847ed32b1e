// Fused linear layer on the CPU (CUDA through the same gemm_into): the batch dimensions of x are
// folded into GEMM rows, the weight is handed to BLAS as a transposed view, and the bias is the
// GEMM's row_add on the CPU (broadcast into the output before a beta = 1 GEMM on CUDA), so no
// separate add pass is needed.
#include "linear.h"

#include "../core/parallel.h"
#include "copy.h"
#include "matmul.h"

namespace lamina {

namespace {

void check_linear(const Tensor& x, const Tensor& w, const std::optional<Tensor>& b) {
    LAMINA_CHECK(w.dim() == 2, "linear: weight must be 2-D [out_features, in_features], got shape ", w.shape());
    LAMINA_CHECK(x.dim() >= 1, "linear: input must have at least 1 dimension, got a scalar");
    LAMINA_CHECK(x.size(-1) == w.size(1), "linear: input of shape ", x.shape(), " has ", x.size(-1),
                 " features but weight of shape ", w.shape(), " expects ", w.size(1),
                 " (mat1 and mat2 shapes cannot be multiplied)");
    LAMINA_CHECK_TYPE(is_floating(x.dtype()) && x.dtype() == w.dtype(),
                      "linear: expected input and weight of the same floating dtype, got ",
                      dtype_name(x.dtype()), " and ", dtype_name(w.dtype()));
    if (b) {
        LAMINA_CHECK(b->dim() == 1 && b->size(0) == w.size(0), "linear: bias must have shape [",
                     w.size(0), "], got ", b->shape());
        LAMINA_CHECK_TYPE(b->dtype() == w.dtype(), "linear: bias dtype ", dtype_name(b->dtype()),
                          " differs from weight dtype ", dtype_name(w.dtype()));
    }
}

// Rows of the folded GEMM: every dimension but the last (explicit, so zero-size features work).
int64_t rows(const Tensor& x) { return shape_numel(Shape(x.shape().begin(), x.shape().end() - 1)); }

Shape out_shape(const Tensor& x, int64_t out_features) {
    Shape s(x.shape().begin(), x.shape().end() - 1);
    s.push_back(out_features);
    return s;
}

}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias) {
    check_linear(x, weight, bias);
    const int64_t IN = weight.size(1), OUT = weight.size(0);
    const int64_t R = rows(x);
    const Tensor x2 = x.reshape({R, IN});
    Tensor out = Tensor::empty(out_shape(x, OUT), x.dtype(), x.device());
    Tensor o2 = out.view({R, OUT});
    if (bias && x.device().is_cpu()) {
        // The bias enters the GEMM as its row_add: the x @ W^T order adds it in its first write of
        // C (no pass that fills the output first); the bits are those of the fill + beta = 1 below.
        const Tensor b = bias->contiguous();
        gemm_into_row_add(o2, x2, weight.transpose(0, 1), 1.0, b);
        return out;
    }
    if (bias) copy_(o2, *bias);  // broadcast the bias over rows, then accumulate the GEMM onto it
    gemm_into(o2, x2, weight.transpose(0, 1), 1.0, bias ? 1.0 : 0.0);
    return out;
}

namespace {

// A caller's destination for a parameter gradient: contiguous, on the parameter's device, its
// shape and dtype (it is returned as the gradient and adopted as .grad).
void check_grad_out(const Tensor& out, const Shape& shape, const Tensor& like, const char* what) {
    LAMINA_CHECK(out.shape() == shape, "linear backward: ", what, " destination of shape ", out.shape(),
                 " for a gradient of shape ", shape);
    LAMINA_CHECK_TYPE(out.dtype() == like.dtype(), "linear backward: ", what, " destination dtype ",
                      dtype_name(out.dtype()), " differs from ", dtype_name(like.dtype()));
    LAMINA_CHECK_RUNTIME(out.device() == like.device() && out.is_contiguous(), "linear backward: ", what,
                         " destination must be contiguous and on ", like.device());
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> linear_backward(const Tensor& dout_in, const Tensor& x, const Tensor& weight,
                                                   bool need_x, bool need_w, bool need_b,
                                                   const std::optional<Tensor>& dw_out,
                                                   const std::optional<Tensor>& db_out, double dw_scale,
                                                   double db_scale) {
    const int64_t IN = weight.size(1), OUT = weight.size(0);
    LAMINA_CHECK(dout_in.shape() == out_shape(x, OUT), "linear backward: gradient of shape ", dout_in.shape(),
                 " does not match the output shape ", out_shape(x, OUT));
    const int64_t R = rows(x);
    const Tensor d2 = dout_in.to(x.dtype()).reshape({R, OUT});
    Tensor dx, dw, db;
    if (need_x) {
        dx = Tensor::empty(x.shape(), x.dtype(), x.device());
        Tensor dx2 = dx.view({R, IN});
        gemm_into(dx2, d2, weight, 1.0, 0.0);  // [R,OUT] @ [OUT,IN]
    }
    if (need_w) {
        if (dw_out) check_grad_out(*dw_out, weight.shape(), weight, "weight gradient");
        dw = dw_out ? *dw_out : Tensor::empty(weight.shape(), weight.dtype(), weight.device());
        gemm_into(dw, d2.transpose(0, 1), x.reshape({R, IN}), dw_scale, 0.0);  // [OUT,R] @ [R,IN]
    }
    if (need_b) {
        if (db_out) check_grad_out(*db_out, Shape{OUT}, x, "bias gradient");
        db = db_out ? *db_out : Tensor::empty({OUT}, x.dtype(), x.device());
        if (!x.device().is_cpu()) {
            // ones[1,R] @ dy[R,OUT]: a GEMV through the GEMM door works on every device.
            Tensor ones = Tensor::empty({1, R}, x.dtype());
            dispatch_float(x.dtype(), "linear", [&](auto tag) {
                using T = decltype(tag);
                for (int64_t r = 0; r < R; ++r) ones.data<T>()[r] = T(1);
            });
            Tensor db2 = db.view({1, OUT});
            gemm_into(db2, ones.to(x.device()), d2, db_scale, 0.0);
        } else {
            const Tensor dc = d2.contiguous();
            dispatch_float(x.dtype(), "linear", [&](auto tag) {
                using T = decltype(tag);
                const T* g = dc.data<T>();
                T* o = db.data<T>();
                const T s = static_cast<T>(db_scale);
                // Threads own column ranges; rows are walked in order so each row is read contiguously.
                const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(R, 1));
                parallel_for(0, OUT, grain, [&](int64_t cb, int64_t ce) {
                    for (int64_t c = cb; c < ce; ++c) o[c] = T(0);
                    for (int64_t r = 0; r < R; ++r) {
                        const T* row = g + r * OUT;
                        for (int64_t c = cb; c < ce; ++c) o[c] += row[c];
                    }
                    if (s != T(1))
                        for (int64_t c = cb; c < ce; ++c) o[c] *= s;
                });
            });
        }
    }
    return {dx, dw, db};
}

}  // namespace lamina
