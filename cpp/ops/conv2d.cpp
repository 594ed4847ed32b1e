// conv2d / conv1d: argument checks (shape errors show the output-size arithmetic), then the CPU
// forward (per image: im2col, one GEMM per group with the bias pre-filled) and right below it the
// backward pieces (data grad = col2im(W^T dY), weight grad = sum dY cols^T, bias grad = sum dY),
// which conv_transpose2d.cpp reuses with the roles swapped.
#include "conv2d.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "../core/allocator.h"
#include "../core/blas.h"
#include "../core/check.h"
#include "../core/parallel.h"
#include "conv2d_direct.h"

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

// Images per GEMM. One image of a small layer (LeNet's 12x12, a CIFAR net's 8x8) gives a GEMM
// too thin for BLAS to reach speed, so small images share one column matrix side by side until the
// GEMM has ~2048 columns; the column buffer stays under ~8 MB (2M elements).
int64_t images_per_chunk(const detail::ConvPlan& pl, bool for_threads = true) {
    const int64_t L = std::max<int64_t>(1, pl.g.col_cols());
    const int64_t rows = std::max<int64_t>({pl.g.col_rows(), pl.OC, 1});
    if (L >= 2048 || pl.N <= 1) return 1;
    int64_t nb = (2048 + L - 1) / L;
    nb = std::min(nb, std::max<int64_t>(1, (int64_t(2) << 20) / (rows * L)));
    nb = std::max<int64_t>(1, std::min(nb, pl.N));
    // Chunks go to threads whole (for_each_chunk): even them out, so 8 images at 2 threads are
    // 4 chunks of 2, not 3 + 3 + 2 (one thread with twice the work).
    const int64_t nt = in_parallel_region() ? 1 : std::max<int64_t>(1, get_num_threads());
    if (nt > 1 && for_threads) {
        const int64_t per_thread = (pl.N + nt * nb - 1) / (nt * nb);  // chunks each thread runs
        nb = std::max<int64_t>(1, (pl.N + nt * per_thread - 1) / (nt * per_thread));
    }
    return nb;
}

// Sizes shared by the forward and both backward passes for one plan: group sizes, images per
// chunk, and the scratch a chunk needs (its column matrix, plus the gathered [OC, m*L] block when
// a chunk holds several images).
struct ChunkLayout {
    int64_t L, OCg, Kg, nb, R, CHW, scratch;
    bool direct;  // one image of a pointwise conv: the image is its own column matrix
    // Output rows per band: a single image whose column matrix would outgrow the L2 (e: 576 x
    // 3136 floats, 7 MB) is built and multiplied in bands of ~512 KB (forward and weight grad),
    // so im2col's writes are still in cache when the GEMM reads them; OH when not banded.
    int64_t band;
};

constexpr int64_t kBandBytes = 512 * 1024;

// for_threads = false: images per chunk chosen without regard to the thread count.
ChunkLayout chunk_layout(const detail::ConvPlan& pl, int64_t es, bool allow_band = true,
                         bool for_threads = true) {
    const ConvGeometry& g = pl.g;
    ChunkLayout c;
    c.L = g.col_cols();
    c.OCg = pl.OC / pl.groups;
    c.Kg = g.col_rows() / pl.groups;
    c.nb = images_per_chunk(pl, for_threads);
    c.R = g.col_rows();
    c.CHW = g.C * g.H * g.W;
    c.direct = c.nb == 1 && g.is_pointwise();
    c.band = g.OH;
    if (allow_band && c.nb == 1 && !c.direct && g.OW > 0 && c.R * c.L * es > 2 * kBandBytes)
        c.band = std::max<int64_t>(1, kBandBytes / (es * c.R * g.OW));
    c.scratch = (c.direct ? 0 : c.R * c.nb * (c.band * g.OW)) + (c.nb > 1 ? pl.OC * c.nb * c.L : 0);
    return c;
}

