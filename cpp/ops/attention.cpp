// Scaled dot-product attention on the CPU: each thread takes whole batch items (batch * heads) and
// runs two GEMMs around a row-wise masked softmax for each; the backward recomputes the dropout mask
// from (seed, offset) and runs the four GEMMs of dQ, dK, dV on the saved probabilities.
#include "attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "../core/blas.h"
#include "../core/check.h"
#include "../core/fastmath.h"
#include "../core/parallel.h"
#include "../core/random.h"
#include "dropout.h"
#include "softmax_line.h"

namespace lamina {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }
Shape with_inner(Shape b, int64_t r, int64_t c) {
    b.push_back(r);
    b.push_back(c);
    return b;
}

// A [*B, R, C] operand seen as nb matrices: base pointer offsets by flattened batch index and a row
// stride ld with unit column stride, so BLAS reads broadcast (stride-0) and transposed-head views
// (e.g. [N*H, L, hd] carved out of [L, N, E]) without a copy.
struct Batched {
    Tensor t;
    int64_t ld = 0;
    Shape bshape, bstrides;
    int64_t offset(int64_t b) const {
        int64_t off = 0;
        for (int64_t d = static_cast<int64_t>(bshape.size()) - 1; d >= 0; --d) {
            off += (b % bshape[d]) * bstrides[d];
            b /= bshape[d];
        }
        return off;
    }
};

Batched batched(const Tensor& x_in, const Shape& B, bool blas) {
    Tensor x = x_in;
    const int64_t R = x.size(-2), C = x.size(-1);
    const bool ok = (x.stride(-1) == 1 || C <= 1) && (x.stride(-2) >= std::max<int64_t>(C, 1) || R <= 1);
    if (blas && !ok) x = x.contiguous();
    Batched r;
    r.t = x.expand(with_inner(B, R, C));
    r.ld = R <= 1 ? std::max<int64_t>(C, 1) : r.t.stride(-2);
    r.bshape = B;
    r.bstrides = Shape(r.t.strides().begin(), r.t.strides().end() - 2);
    return r;
}

// A caller's output tensor [*B, R, C] written in place (MultiheadAttention passes head views of
// its [N, L, E] buffers, so no merge-heads copy follows): shape, dtype and unit column stride are
// checked, so batched() never substitutes a contiguous copy.
Batched output_into(const Tensor& t, const Shape& B, int64_t R, int64_t C, DType dt, const char* what) {
    LAMINA_CHECK(t.shape() == with_inner(B, R, C), kOp, ": ", what, " has shape ", t.shape(), ", expected ",
                 with_inner(B, R, C));
    LAMINA_CHECK_TYPE(t.dtype() == dt, kOp, ": ", what, " has dtype ", dtype_name(t.dtype()), ", expected ",
                      dtype_name(dt));
    LAMINA_CHECK((t.stride(-1) == 1 || C <= 1) && (t.stride(-2) >= std::max<int64_t>(C, 1) || R <= 1), kOp, ": ",
                 what, " needs unit column stride and rows at least a row apart, got strides ",
                 detail::cat(t.strides()));
    return batched(t, B, true);
}

