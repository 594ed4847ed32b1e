// matmul forward and backward: everything funnels into gemm_into, which finds a BLAS-compatible
// layout for each operand (plain or transposed) before copying anything. The backward hands BLAS
// transposed views and sums over broadcast batch dimensions by accumulating GEMMs (beta = 1).
#include "matmul.h"

#include <vector>

#include "../core/blas.h"
#include "../core/index_math.h"
#include "../cuda/cuda_api.h"

namespace lamina {

namespace {

// How a 2-D operand [R, C] can be handed to BLAS without a copy.
struct BlasOperand {
    Tensor t;       // possibly a contiguous copy
    bool trans;     // stored column-major (a transposed view)
    int64_t ld;     // leading dimension
};

BlasOperand as_blas_operand(const Tensor& x) {
    const int64_t R = x.shape()[0], C = x.shape()[1];
    const int64_t s0 = x.strides()[0], s1 = x.strides()[1];
    // Row-major: unit column stride (any stride is fine for a single column), row stride >= C.
    if ((s1 == 1 || C == 1) && (s0 >= std::max<int64_t>(C, 1) || R == 1))
        return {x, false, R == 1 ? std::max<int64_t>(C, 1) : s0};
    // Column-major (e.g. w.t()): unit row stride, column stride >= R.
    if ((s0 == 1 || R == 1) && (s1 >= std::max<int64_t>(R, 1) || C == 1))
        return {x, true, C == 1 ? std::max<int64_t>(R, 1) : s1};
    Tensor c = x.contiguous();
    return {c, false, std::max<int64_t>(C, 1)};
}

std::string op_shapes(const Tensor& a, const Tensor& b) {
    return detail::cat("matmul: shapes ", a.shape(), " and ", b.shape());
}

}  // namespace

namespace {

void gemm_into_impl(Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta,
                    const Tensor* row_add) {
    LAMINA_CHECK(a.dim() == 2 && b.dim() == 2 && out.dim() == 2, "gemm: expected 2-D operands, got ",
                 a.shape(), ", ", b.shape(), " -> ", out.shape());
    const int64_t M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
    LAMINA_CHECK(b.shape()[0] == K, op_shapes(a, b), " cannot be multiplied (", M, "x", K, " and ",
                 b.shape()[0], "x", N, ")");
    LAMINA_CHECK(out.shape()[0] == M && out.shape()[1] == N, "gemm: output shape ", out.shape(),
                 " does not match ", Shape{M, N});
    LAMINA_CHECK_TYPE(a.dtype() == b.dtype() && a.dtype() == out.dtype(),
                      "matmul: expected both operands to have the same dtype, got ",
                      dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
    LAMINA_CHECK_RUNTIME(a.device() == b.device() && a.device() == out.device(),
                         "matmul: expected all tensors on the same device, got ", a.device(), " and ",
                         b.device());
    LAMINA_CHECK_RUNTIME(out.strides()[1] == 1 || N <= 1, "gemm: output must have unit column stride");
    const BlasOperand A = as_blas_operand(a), B = as_blas_operand(b);
    const int64_t ldc = M == 1 ? std::max<int64_t>(N, 1) : out.strides()[0];
    if (row_add)
        LAMINA_CHECK_RUNTIME(out.device().is_cpu() && row_add->device().is_cpu() && row_add->is_contiguous() &&
                                 row_add->numel() == N && row_add->dtype() == out.dtype(),
                             "gemm: row_add must be a contiguous CPU tensor of ", N, " ", dtype_name(out.dtype()),
                             " values");
    if (out.device().is_cuda()) {
        cuda::gemm(out.dtype(), A.trans, B.trans, M, N, K, alpha, A.t.data_ptr(), A.ld, B.t.data_ptr(),
                   B.ld, beta, out.data_ptr(), ldc);
        return;
    }
    dispatch_float(out.dtype(), "matmul", [&](auto tag) {
        using T = decltype(tag);
        gemm(A.trans, B.trans, M, N, K, static_cast<T>(alpha), A.t.data<T>(), A.ld, B.t.data<T>(), B.ld,
             static_cast<T>(beta), out.data<T>(), ldc, row_add ? row_add->data<T>() : nullptr);
    });
}

}  // namespace

void gemm_into(Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta) {
    gemm_into_impl(out, a, b, alpha, beta, nullptr);
}

void gemm_into_row_add(Tensor& out, const Tensor& a, const Tensor& b, double alpha, const Tensor& row_add) {
    gemm_into_impl(out, a, b, alpha, 1.0, &row_add);
}

Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in) {
    LAMINA_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both arguments need at least 1 dimension, got shapes ",
                 a_in.shape(), " and ", b_in.shape());
    LAMINA_CHECK_TYPE(is_floating(a_in.dtype()) && a_in.dtype() == b_in.dtype(),
                      "matmul: expected two floating-point tensors of the same dtype, got ",
                      dtype_name(a_in.dtype()), " and ", dtype_name(b_in.dtype()));
    const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
    const Tensor a = a_vec ? a_in.unsqueeze(0) : a_in;    // [K] -> [1, K]
    const Tensor b = b_vec ? b_in.unsqueeze(-1) : b_in;   // [K] -> [K, 1]
    const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    LAMINA_CHECK(b.size(-2) == K, op_shapes(a_in, b_in), " cannot be multiplied (inner dimensions ", K,
                 " and ", b.size(-2), " differ)");
    const Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
    const Shape batch = broadcast_shapes(ab, bb, "matmul (batch dimensions)");