// Runs body(n0, n1, scratch, thread) over chunks [n0, n1) of nb images. With several chunks and
// threads: OpenMP over chunks, each thread with its own scratch (gemm inside a region runs on the
// calling thread, see blas.h). Otherwise in order on this thread, so BLAS and the im2col loops get
// the threads. Exceptions (a failed scratch allocation) are rethrown after the join.
// Dynamic (a body that writes only its own images): a worker that wakes late does not hold up the
// join (parallel_chunks: each thread runs its own chunks, then the ones others have not started).
// Static (the weight grad, whose per-thread sums must add up in the same order every call): chunk
// c always goes to the same thread.
template <class T, bool Dynamic = false, class F>
void for_each_chunk(int64_t N, int64_t nb, int64_t scratch, const F& body) {
    const int64_t nchunks = (N + nb - 1) / nb;
    const int64_t nt = std::min<int64_t>(get_num_threads(), nchunks);
#ifdef _OPENMP
    if (nt > 1 && !in_parallel_region() && Dynamic) {
        std::vector<ScratchBuffer<T>> bufs(static_cast<size_t>(nt));  // one per thread, made on first use
        parallel_chunks(0, nchunks, 1, nt, [&](int64_t c, int64_t) {
            const int tid = omp_get_thread_num();
            if (!bufs[tid].get() && scratch > 0) bufs[tid] = ScratchBuffer<T>(static_cast<size_t>(scratch));
            body(c * nb, std::min(N, (c + 1) * nb), bufs[tid].get(), tid);
        });
        return;
    }
    if (nt > 1 && !in_parallel_region()) {
        ParallelErrors errors;
#pragma omp parallel num_threads(static_cast<int>(nt))
        {
            ScratchBuffer<T> buf;
            errors.run([&] { buf = ScratchBuffer<T>(static_cast<size_t>(scratch)); });
            const int tid = omp_get_thread_num();
#pragma omp for schedule(static)
            for (int64_t c = 0; c < nchunks; ++c)
                errors.run([&] { body(c * nb, std::min(N, (c + 1) * nb), buf.get(), tid); });
        }
        errors.rethrow();
        return;
    }
#endif
    ScratchBuffer<T> buf(static_cast<size_t>(scratch));
    for (int64_t c = 0; c < nchunks; ++c) body(c * nb, std::min(N, (c + 1) * nb), buf.get(), 0);
}

int64_t chunk_threads(int64_t N, int64_t nb) {
    const int64_t nchunks = (N + nb - 1) / nb;
    return in_parallel_region() ? 1 : std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), nchunks));
}

