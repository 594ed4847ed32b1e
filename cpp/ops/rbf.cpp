// RBF and conic-section (CSFN) units on the CPU. Distances are summed directly over (x - c)
// rather than through ||x||^2 - 2 x.c + ||c||^2, which cancels badly when x is near a centre;
// the backward turns the per-pair weights into GEMMs (G @ C, G^T @ X) plus row/column sums.
#include "rbf.h"

#include <cmath>
#include <vector>

#include "../core/parallel.h"
#include "../core/vec_math.h"
#include "matmul.h"
#include "vec_sum.h"

namespace lamina {

namespace {

void check_pair(const char* op, const Tensor& x, const Tensor& c, const char* cname, const Tensor& v,
                const char* vname) {
    LAMINA_CHECK(x.dim() == 2, op, ": x must be 2-D [N, D], got shape ", x.shape());
    LAMINA_CHECK(c.dim() == 2 && c.size(1) == x.size(1), op, ": ", cname, " must have shape [K, ", x.size(1),
                 "] to match x of shape ", x.shape(), ", got ", c.shape());
    LAMINA_CHECK(v.dim() == 1 && v.size(0) == c.size(0), op, ": ", vname, " must have shape [", c.size(0),
                 "], got ", v.shape());
    LAMINA_CHECK_TYPE(is_floating(x.dtype()) && x.dtype() == c.dtype() && x.dtype() == v.dtype(), op,
                      ": expected floating tensors of one dtype, got x ", dtype_name(x.dtype()), ", ", cname, " ",
                      dtype_name(c.dtype()), ", ", vname, " ", dtype_name(v.dtype()));
    LAMINA_CHECK_RUNTIME(x.device().is_cpu() && c.device().is_cpu() && v.device().is_cpu(), op,
                         ": only implemented for CPU tensors");
}

// d2[n,k] = ||x_n - c_k||^2, vectorised across k: centres transposed to ct [D, K] (K padded to a
// whole number of vectors), a register block of 4 rows of x by 2 vectors of centres, each (n, k)
// summed over i in its own lane, in the same order as the scalar loop (x_ni - c_ki)^2 summed over
// i. The scalar loop was a 4-cycle add chain per term (RBF forward 8x PyTorch's time).
template <class T>
void sq_dists(const T* x, const T* c, int64_t N, int64_t K, int64_t D, T* d2) {
    using V = vec::Vectorized<T>;
    constexpr int W = V::size();
    const int64_t KV = (K + W - 1) / W, KP = KV * W;
    std::vector<T> ct(static_cast<size_t>(D * KP), T(0));
    for (int64_t k = 0; k < K; ++k)
        for (int64_t i = 0; i < D; ++i) ct[i * KP + k] = c[k * D + i];
    const T* cp = ct.data();
    constexpr int64_t NB = 4;
    const int64_t nblk = (N + NB - 1) / NB;
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(NB * K * D, 1));
    parallel_for(0, nblk, grain, [&](int64_t bb, int64_t be) {
        for (int64_t blk = bb; blk < be; ++blk) {
            const int64_t n0 = blk * NB, nr = std::min<int64_t>(NB, N - n0);
            const T* xr[NB];
            for (int64_t j = 0; j < NB; ++j) xr[j] = x + std::min(n0 + j, N - 1) * D;
            for (int64_t kv = 0; kv < KV; kv += 2) {
                const bool two = kv + 1 < KV;
                V a[NB][2];
                for (int j = 0; j < NB; ++j) a[j][0] = a[j][1] = V(T(0));
                const T* c0 = cp + kv * W;
                for (int64_t i = 0; i < D; ++i) {
                    const V ca = V::loadu(c0 + i * KP);
                    const V cb = two ? V::loadu(c0 + i * KP + W) : V(T(0));
                    for (int j = 0; j < NB; ++j) {
                        const V xv(xr[j][i]);
                        const V da = xv - ca, db = xv - cb;
                        a[j][0] = fmadd(da, da, a[j][0]);
                        a[j][1] = fmadd(db, db, a[j][1]);
                    }
                }
                const int64_t k0 = kv * W;
                for (int64_t j = 0; j < nr; ++j) {
                    T* o = d2 + (n0 + j) * K;
                    const int64_t ra = std::min<int64_t>(W, K - k0);
                    if (ra == W) a[j][0].store(o + k0);
                    else a[j][0].store(o + k0, static_cast<int>(ra));
                    if (two) {
                        const int64_t rb = std::min<int64_t>(W, K - k0 - W);
                        if (rb == W) a[j][1].store(o + k0 + W);
                        else a[j][1].store(o + k0 + W, static_cast<int>(rb));
                    }
                }
            }
        }
    });
}

// d2[n,k] = ||x_n - c_k||^2 and, when w is given, dot[n,k] = (x_n - c_k) . w_k, in one pass.
template <class T>
void pair_terms(const T* x, const T* c, const T* w, int64_t N, int64_t K, int64_t D, T* d2, T* dot) {
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(K * D, 1));
    parallel_for(0, N, grain, [&](int64_t nb, int64_t ne) {
        for (int64_t n = nb; n < ne; ++n) {
            const T* xn = x + n * D;
            for (int64_t k = 0; k < K; ++k) {
                const T* ck = c + k * D;
                T s = 0, p = 0;
                if (w) {
                    const T* wk = w + k * D;
                    for (int64_t i = 0; i < D; ++i) {
                        const T r = xn[i] - ck[i];
                        s += r * r;
                        p += r * wk[i];
                    }
                    dot[n * K + k] = p;
                } else {
                    for (int64_t i = 0; i < D; ++i) {
                        const T r = xn[i] - ck[i];
                        s += r * r;
                    }
                }
                d2[n * K + k] = s;
            }
        }
    });
}