    Shape out_shape = batch;
    out_shape.push_back(M);
    out_shape.push_back(N);
    Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());

    if (batch.empty()) {
        gemm_into(out, a, b, 1.0, 0.0);
    } else if (bb.empty() && a.is_contiguous()) {
        // [..., M, K] @ [K, N]: one tall GEMM over all batch rows.
        const int64_t rows = shape_numel(batch) * M;  // explicit: -1 is ambiguous when K == 0
        Tensor a2 = a.reshape({rows, K});
        Tensor o2 = out.view({rows, N});
        gemm_into(o2, a2, b, 1.0, 0.0);
    } else {
        Shape sa = batch, sb = batch;
        sa.insert(sa.end(), {M, K});
        sb.insert(sb.end(), {K, N});
        const Tensor ae = a.expand(sa), be = b.expand(sb);
        const int64_t nb = shape_numel(batch);
        // Walk the batch index with strided math (broadcast batch dims have stride 0).
        StridedIndexer<2> ix;
        ix.ndim = static_cast<int>(batch.size());
        LAMINA_CHECK_RUNTIME(ix.ndim <= kMaxDims, "matmul: too many batch dimensions");
        for (int d = 0; d < ix.ndim; ++d) {
            ix.sizes[d] = batch[d];
            ix.strides[0][d] = ae.strides()[d];
            ix.strides[1][d] = be.strides()[d];
        }
        const Shape sa2{M, K}, sb2{K, N}, ta2(ae.strides().end() - 2, ae.strides().end()),
            tb2(be.strides().end() - 2, be.strides().end());
        Tensor o3 = out.view({nb, M, N});
        for (int64_t i = 0; i < nb; ++i) {
            Tensor ai = ae.as_strided(sa2, ta2, ae.offset() + ix.offset(i, 0));
            Tensor bi = be.as_strided(sb2, tb2, be.offset() + ix.offset(i, 1));
            Tensor oi = o3.select(0, i);
            gemm_into(oi, ai, bi, 1.0, 0.0);
        }
    }
    if (a_vec) out = out.squeeze(-2);
    if (b_vec) out = out.squeeze(-1);
    return out;
}