// Column-matrix layout of a chunk of m images: [rows, m*L], image j in columns [j*L, (j+1)*L).
// Gathers dy_n [OC, L] for the chunk into that layout (and scatters back for the forward).
template <class T>
void gather_chunk(const T* src, int64_t n0, int64_t m, int64_t R, int64_t L, T* dst) {
    for (int64_t j = 0; j < m; ++j)
        for (int64_t r = 0; r < R; ++r)
            std::copy(src + ((n0 + j) * R + r) * L, src + ((n0 + j) * R + r + 1) * L, dst + r * m * L + j * L);
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
    if (conv_use_direct(pl, static_cast<int64_t>(x.element_size()))) {
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

// dx: the direct kernel on the flipped weights where the cost rule prefers it (stride 1), else
// col2im(W^T[Kg, OCg] x dy[OCg, m*L]) per group and chunk; a pointwise conv of one image writes
// W^T dy_n directly.
Tensor conv_data_grad_cpu(const Tensor& dy, const Tensor& w, const ConvPlan& pl) {
    Tensor dx = Tensor::empty(pl.x4, dy.dtype(), dy.device());
    ConvGeometry gt;
    const int64_t es = static_cast<int64_t>(dy.element_size());
    if (data_grad_geometry(pl, gt) &&
        direct_cost(pl.g.C, pl.groups, gt, es) <= im2col_gemm_cost(pl.OC, pl.groups, pl.g, es, true)) {
        dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
            using T = decltype(tag);
            const ConvGeometry& g = pl.g;
            const int64_t G = pl.groups, OCg = pl.OC / G, Cg = g.C / G, KH = g.KH, KW = g.KW;
            // wt[gr*Cg + c, o, kh, kw] = w[gr*OCg + o, c, KH-1-kh, KW-1-kw]
            std::vector<T> wt(static_cast<size_t>(pl.OC * Cg * KH * KW));
            const T* wp = w.data<T>();
            for (int64_t gr = 0; gr < G; ++gr)
                for (int64_t o = 0; o < OCg; ++o)
                    for (int64_t c = 0; c < Cg; ++c)
                        for (int64_t kh = 0; kh < KH; ++kh)
                            for (int64_t kw = 0; kw < KW; ++kw)
                                wt[(((gr * Cg + c) * OCg + o) * KH + kh) * KW + kw] =
                                    wp[(((gr * OCg + o) * Cg + c) * KH + KH - 1 - kh) * KW + KW - 1 - kw];
            conv_forward_direct<T>(dy.data<T>(), wt.data(), nullptr, dx.data<T>(), pl.N, g.C, G, gt);
        });
        return dx;
    }
    dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
        using T = decltype(tag);
        const ConvGeometry& g = pl.g;
        const ChunkLayout c = chunk_layout(pl, sizeof(T), false);  // col2im needs all of it
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

// dw_g[OCg, Kg] = sum over chunks of dy_g[OCg, m*L] x cols_g[Kg, m*L]^T. Where the partial sums of
// all chunks fit in kPartialElems, each chunk writes its own (chunks laid out independently of the
// thread count, taken on demand) and they are added in chunk order: the same bits at any thread
// count. Otherwise each thread accumulates into its own buffer over a static chunk split and the
// buffers are summed at the end (no two threads share dw).
constexpr int64_t kPartialElems = int64_t(4) << 20;

Tensor conv_weight_grad_cpu(const Tensor& dy, const Tensor& x, const ConvPlan& pl) {
    Tensor dw = Tensor::empty(pl.w4, dy.dtype(), dy.device());
    if (weight_grad_direct_fits(pl.OC, pl.g, static_cast<int64_t>(dy.element_size()))) {
        dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
            using T = decltype(tag);
            conv_weight_grad_direct<T>(dy.data<T>(), x.data<T>(), dw.data<T>(), pl.N, pl.OC, pl.groups, pl.g);
        });
        return dw;
    }
    dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
        using T = decltype(tag);
        const ConvGeometry& g = pl.g;
        const int64_t wsize = pl.OC * (g.col_rows() / pl.groups);
        const bool partials = [&] {
            const int64_t nb = chunk_layout(pl, sizeof(T), true, false).nb;
            return (pl.N + nb - 1) / nb * wsize <= kPartialElems;
        }();
        const ChunkLayout c = chunk_layout(pl, sizeof(T), true, !partials);
        const int64_t G = pl.groups, L = c.L, OCg = c.OCg, Kg = c.Kg, nb = c.nb, R = c.R, CHW = c.CHW;
        const bool direct = c.direct;
        const int64_t scratch = c.scratch;
        const T* dyp = dy.data<T>();
        const T* xp = x.data<T>();
        T* dwp = dw.data<T>();
        std::fill(dwp, dwp + wsize, T(0));
        if (pl.N == 0) return;
        const int64_t nchunks = (pl.N + nb - 1) / nb;
        // dw += this chunk's dy cols^T, into acc.
        auto chunk_grad = [&](int64_t n0, int64_t n1, T* buf, T* acc) {
            const int64_t m = n1 - n0, ld = m * L;
            const T* src = xp + n0 * CHW;
            if (c.band < g.OH) {  // one image in bands: dw += dy[:, band] cols_band^T
                for (int64_t oh0 = 0; oh0 < g.OH; oh0 += c.band) {
                    const int64_t oh1 = std::min(g.OH, oh0 + c.band), lb = (oh1 - oh0) * g.OW;
                    im2col_rows(src, g, oh0, oh1, buf, lb);
                    for (int64_t gr = 0; gr < G; ++gr)
                        gemm(false, true, OCg, Kg, lb, T(1), dyp + n0 * pl.OC * L + gr * OCg * L + oh0 * g.OW, L,
                             buf + gr * Kg * lb, lb, T(1), acc + gr * OCg * Kg, Kg);
                }
                return;
            }
            if (!direct) {
                for (int64_t j = 0; j < m; ++j) im2col(xp + (n0 + j) * CHW, g, buf + j * L, ld);
                src = buf;
            }
            const T* dyc = dyp + n0 * pl.OC * L;
            if (m > 1) {
                gather_chunk(dyp, n0, m, pl.OC, L, buf + R * ld);
                dyc = buf + R * ld;
            }
            for (int64_t gr = 0; gr < G; ++gr)
                gemm(false, true, OCg, Kg, ld, T(1), dyc + gr * OCg * ld, ld, src + gr * Kg * ld, ld, T(1),
                     acc + gr * OCg * Kg, Kg);
        };
        if (partials) {
            // Chunk 0 writes dw itself; chunk k > 0 its own slice of part.
            ScratchBuffer<T> part(static_cast<size_t>((nchunks - 1) * wsize));
            std::fill(part.get(), part.get() + (nchunks - 1) * wsize, T(0));
            for_each_chunk<T, true>(pl.N, nb, scratch, [&](int64_t n0, int64_t n1, T* buf, int) {
                const int64_t k = n0 / nb;
                chunk_grad(n0, n1, buf, k == 0 ? dwp : part.get() + (k - 1) * wsize);
            });
            if (nchunks > 1)
                parallel_for_fine(0, wsize, kGrainElementwise / (nchunks - 1) + 1, [&](int64_t i0, int64_t i1) {
                    for (int64_t k = 0; k + 1 < nchunks; ++k) {
                        const T* pk = part.get() + k * wsize;
                        for (int64_t i = i0; i < i1; ++i) dwp[i] += pk[i];
                    }
                });
            return;
        }
        const int64_t nt = chunk_threads(pl.N, nb);
        // Thread 0 accumulates straight into dw; the others into their own buffers.
        std::vector<ScratchBuffer<T>> accs(nt);
        for (int64_t t = 1; t < nt; ++t) {
            accs[t] = ScratchBuffer<T>(static_cast<size_t>(wsize));
            std::fill(accs[t].get(), accs[t].get() + wsize, T(0));
        }
        for_each_chunk<T>(pl.N, nb, scratch, [&](int64_t n0, int64_t n1, T* buf, int tid) {
            chunk_grad(n0, n1, buf, tid == 0 ? dwp : accs[tid].get());
        });
        if (nt > 1)
            parallel_for(0, wsize, kGrainElementwise, [&](int64_t i0, int64_t i1) {
                for (int64_t t = 1; t < nt; ++t)
                    for (int64_t i = i0; i < i1; ++i) dwp[i] += accs[t].get()[i];
            });
    });
    return dw;
}