// out[r, :] += alpha * s[r] * m[r, :]  (a rank-1 style correction after a GEMM).
template <class T>
void add_scaled_rows(T* out, const T* m, const std::vector<double>& s, int64_t R, int64_t D, double alpha) {
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(D, 1));
    parallel_for(0, R, grain, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            const T f = static_cast<T>(alpha * s[r]);
            for (int64_t i = 0; i < D; ++i) out[r * D + i] += f * m[r * D + i];
        }
    });
}

std::vector<double> row_sums(const Tensor& g) {
    const int64_t R = g.size(0), C = g.size(1);
    std::vector<double> s(static_cast<size_t>(R), 0.0);
    dispatch_float(g.dtype(), "row_sums", [&](auto tag) {
        using T = decltype(tag);
        const T* p = g.data<T>();
        for (int64_t r = 0; r < R; ++r) s[r] = vsum::sum(p + r * C, C);
    });
    return s;
}

std::vector<double> col_sums(const Tensor& g) {
    const int64_t R = g.size(0), C = g.size(1);
    std::vector<double> s(static_cast<size_t>(C), 0.0);
    dispatch_float(g.dtype(), "col_sums", [&](auto tag) {
        using T = decltype(tag);
        const T* p = g.data<T>();
        for (int64_t r = 0; r < R; ++r)
            for (int64_t c = 0; c < C; ++c) s[c] += p[r * C + c];
    });
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
Tensor rbf_forward(const Tensor& x_in, const Tensor& c_in, const Tensor& w_in) {
    check_pair("rbf", x_in, c_in, "centers", w_in, "widths");
    const Tensor x = x_in.contiguous(), c = c_in.contiguous(), w = w_in.contiguous();
    const int64_t N = x.size(0), D = x.size(1), K = c.size(0);
    Tensor out = Tensor::empty({N, K}, x.dtype());
    dispatch_float(x.dtype(), "rbf", [&](auto tag) {
        using T = decltype(tag);
        T* o = out.data<T>();
        sq_dists<T>(x.data<T>(), c.data<T>(), N, K, D, o);
        const T* s = w.data<T>();
        using V = vec::Vectorized<T>;
        constexpr int Wd = V::size();
        std::vector<T> den(static_cast<size_t>(K));
        for (int64_t k = 0; k < K; ++k) den[k] = -(T(2) * s[k] * s[k]);
        const int64_t full = K - K % Wd;
        const int rest = static_cast<int>(K - full);
        const int64_t grain = std::max<int64_t>(1, kGrainElementwise / 8 / std::max<int64_t>(K, 1));
        parallel_for(0, N, grain, [&](int64_t nb, int64_t ne) {
            for (int64_t n = nb; n < ne; ++n) {
                T* on = o + n * K;
                for (int64_t k = 0; k < full; k += Wd)
                    vec::exp(V::loadu(on + k) / V::loadu(den.data() + k)).store(on + k);
                if (rest)
                    vec::exp(V::loadu(on + full, rest) / V::loadu(den.data() + full, rest)).store(on + full, rest);
            }
        });
    });
    return out;
}

std::tuple<Tensor, Tensor, Tensor> rbf_backward(const Tensor& dout_in, const Tensor& x_in, const Tensor& c_in,
                                                const Tensor& w_in, const Tensor& out_in, bool need_x, bool need_c,
                                                bool need_w) {
    check_pair("rbf backward", x_in, c_in, "centers", w_in, "widths");
    const Tensor x = x_in.contiguous(), c = c_in.contiguous(), w = w_in.contiguous();
    const Tensor dout = dout_in.to(x.dtype()).contiguous(), phi = out_in.to(x.dtype()).contiguous();
    const int64_t N = x.size(0), D = x.size(1), K = c.size(0);
    LAMINA_CHECK(dout.shape() == Shape({N, K}), "rbf backward: gradient of shape ", dout.shape(), " for output [",
                 N, ", ", K, "]");
    // G[n,k] = dout * phi / sigma^2: d phi / d x_n = -G (x_n - c_k) / dout, so dx = G C - rowsum(G) x,
    // dc = G^T X - colsum(G) c; dsigma_k = sum_n G d2 / sigma_k.
    Tensor G = Tensor::empty({N, K}, x.dtype());
    Tensor dx, dc, dw;
    dispatch_float(x.dtype(), "rbf backward", [&](auto tag) {
        using T = decltype(tag);
        T* g = G.data<T>();
        const T* s = w.data<T>();
        const T* dp = dout.data<T>();
        const T* pp = phi.data<T>();
        std::vector<T> d2;
        if (need_w) {
            d2.resize(static_cast<size_t>(N * K));
            sq_dists<T>(x.data<T>(), c.data<T>(), N, K, D, d2.data());
        }
        for (int64_t n = 0; n < N; ++n)
            for (int64_t k = 0; k < K; ++k) g[n * K + k] = dp[n * K + k] * pp[n * K + k] / (s[k] * s[k]);
        if (need_w) {
            dw = Tensor::empty({K}, x.dtype());
            T* o = dw.data<T>();
            for (int64_t k = 0; k < K; ++k) o[k] = T(0);
            for (int64_t n = 0; n < N; ++n)
                for (int64_t k = 0; k < K; ++k) o[k] += g[n * K + k] * d2[n * K + k];
            for (int64_t k = 0; k < K; ++k) o[k] /= s[k];
        }
        if (need_x) {
            dx = Tensor::empty({N, D}, x.dtype());
            gemm_into(dx, G, c, 1.0, 0.0);
            add_scaled_rows<T>(dx.data<T>(), x.data<T>(), row_sums(G), N, D, -1.0);
        }
        if (need_c) {
            dc = Tensor::empty({K, D}, x.dtype());
            gemm_into(dc, G.transpose(0, 1), x, 1.0, 0.0);
            add_scaled_rows<T>(dc.data<T>(), c.data<T>(), col_sums(G), K, D, -1.0);
        }
    });
    return {dx, dc, dw};
}

// ---------------------------------------------------------------------------------------------
Tensor conic_forward(const Tensor& x_in, const Tensor& w_in, const Tensor& c_in, const Tensor& om_in) {
    check_pair("conic", x_in, c_in, "centers", om_in, "omega");
    LAMINA_CHECK(w_in.shape() == c_in.shape(), "conic: weight must have the shape of centers ", c_in.shape(),
                 ", got ", w_in.shape());
    LAMINA_CHECK_TYPE(w_in.dtype() == x_in.dtype(), "conic: weight dtype ", dtype_name(w_in.dtype()),
                      " differs from x dtype ", dtype_name(x_in.dtype()));
    const Tensor x = x_in.contiguous(), w = w_in.contiguous(), c = c_in.contiguous(), om = om_in.contiguous();
    const int64_t N = x.size(0), D = x.size(1), K = c.size(0);
    Tensor out = Tensor::empty({N, K}, x.dtype());
    dispatch_float(x.dtype(), "conic", [&](auto tag) {
        using T = decltype(tag);
        std::vector<T> d2(static_cast<size_t>(N * K));
        T* o = out.data<T>();
        pair_terms<T>(x.data<T>(), c.data<T>(), w.data<T>(), N, K, D, d2.data(), o);
        const T* a = om.data<T>();
        for (int64_t n = 0; n < N; ++n)
            for (int64_t k = 0; k < K; ++k) o[n * K + k] -= std::cos(a[k]) * std::sqrt(d2[n * K + k]);
    });
    return out;
}

std::tuple<Tensor, Tensor, Tensor, Tensor> conic_backward(const Tensor& dout_in, const Tensor& x_in, const Tensor& w_in,
                                                          const Tensor& c_in, const Tensor& om_in, bool need_x,
                                                          bool need_w, bool need_c, bool need_omega) {
    check_pair("conic backward", x_in, c_in, "centers", om_in, "omega");
    const Tensor x = x_in.contiguous(), w = w_in.to(x.dtype()).contiguous(), c = c_in.contiguous(),
                 om = om_in.contiguous();
    const Tensor G = dout_in.to(x.dtype()).contiguous();
    const int64_t N = x.size(0), D = x.size(1), K = c.size(0);
    LAMINA_CHECK(G.shape() == Shape({N, K}), "conic backward: gradient of shape ", G.shape(), " for output [", N,
                 ", ", K, "]");
    // With E = dout cos(omega) / dist:
    //   dx = G W + E C - rowsum(E) x          dw = G^T X - colsum(G) c
    //   dc = -colsum(G) w + E^T X - colsum(E) c     domega = sin(omega) sum_n G dist
    Tensor E = Tensor::empty({N, K}, x.dtype());
    Tensor dx, dw, dc, dom;
    dispatch_float(x.dtype(), "conic backward", [&](auto tag) {
        using T = decltype(tag);
        std::vector<T> d2(static_cast<size_t>(N * K));
        pair_terms<T>(x.data<T>(), c.data<T>(), nullptr, N, K, D, d2.data(), nullptr);
        const T* a = om.data<T>();
        const T* g = G.data<T>();
        T* e = E.data<T>();
        for (int64_t n = 0; n < N; ++n)
            for (int64_t k = 0; k < K; ++k) {
                const T dist = std::sqrt(d2[n * K + k]);
                e[n * K + k] = dist > T(0) ? g[n * K + k] * std::cos(a[k]) / dist : T(0);
            }
        const std::vector<double> cg = col_sums(G);
        if (need_omega) {
            dom = Tensor::empty({K}, x.dtype());
            std::vector<double> acc(static_cast<size_t>(K), 0.0);
            for (int64_t n = 0; n < N; ++n)
                for (int64_t k = 0; k < K; ++k) acc[k] += g[n * K + k] * std::sqrt(d2[n * K + k]);
            for (int64_t k = 0; k < K; ++k) dom.data<T>()[k] = static_cast<T>(std::sin(a[k]) * acc[k]);
        }
        if (need_x) {
            dx = Tensor::empty({N, D}, x.dtype());
            gemm_into(dx, G, w, 1.0, 0.0);
            gemm_into(dx, E, c, 1.0, 1.0);
            add_scaled_rows<T>(dx.data<T>(), x.data<T>(), row_sums(E), N, D, -1.0);
        }
        if (need_w) {
            dw = Tensor::empty({K, D}, x.dtype());
            gemm_into(dw, G.transpose(0, 1), x, 1.0, 0.0);
            add_scaled_rows<T>(dw.data<T>(), c.data<T>(), cg, K, D, -1.0);
        }
        if (need_c) {
            dc = Tensor::empty({K, D}, x.dtype());
            gemm_into(dc, E.transpose(0, 1), x, 1.0, 0.0);
            add_scaled_rows<T>(dc.data<T>(), w.data<T>(), cg, K, D, -1.0);
            add_scaled_rows<T>(dc.data<T>(), c.data<T>(), col_sums(E), K, D, -1.0);
        }
    });
    return {dx, dw, dc, dom};
}

}  // namespace lamina