// Shared argument checks; returns the broadcast batch shape.
Shape check_args(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask) {
    LAMINA_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, kOp,
                 ": query, key and value need at least 2 dimensions ([..., L, E], [..., S, E], [..., S, Ev]), got ",
                 q.shape(), ", ", k.shape(), " and ", v.shape());
    LAMINA_CHECK_TYPE(is_floating(q.dtype()) && q.dtype() == k.dtype() && q.dtype() == v.dtype(), kOp,
                      ": expected query, key and value of one floating dtype, got ", dtype_name(q.dtype()), ", ",
                      dtype_name(k.dtype()), " and ", dtype_name(v.dtype()));
    LAMINA_CHECK_RUNTIME(q.device().is_cpu() && k.device().is_cpu() && v.device().is_cpu(), kOp,
                         ": only implemented for CPU tensors");
    LAMINA_CHECK(q.size(-1) == k.size(-1), kOp, ": query ", q.shape(), " and key ", k.shape(),
                 " must have the same last dimension E");
    LAMINA_CHECK(k.size(-2) == v.size(-2), kOp, ": key ", k.shape(), " and value ", v.shape(),
                 " must have the same number of keys S (dimension -2)");
    const std::string what = detail::cat(kOp, ": batch dimensions of query ", q.shape(), ", key ", k.shape(),
                                         " and value ", v.shape());
    Shape B = broadcast_shapes(broadcast_shapes(batch_of(q.shape()), batch_of(k.shape()), what.c_str()),
                               batch_of(v.shape()), what.c_str());
    if (mask) {
        const int64_t L = q.size(-2), S = k.size(-2);
        const Shape& ms = mask->shape();
        const int64_t nd = mask->dim();
        const int64_t mL = nd >= 2 ? ms[nd - 2] : 1, mS = nd >= 1 ? ms[nd - 1] : 1;
        LAMINA_CHECK((mL == 1 || mL == L) && (mS == 1 || mS == S), kOp, ": attn_mask ", ms,
                     " is not broadcastable to the attention shape [..., L, S] = [..., ", L, ", ", S, "]");
        LAMINA_CHECK_TYPE(mask->dtype() == DType::Bool || mask->dtype() == q.dtype(), kOp,
                          ": attn_mask must be bool or have the query's dtype ", dtype_name(q.dtype()), ", got ",
                          dtype_name(mask->dtype()));
        if (nd > 2) {
            const std::string mw = detail::cat(kOp, ": attn_mask ", ms, " and the batch shape ", B, " of query ",
                                               q.shape());
            B = broadcast_shapes(B, batch_of(ms), mw.c_str());
        }
    }
    return B;
}

// Work per thread: a batch item is worth a fork only when its GEMMs are big enough.
int64_t batch_grain(int64_t L, int64_t S, int64_t E, int64_t Ev) {
    return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, L * S * (E + Ev)));
}

// dst[i] = src[i] / (1 - p) where element base + i of the dropout stream is kept, else 0 (in place
// is fine): the forward's mask, rebuilt in the backward from (seed, offset) instead of stored.
template <class T>
void drop_scaled(T* dst, const T* src, int64_t n, uint64_t seed, uint64_t offset, uint64_t base, double p,
                 T keep_scale) {
    for (int64_t i = 0; i < n; ++i)
        dst[i] = dropout_keep(seed, offset, base + static_cast<uint64_t>(i), p) ? src[i] * keep_scale : T(0);
}