namespace {

// out[i] = l[i] @ r[i] for every index i of `batch`, where l, r, out have been expanded to
// batch + [2-D]. `out` views a contiguous buffer of `nslots` matrices and may be broadcast
// (stride 0) along batch dimensions: the first GEMM into a slot overwrites it (beta = 0), later
// ones accumulate (beta = 1), which is the sum over the broadcast dimensions the gradient needs.
void batched_gemm_sum(Tensor& out, const Tensor& l, const Tensor& r, const Shape& batch, int64_t nslots) {
    if (out.numel() == 0) return;
    const int nd = static_cast<int>(batch.size());
    LAMINA_CHECK_RUNTIME(nd <= kMaxDims, "matmul: too many batch dimensions");
    StridedIndexer<3> ix;
    ix.ndim = nd;
    for (int d = 0; d < nd; ++d) {
        ix.sizes[d] = batch[d];
        ix.strides[0][d] = out.strides()[d];
        ix.strides[1][d] = l.strides()[d];
        ix.strides[2][d] = r.strides()[d];
    }
    auto last2 = [](const Tensor& t, bool strides) {
        const Shape& v = strides ? t.strides() : t.shape();
        return Shape(v.end() - 2, v.end());
    };
    const Shape so = last2(out, false), to = last2(out, true), sl = last2(l, false), tl = last2(l, true),
                sr = last2(r, false), tr = last2(r, true);
    const int64_t slot_size = std::max<int64_t>(1, so[0] * so[1]);
    std::vector<char> written(static_cast<size_t>(nslots), 0);
    const int64_t nb = shape_numel(batch);
    for (int64_t i = 0; i < nb; ++i) {
        const int64_t oo = ix.offset(i, 0);
        Tensor oi = out.as_strided(so, to, out.offset() + oo);
        const Tensor li = l.as_strided(sl, tl, l.offset() + ix.offset(i, 1));
        const Tensor ri = r.as_strided(sr, tr, r.offset() + ix.offset(i, 2));
        char& w = written[static_cast<size_t>(oo / slot_size)];
        gemm_into(oi, li, ri, 1.0, w ? 1.0 : 0.0);
        w = 1;
    }
}

Shape with_last2(const Shape& batch, int64_t r, int64_t c) {
    Shape s = batch;
    s.push_back(r);
    s.push_back(c);
    return s;
}

}  // namespace

std::pair<Tensor, Tensor> matmul_backward(const Tensor& dout_in, const Tensor& a_in, const Tensor& b_in,
                                          bool need_a, bool need_b) {
    const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
    const Tensor a = a_vec ? a_in.unsqueeze(0) : a_in;
    const Tensor b = b_vec ? b_in.unsqueeze(-1) : b_in;
    const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    const Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
    const Shape batch = broadcast_shapes(ab, bb, "matmul (batch dimensions)");
    const Shape out_shape = with_last2(batch, M, N);
    // Undo the 1-D promotion on dout: [..., N] -> [..., 1, N] and/or [..., M] -> [..., M, 1].
    Tensor dout = dout_in.to(a.dtype());
    if (b_vec) dout = dout.unsqueeze(-1);
    if (a_vec) dout = dout.unsqueeze(-2);
    LAMINA_CHECK(dout.shape() == out_shape, "matmul backward: gradient of shape ", dout_in.shape(),
                 " does not match the output of ", a_in.shape(), " @ ", b_in.shape());

    Tensor da, db;
    if (need_a) da = Tensor::empty(a.shape(), a.dtype(), a.device());
    if (need_b) db = Tensor::empty(b.shape(), b.dtype(), b.device());
    const Tensor bt = b.transpose(-2, -1), at = a.transpose(-2, -1);
    if (batch.empty()) {
        if (need_a) gemm_into(da, dout, bt, 1.0, 0.0);  // [M,N] @ [N,K]
        if (need_b) gemm_into(db, at, dout, 1.0, 0.0);  // [K,M] @ [M,N]
    } else if (bb.empty()) {
        // b is one matrix shared by every batch: fold the batch into the rows (one tall GEMM each).
        const int64_t rows = shape_numel(batch) * M;
        const Tensor d2 = dout.reshape({rows, N});
        if (need_a) {
            Tensor da2 = da.view({rows, K});
            gemm_into(da2, d2, bt, 1.0, 0.0);
        }
        if (need_b) {
            const Tensor a2 = a.reshape({rows, K});
            gemm_into(db, a2.transpose(0, 1), d2, 1.0, 0.0);  // sums over batch rows for free
        }
    } else {
        if (need_a) {
            Tensor dae = da.expand(with_last2(batch, M, K));
            batched_gemm_sum(dae, dout, bt.expand(with_last2(batch, N, K)), batch, shape_numel(ab));
        }
        if (need_b) {
            Tensor dbe = db.expand(with_last2(batch, K, N));
            batched_gemm_sum(dbe, at.expand(with_last2(batch, K, M)), dout, batch, shape_numel(bb));
        }
    }
    if (need_a && a_vec) da = da.squeeze(0);
    if (need_b && b_vec) db = db.squeeze(-1);
    return {da, db};
}

}  // namespace lamina
