// conv2d weight and bias grads. dW: float32 3x3 stride-1 layers with enough channels as Winograd's
// adjoint (conv2d_winograd.cpp, winograd_weight_grad_wins); else without a column matrix for layers whose image fits in cache
// (LeNet's 12x12, CIFAR's 16x16): dw[oc, c, kh, kw] = sum over n and p = oh*OW + ow of
// dy[n, oc, p] * xs_n[off(c,kh,kw) + p], where xs_n is image n's shifted layout (conv2d_direct.h),
// so every tap reads one contiguous run; a register block of OB output channels x KB taps keeps
// OB*KB vector sums over positions (OB + KB loads per OB*KB fused multiply-adds), reduced across
// lanes once at the end; the bias grad, when asked, is summed (in double) from the same dy rows
// while they are in cache. Larger images: im2col + GEMM per chunk or band (conv2d_chunks.h).
#include <algorithm>
#include <vector>

#include "../core/allocator.h"
#include "../core/blas.h"
#include "../core/check.h"
#include "../core/parallel.h"
#include "../core/vec.h"
#include "conv2d.h"
#include "conv2d_chunks.h"
#include "conv2d_direct.h"
#include "conv2d_winograd.h"

namespace lamina {

namespace {

using vec::Vectorized;

// Register block: OB output channels x KB taps of accumulators (+ OB dy vectors + 1 input vector).
// AVX-512: 24 + 4 + 1 of 32 registers; AVX2: 12 + 3 + 1 of 16; x86-64-v2 (two SSE registers per
// vector): 4 + 2 + 1 pairs.
#if defined(__AVX512F__)
constexpr int kOB = 4, kKB = 6;
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kOB = 3, kKB = 4;
#else
constexpr int kOB = 2, kKB = 2;
#endif

// acc[j][t] (+)= sum over images i < m and positions p < P of dy_j[i*dys[j] + p] * x_t[i*xst[t] + p]
// (dy_j = dyr[j], x_t = xr[t]); a row with image stride 0 is a zero row padding a partial block.
// acc lives in accm (OB*KB vectors) between calls: first = true starts it from zero.
template <class T>
void block_sums(const T* const* dyr, const int64_t* dys, const T* const* xr, const int64_t* xst, int64_t m,
                int64_t P, T* accm, bool first) {
    using V = Vectorized<T>;
    constexpr int lanes = V::size();
    V acc[kOB][kKB];
#pragma GCC unroll 8
    for (int j = 0; j < kOB; ++j)
#pragma GCC unroll 8
        for (int t = 0; t < kKB; ++t) acc[j][t] = first ? V(T(0)) : V::loadu(accm + (j * kKB + t) * lanes);
    const int64_t pfull = P / lanes * lanes;
    const int tail = static_cast<int>(P - pfull);
    for (int64_t i = 0; i < m; ++i) {
        const T* d[kOB];
        const T* xs[kKB];
        for (int j = 0; j < kOB; ++j) d[j] = dyr[j] + i * dys[j];
        for (int t = 0; t < kKB; ++t) xs[t] = xr[t] + i * xst[t];
        for (int64_t p = 0; p < pfull; p += lanes) {
            V dv[kOB];
#pragma GCC unroll 8
            for (int j = 0; j < kOB; ++j) dv[j] = V::loadu(d[j] + p);
#pragma GCC unroll 8
            for (int t = 0; t < kKB; ++t) {
                const V xv = V::loadu(xs[t] + p);
#pragma GCC unroll 8
                for (int j = 0; j < kOB; ++j) acc[j][t] = fmadd(dv[j], xv, acc[j][t]);
            }
        }
        if (tail) {  // both sides zero-filled past P
            V dv[kOB];
            for (int j = 0; j < kOB; ++j) dv[j] = V::loadu(d[j] + pfull, tail);
            for (int t = 0; t < kKB; ++t) {
                const V xv = V::loadu(xs[t] + pfull, tail);
                for (int j = 0; j < kOB; ++j) acc[j][t] = fmadd(dv[j], xv, acc[j][t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < kOB; ++j)
#pragma GCC unroll 8
        for (int t = 0; t < kKB; ++t) acc[j][t].store(accm + (j * kKB + t) * lanes);
}

// Double lanes per channel of the bias grad's partial sums: 32, four vectors' worth, so the adds
// are not one chain bound by the add latency (8 lanes, one chain, cost as much as a pass of its own).
constexpr int64_t kDbLanes = 32;

// a[j] += r_i[p] for p = j (mod kDbLanes), p < P, over rows r_i = r + i*rs, i < m: the dy rows of
// one channel into its double lanes, a row at a time and each in position order, so the sum does
// not depend on how images are grouped in chunks. The lanes stay in registers over the m rows (a
// tail indexed by p had kept them in memory: a load, add and store per 8 lanes, ~0.1 ms of conv
// (d)'s weight grad); a short tail is read as a full step of a zero-padded copy (adding +0.0 leaves
// every lane's bits as they were: the lanes start at +0.0, so none is ever -0.0).
template <class T>
inline void add_rows_lanes(const T* r, int64_t rs, int64_t m, int64_t P, double* a) {
    double acc[kDbLanes];
    for (int64_t j = 0; j < kDbLanes; ++j) acc[j] = a[j];
    const int64_t pfull = P / kDbLanes * kDbLanes;
    for (int64_t i = 0; i < m; ++i) {
        const T* row = r + i * rs;
        for (int64_t p = 0; p < pfull; p += kDbLanes)
#pragma GCC unroll 32
            for (int64_t j = 0; j < kDbLanes; ++j) acc[j] += static_cast<double>(row[p + j]);
        if (pfull < P) {
            T t[kDbLanes] = {};
            std::copy(row + pfull, row + P, t);
#pragma GCC unroll 32
            for (int64_t j = 0; j < kDbLanes; ++j) acc[j] += static_cast<double>(t[j]);
        }
    }
    for (int64_t j = 0; j < kDbLanes; ++j) a[j] = acc[j];
}

// Bytes of one image's working set: its shifted layout and its dy.
int64_t image_bytes(int64_t OC, const ConvGeometry& g, int64_t es) {
    return (shifted_size(g) + OC * g.OH * g.OW) * es;
}

// Images per chunk: their layouts and dy stay in the L2 (2 MB a core here) while every block of
// output channels x taps passes over them.
constexpr int64_t kChunkBytes = int64_t(1) << 20;
constexpr int64_t kChunkPositions = 1024;
// Runs of chunks summed separately (see conv_weight_grad_direct): 2 lets two threads share the work;
// more would add a partial-accumulator pass per run at the end for every thread count.
constexpr int64_t kChunkGroups = 2;

}  // namespace

bool weight_grad_direct_fits(int64_t OC, const ConvGeometry& g, int64_t elem_size) {
    return image_bytes(OC, g, elem_size) <= kChunkBytes;
}

// Threads take chunk groups: the chunks are split into kChunkGroups runs of consecutive chunks
// (a number fixed here, not the thread count), each run summed into its own accumulators by one
// thread, and the runs' accumulators are added in run order at the end, so dw is the same at any
// thread count. Per chunk: shifted layouts of its images, then every block (group, tap block kb,
// channel block ob) passes over them (channel-block-major: a block's dy rows stay in L1 while the
// tap blocks, in offset order, walk the layout). Splitting the blocks of each chunk over threads
// instead cost two parallel regions per ~1024-position chunk: 2 threads ran CIFAR's first conv
// fwd+bwd 1.13x faster than 1 and LeNet's 0.66x (slower).
// Bands of output rows for images too large for a chunk were tried (conv e, f): no faster than
// im2col + GEMM in bands at e, 40% slower at f (stride 2), so those keep im2col + GEMM.
// db (null: not asked) gets the bias grad: each run also sums its images' dy rows into double
// lanes per channel (right after its blocks read them, so from cache, not another pass over dy
// in a parallel region of its own), and the runs' lanes are added in run order.
template <class T>
void conv_weight_grad_direct(const T* dy, const T* x, T* dw, int64_t N, int64_t OC, int64_t groups,
                             const ConvGeometry& g, T* db) {
    constexpr int64_t lanes = Vectorized<T>::size();
    const int64_t C = g.C, KH = g.KH, KW = g.KW, P = g.OH * g.OW, CHW = C * g.H * g.W;
    const int64_t Cg = C / groups, OCg = OC / groups, Kg = Cg * KH * KW;
    const int64_t Hs = shifted_rows(g), plane = Hs * g.OW, S = shifted_size(g);
    const int64_t nob = (OCg + kOB - 1) / kOB, nkb = (Kg + kKB - 1) / kKB, nblk = groups * nkb * nob;
    const int64_t es = static_cast<int64_t>(sizeof(T));
    // Images per chunk: at most kChunkBytes of layouts + dy, and about kChunkPositions positions,
    // so a block's KB input rows over the chunk (24 KB with AVX-512) stay in L1 while every
    // channel block passes over them.
    const int64_t nb = std::max<int64_t>(
        1, std::min<int64_t>({N, kChunkBytes / std::max<int64_t>(1, image_bytes(OC, g, es)),
                              kChunkPositions * int64_t(sizeof(float)) / es / std::max<int64_t>(1, P)}));

    // Tap offsets within a group's part of the layout (as the direct forward reads them).
    std::vector<int64_t> off(static_cast<size_t>(Kg));
    for (int64_t c = 0; c < Cg; ++c)
        for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw)
                off[(c * KH + kh) * KW + kw] =
                    ((kw * C + c) * g.sh + (kh * g.dh) % g.sh) * plane + ((kh * g.dh) / g.sh) * g.OW;
    const int64_t gstride = Cg * g.sh * plane;
    // Taps in order of their offsets (kw, c, then kh): a block's KB taps then read overlapping
    // rows of one or two planes (kh moves by OW), not KB separate streams. kof[i]: the i-th tap.
    std::vector<int64_t> kof(static_cast<size_t>(Kg));
    for (int64_t k = 0; k < Kg; ++k) kof[k] = k;
    std::stable_sort(kof.begin(), kof.end(), [&](int64_t a, int64_t b) { return off[a] < off[b]; });

    const int64_t nchunks = (N + nb - 1) / nb, G = std::min(nchunks, kChunkGroups);
    const int64_t acc_elems = nblk * kOB * kKB * lanes;  // one run's accumulators
    ScratchBuffer<T> accs(static_cast<size_t>(std::max<int64_t>(1, G * acc_elems)));
    std::vector<double> dbacc(db ? static_cast<size_t>(std::max<int64_t>(1, G) * OC * kDbLanes) : 0, 0.0);
    std::vector<T> zeros(static_cast<size_t>(P + lanes), T(0));

    parallel_for(0, G, 1, [&](int64_t g0, int64_t g1) {
        ScratchBuffer<T> layout(static_cast<size_t>(std::max<int64_t>(1, nb * S)));
        for (int64_t run = g0; run < g1; ++run) {
            const int64_t c0 = run * nchunks / G, c1 = (run + 1) * nchunks / G;
            T* acc_run = accs.get() + run * acc_elems;
            for (int64_t c = c0; c < c1; ++c) {
                const int64_t n0 = c * nb, m = std::min(nb, N - n0);
                for (int64_t i = 0; i < m; ++i) fill_shifted(x + (n0 + i) * CHW, layout.get() + i * S, g, Hs);
                for (int64_t b = 0; b < nblk; ++b) {
                    const int64_t gr = b / (nkb * nob), ob = (b / nkb) % nob, kb = b % nkb;
                    const T* dyr[kOB];
                    const T* xr[kKB];
                    int64_t dys[kOB], xst[kKB];
                    for (int j = 0; j < kOB; ++j) {
                        const int64_t o = ob * kOB + j;
                        const bool real = o < OCg;
                        dyr[j] = real ? dy + (n0 * OC + gr * OCg + o) * P : zeros.data();
                        dys[j] = real ? OC * P : 0;
                    }
                    for (int t = 0; t < kKB; ++t) {
                        const int64_t k = kb * kKB + t;
                        const bool real = k < Kg;
                        xr[t] = real ? layout.get() + gr * gstride + off[kof[k]] : zeros.data();
                        xst[t] = real ? S : 0;
                    }
                    block_sums<T>(dyr, dys, xr, xst, m, P, acc_run + b * kOB * kKB * lanes, c == c0);
                }
                if (db)
                    for (int64_t oc = 0; oc < OC; ++oc)
                        add_rows_lanes(dy + (n0 * OC + oc) * P, OC * P, m, P,
                                       dbacc.data() + (run * OC + oc) * kDbLanes);
            }
        }
    });
    if (db)  // runs in order, each run's lanes in order
        for (int64_t oc = 0; oc < OC; ++oc) {
            double sum = 0;
            for (int64_t run = 0; run < G; ++run)
                for (int64_t j = 0; j < kDbLanes; ++j) sum += dbacc[(run * OC + oc) * kDbLanes + j];
            db[oc] = static_cast<T>(sum);
        }
    if (N == 0) {
        std::fill(dw, dw + OC * Kg, T(0));
        return;
    }
    // dw[gr*OCg + o, kof[i]] = the lanes' sum of block (gr, i / KB, o / OB)'s accumulator (o % OB, i % KB),
    // read in block order: the accumulators (1.2 MB a run for conv (d)) are streamed once, where
    // walking them per output channel read each block four times, from L3.
    parallel_for(0, groups * nob, 1, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
            const int64_t gr = q / nob, ob = q % nob;
            for (int64_t kb = 0; kb < nkb; ++kb) {
                const T* a = accs.get() + (q * nkb + kb) * kOB * kKB * lanes;
                for (int j = 0; j < kOB; ++j) {
                    const int64_t o = ob * kOB + j;
                    for (int t = 0; t < kKB; ++t) {
                        const int64_t i = kb * kKB + t;
                        if (o >= OCg || i >= Kg) continue;
                        const T* at = a + (j * kKB + t) * lanes;
                        Vectorized<T> v = Vectorized<T>::loadu(at);
                        for (int64_t run = 1; run < G; ++run) v = v + Vectorized<T>::loadu(at + run * acc_elems);
                        dw[(gr * OCg + o) * Kg + kof[i]] = reduce_add(v);
                    }
                }
            }
        }
    });
}

template void conv_weight_grad_direct<float>(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                             const ConvGeometry&, float*);
template void conv_weight_grad_direct<double>(const double*, const double*, double*, int64_t, int64_t, int64_t,
                                              const ConvGeometry&, double*);

namespace detail {

using namespace conv_chunks;

// dw_g[OCg, Kg] = sum over chunks of dy_g[OCg, m*L] x cols_g[Kg, m*L]^T. Where the partial sums of
// all chunks fit in kPartialElems, each chunk writes its own (chunks laid out independently of the
// thread count, taken on demand) and they are added in chunk order: the same bits at any thread
// count. Otherwise each thread accumulates into its own buffer over a static chunk split and the
// buffers are summed at the end (no two threads share dw).
constexpr int64_t kPartialElems = int64_t(4) << 20;
// Positions from which an image is a chunk of its own. The forward and data grad put several small
// images side by side so their GEMM has ~2048 columns; here the positions are the GEMM's reduction
// axis, long enough at a few hundred, and a chunk of several images' column matrices outgrows
// the L2 (f, 64 -> 128 at 28x28 out: 3 images, 5.4 MB written by im2col and read back from L3),
// where one image's, in bands, stays in it. 1 thread, in-process A/B, dw of f: AVX-512 7.45 ->
// 7.12 ms and 7.70 -> 7.66, AVX2 10.35 -> 9.88 and 10.31 -> 9.71.
constexpr int64_t kOwnChunkPositions = 512;

Tensor conv_weight_grad_cpu(const Tensor& dy, const Tensor& x, const ConvPlan& pl, OptTensor* db) {
    Tensor dw = Tensor::empty(pl.w4, dy.dtype(), dy.device());
    if (dy.dtype() == DType::Float32 && winograd_weight_grad_wins(pl.OC, pl.groups, pl.g)) {
        if (db) *db = conv_bias_grad_cpu(dy);
        conv_weight_grad_winograd(dy.data<float>(), x.data<float>(), dw.data<float>(), pl.N, pl.OC, pl.g);
        return dw;
    }
    if (weight_grad_direct_fits(pl.OC, pl.g, static_cast<int64_t>(dy.element_size()))) {
        if (db) *db = Tensor::empty({pl.OC}, dy.dtype(), dy.device());
        dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
            using T = decltype(tag);
            conv_weight_grad_direct<T>(dy.data<T>(), x.data<T>(), dw.data<T>(), pl.N, pl.OC, pl.groups, pl.g,
                                       db ? (*db)->data<T>() : nullptr);
        });
        return dw;
    }
    if (db) *db = conv_bias_grad_cpu(dy);
    dispatch_float(dy.dtype(), "conv2d backward", [&](auto tag) {
        using T = decltype(tag);
        const ConvGeometry& g = pl.g;
        const int64_t wsize = pl.OC * (g.col_rows() / pl.groups);
        const bool partials = [&] {
            const int64_t nb = chunk_layout(pl, sizeof(T), true, false).nb;
            return (pl.N + nb - 1) / nb * wsize <= kPartialElems;
        }();
        ChunkLayout c = chunk_layout(pl, sizeof(T), true, !partials);
        if (c.nb > 1 && c.L >= kOwnChunkPositions) {  // one image per chunk, banded when large
            ConvPlan one = pl;
            one.N = 1;
            c = chunk_layout(one, sizeof(T), true, false);
        }
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

}  // namespace lamina