// db[c] = sum over batch and positions of dy[n, c, ...]; accumulated in double, one channel per
// thread.
Tensor conv_bias_grad_cpu(const Tensor& dy) {
    const int64_t N = dy.shape()[0], C = dy.shape()[1], L = (N * C != 0) ? dy.numel() / (N * C) : 0;
    Tensor db = Tensor::empty({C}, dy.dtype(), dy.device());
    dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
        using T = decltype(tag);
        const T* p = dy.data<T>();
        T* out = db.data<T>();
        parallel_for_fine(0, C, std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(1, N * L)),
                          [&](int64_t c0, int64_t c1) {
                         // kLanes independent double sums (one chain would be bound by the
                         // add latency, ~0.5 ns per element), added up in a fixed order at the
                         // end: the same result whichever thread takes the channel.
                         constexpr int64_t kLanes = 32;
                         for (int64_t c = c0; c < c1; ++c) {
                             double acc[kLanes] = {};
                             for (int64_t n = 0; n < N; ++n) {
                                 const T* r = p + (n * C + c) * L;
                                 int64_t i = 0;
                                 for (; i + kLanes <= L; i += kLanes)
                                     for (int64_t j = 0; j < kLanes; ++j) acc[j] += static_cast<double>(r[i + j]);
                                 for (int64_t j = 0; i < L; ++i, ++j) acc[j] += static_cast<double>(r[i]);
                             }
                             double s = 0;
                             for (int64_t j = 0; j < kLanes; ++j) s += acc[j];
                             out[c] = static_cast<T>(s);
                         }
                     });
    });
    return db;
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
    if (need_dw) dw = detail::conv_weight_grad_cpu(dy, x.contiguous().reshape(pl.x4), pl).view(w.shape());
    if (need_db) db = detail::conv_bias_grad_cpu(dy);
    return {dx, dw, db};
}

}  // namespace lamina