// parallel_for over batch items (gemm inside a region runs on the calling thread, see blas.h).
template <class F>
void for_batches(int64_t nb, int64_t grain, const F& f) {
    parallel_for(0, nb, grain, f);
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor, uint64_t, uint64_t> sdpa_forward(
    const Tensor& q, const Tensor& k, const Tensor& v, const std::optional<Tensor>& mask_in,
    double dropout_p, bool is_causal, double scale, bool return_weights, bool safe_softmax,
    const std::optional<Tensor>& out_into) {
    const Shape B = check_args(q, k, v, mask_in ? &*mask_in : nullptr);
    LAMINA_CHECK(!(mask_in && is_causal), kOp, ": attn_mask and is_causal cannot both be set");
    LAMINA_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, kOp, ": dropout_p has to be between 0 and 1, but got ",
                 dropout_p);
    const int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1), Ev = v.size(-1);
    const int64_t nb = shape_numel(B);
    const Batched Q = batched(q, B, true), K = batched(k, B, true), V = batched(v, B, true);
    std::optional<Batched> M;
    if (mask_in) {
        Tensor m = *mask_in;
        while (m.dim() < 2) m = m.unsqueeze(0);
        M = batched(m, B, false);
        M->t = M->t.expand(with_inner(B, L, S));
    }
    const Batched O = out_into ? output_into(*out_into, B, L, Ev, q.dtype(), "out")
                               : batched(Tensor::empty(with_inner(B, L, Ev), q.dtype()), B, true);
    Tensor out = out_into ? *out_into : O.t;
    Tensor probs = Tensor::empty(with_inner(B, L, S), q.dtype());
    const bool drop = dropout_p > 0.0;
    Tensor weights = return_weights && drop ? Tensor::empty(with_inner(B, L, S), q.dtype()) : Tensor();
    uint64_t seed = 0, offset = 0;
    if (drop) {
        Generator& g = default_generator();
        seed = g.seed;
        offset = g.reserve(static_cast<uint64_t>(nb * L * S));
    }
    if (nb == 0 || L == 0 || (S == 0 && Ev == 0)) return {out, probs, weights, seed, offset};
    const double keep_scale = dropout_p < 1.0 ? 1.0 / (1.0 - dropout_p) : 0.0;
    dispatch_float(q.dtype(), kOp, [&](auto tag) {
        using T = decltype(tag);
        const T* qp = Q.t.data<T>();
        const T* kp = K.t.data<T>();
        const T* vp = V.t.data<T>();
        T* op = O.t.data<T>();
        T* pp = probs.data<T>();
        T* wp = weights.defined() ? weights.data<T>() : nullptr;
        const bool bool_mask = M && M->t.dtype() == DType::Bool;
        const int64_t mls = M ? M->t.stride(-2) : 0, mss = M ? M->t.stride(-1) : 0;
        const T ninf = -std::numeric_limits<T>::infinity();
        const T masked_row = safe_softmax ? T(0) : std::numeric_limits<T>::quiet_NaN();
        for_batches(nb, batch_grain(L, S, E, Ev), [&](int64_t b0, int64_t b1) {
            std::vector<T> scratch(drop && !wp ? static_cast<size_t>(L * S) : 0);
            for (int64_t b = b0; b < b1; ++b) {
                T* P = pp + b * L * S;
                gemm(false, true, L, S, E, static_cast<T>(scale), qp + Q.offset(b), Q.ld, kp + K.offset(b), K.ld,
                     T(0), P, std::max<int64_t>(S, 1));
                for (int64_t l = 0; l < L; ++l) {
                    T* row = P + l * S;
                    if (M) {
                        const int64_t base = M->offset(b) + l * mls;
                        if (bool_mask) {
                            const bool* mp = M->t.data<bool>() + base;
                            for (int64_t s = 0; s < S; ++s) row[s] = mp[s * mss] ? row[s] : ninf;
                        } else {
                            const T* mp = M->t.data<T>() + base;
                            for (int64_t s = 0; s < S; ++s) row[s] += mp[s * mss];
                        }
                    }
                    if (is_causal)
                        for (int64_t s = l + 1; s < S; ++s) row[s] = ninf;
                    T mx = ninf;
#pragma omp simd reduction(max : mx)
                    for (int64_t s = 0; s < S; ++s) mx = row[s] > mx ? row[s] : mx;
                    if (mx == ninf) {  // every key masked (PyTorch: 0 in sdpa, NaN in softmax)
                        std::fill(row, row + S, masked_row);
                        continue;
                    }
                    softmax_line_unit(row, row, S, false);  // vectorised, in place (softmax_line.h)
                }
                const T* A = P;
                if (drop) {
                    T* D = wp ? wp + b * L * S : scratch.data();
                    drop_scaled(D, P, L * S, seed, offset, static_cast<uint64_t>(b * L * S), dropout_p,
                                static_cast<T>(keep_scale));
                    A = D;
                }
                gemm(false, false, L, Ev, S, T(1), A, std::max<int64_t>(S, 1), vp + V.offset(b), V.ld, T(0),
                     op + O.offset(b), O.ld);
            }
        });
    });
    return {out, probs, weights, seed, offset};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> sdpa_backward(
    const Tensor& dout_in, const std::optional<Tensor>& dweights_in, const Tensor& q, const Tensor& k,
    const Tensor& v, const Tensor& probs_in, double dropout_p, uint64_t seed, uint64_t offset, double scale,
    bool need_q, bool need_k, bool need_v, bool need_mask, const std::optional<Tensor>& dq_into,
    const std::optional<Tensor>& dk_into, const std::optional<Tensor>& dv_into) {
    const Shape B = check_args(q, k, v, nullptr);
    const int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1), Ev = v.size(-1);
    const int64_t nb = shape_numel(B);
    LAMINA_CHECK(dout_in.shape() == with_inner(B, L, Ev), kOp, " backward: gradient shape ", dout_in.shape(),
                 " does not match the output shape ", with_inner(B, L, Ev));
    LAMINA_CHECK(probs_in.shape() == with_inner(B, L, S), kOp, " backward: probabilities ", probs_in.shape(),
                 " do not match ", with_inner(B, L, S));
    if (dweights_in)
        LAMINA_CHECK(dweights_in->shape() == with_inner(B, L, S), kOp, " backward: weights gradient ",
                     dweights_in->shape(), " does not match ", with_inner(B, L, S));
    const Batched Q = batched(q, B, true), K = batched(k, B, true), V = batched(v, B, true);
    const Batched DO = batched(dout_in, B, true);  // strided (e.g. a head view of [N, L, E]) read in place
    const Tensor probs = probs_in.contiguous();
    const Tensor dw = dweights_in ? dweights_in->contiguous() : Tensor();
    // dQ, dK, dV: the caller's tensors when given (written in place), else new contiguous ones.
    auto grad_out = [&](bool need, const std::optional<Tensor>& into, int64_t R, int64_t C, const char* what) {
        if (!need) return Batched{};
        if (into) return output_into(*into, B, R, C, q.dtype(), what);
        return batched(Tensor::empty(with_inner(B, R, C), q.dtype()), B, true);
    };
    const Batched DQ = grad_out(need_q, dq_into, L, E, "dq"), DK = grad_out(need_k, dk_into, S, E, "dk"),
                  DV = grad_out(need_v, dv_into, S, Ev, "dv");
    Tensor dq = need_q ? (dq_into ? *dq_into : DQ.t) : Tensor();
    Tensor dk = need_k ? (dk_into ? *dk_into : DK.t) : Tensor();
    Tensor dv = need_v ? (dv_into ? *dv_into : DV.t) : Tensor();
    Tensor dmask = need_mask ? Tensor::empty(with_inner(B, L, S), q.dtype()) : Tensor();
    const bool drop = dropout_p > 0.0, need_ds = need_q || need_k || need_mask;
    const double keep_scale = dropout_p < 1.0 ? 1.0 / (1.0 - dropout_p) : 0.0;
    if (nb == 0) return {dq, dk, dv, dmask};
    dispatch_float(q.dtype(), kOp, [&](auto tag) {
        using T = decltype(tag);
        const T* qp = Q.t.data<T>();
        const T* kp = K.t.data<T>();
        const T* vp = V.t.data<T>();
        const T* gp = DO.t.data<T>();
        const T* pp = probs.data<T>();
        const T* wgp = dw.defined() ? dw.data<T>() : nullptr;
        const T ks = static_cast<T>(keep_scale);
        const int64_t ldp = std::max<int64_t>(S, 1), ldo = DO.ld;
        for_batches(nb, batch_grain(L, S, E, Ev), [&](int64_t b0, int64_t b1) {
            std::vector<T> a_buf(drop ? static_cast<size_t>(L * S) : 0);
            std::vector<T> ds_buf(need_ds && !need_mask ? static_cast<size_t>(L * S) : 0);
            for (int64_t b = b0; b < b1; ++b) {
                const T* P = pp + b * L * S;
                const T* dO = gp + DO.offset(b);
                const uint64_t base = static_cast<uint64_t>(b * L * S);
                const T* A = P;  // the probabilities that multiplied V (after dropout)
                if (drop) {
                    drop_scaled(a_buf.data(), P, L * S, seed, offset, base, dropout_p, ks);
                    A = a_buf.data();
                }
                if (need_v)
                    gemm(true, false, S, Ev, L, T(1), A, ldp, dO, ldo, T(0), DV.t.data<T>() + DV.offset(b), DV.ld);
                if (!need_ds) continue;
                T* dS = need_mask ? dmask.data<T>() + b * L * S : ds_buf.data();
                gemm(false, true, L, S, Ev, T(1), dO, ldo, vp + V.offset(b), V.ld, T(0), dS, ldp);
                if (wgp) {
                    const T* g = wgp + b * L * S;
                    for (int64_t i = 0; i < L * S; ++i) dS[i] += g[i];
                }
                if (drop) drop_scaled(dS, dS, L * S, seed, offset, base, dropout_p, ks);
                for (int64_t l = 0; l < L; ++l) {
                    T* d = dS + l * S;
                    const T* p = P + l * S;
                    double acc = 0;
#pragma omp simd reduction(+ : acc)
                    for (int64_t s = 0; s < S; ++s) acc += static_cast<double>(d[s]) * p[s];
                    const T t = static_cast<T>(acc);
#pragma omp simd
                    for (int64_t s = 0; s < S; ++s) d[s] = p[s] * (d[s] - t);
                }
                if (need_q)
                    gemm(false, false, L, E, S, static_cast<T>(scale), dS, ldp, kp + K.offset(b), K.ld, T(0),
                         DQ.t.data<T>() + DQ.offset(b), DQ.ld);
                if (need_k)
                    gemm(true, false, S, E, L, static_cast<T>(scale), dS, ldp, qp + Q.offset(b), Q.ld, T(0),
                         DK.t.data<T>() + DK.offset(b), DK.ld);
            }
        });
    });
    return {dq, dk, dv, dmask};
}

}  // namespace lamina
