// Channels-blocked direct conv2d forward (float32, one group), oneDNN-jit style, written against
// lamina::vec::Vectorized<float> and compiled once per ISA level.
//   out[n, oc, oh, ow] = b[oc] + sum over (kh, c, kw) of
//                        w[oc, c, kh, kw] * x[n, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
// Layout: weights packed once per call, wp[ob][kh][c][kw][OB] (OB = OCB vectors of output
// channels, zero past OC), so the output channels sit in vector lanes. A block of NP output
// positions of one row x OB channels is OCB*NP accumulators; each tap costs OCB weight loads and
// NP broadcasts of x read straight from the NCHW image (conv2d_direct.cpp instead copies the image
// into KW shifted planes or a padded wide image first). Blocks whose taps leave the image columns
// leave those taps out at compile time where there is an edge kernel (k3 p1, k5 p2 rows: kern's L
// and R), and otherwise read from per-image edge strips [C][H][span] (zeros outside); rows whose
// taps leave the image skip those kh. Channels run in chunks of CC = 16 so a chunk's weights stay
// in L1 over a band of rows; partial sums wait in acc[band rows][OW][OB] (L2) and the last chunk
// stores OB rows of NCHW (8x8 transposes at AVX2/AVX-512).
// Order of the sums: every output is summed by one chain (bias, then chunk by chunk, kh, c, kw),
// whichever (image, channel block, row band) task and thread computes it, so the bits do not
// depend on the thread count.
// From session 11's prototype; its two gains are in here: edge taps skipped at compile time, and
// at AVX2 the 2x6 tap step in inline asm (see kern). Everything else is written once.
#include "conv2d_cblocked.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>
#include <cstdlib>

#include "../core/allocator.h"
#include "../core/gemm_pack.h"
#include "../core/parallel.h"
#include "conv2d_chunks.h"
#include "../core/vec.h"

namespace lamina {

namespace {

using Vec = vec::Vectorized<float>;
constexpr int V = Vec::size();
constexpr int64_t CC = 16;  // channels per chunk (16 measured best; 8 and 32 slower on f and e)

// AVX2 (kern below): the tap step of the 2x6 block (and its narrower edge / row-end blocks) as one asm
// statement per position: a broadcast into ymm15, which the compiler never sees, then two FMAs.
// Why asm: GCC 12 allocates the 12 accumulators + 2 weights + broadcasts (16 of 16 registers) with a
// spill, its reload and 1-2 register moves every 3 taps, and still merges broadcasts across taps
// despite the barrier below (kern<6, 2, 1, 3>, objdump). With everything in L1 the 2x6 step runs at
// 121 -> 126 GFLOP/s with it (k3, 16 channels, 1 thread); in place (interleaved, load ~5) e 17.4 ->
// 16.7 ms, d 2.64 -> 2.51, f 8.60 -> 8.46. The same FMAs in the same order: the bits do not change.
// Not at AVX-512, where the 2x14 step measured the same either way (196-205 vs 194-200 GFLOP/s).

// acc[p*OB + j*V ..] = (bias or acc) + taps, for NP positions of one output row.
// xr0: the block's first input column in row kh0 of channel c0 (channel stride cs, rows rstep
// apart per kh); S / KWT: the column stride and kernel width as constants (0: runtime sw / KW).
// L / R (edge blocks, constant KW and stride only): the block's first L input columns lie left of
// the image, its last R right of it. xr0 then points at the first column inside the image, and
// the taps (p, kw) outside it (p*S + kw < L or >= (NP-1)*S + KW - R) are left out at compile time,
// instead of being read as zeros from a padded copy of the block's columns (the strips below: their
// copy was 3-7% of e, f and d).
template <int NP, int OCB, int S, int KWT, int L = 0, int R = 0>
void kern(const float* xr0, int64_t cs, int64_t sw, int64_t dw, int64_t KW, const float* wp, int64_t cn, int nkh,
          int64_t rstep, int64_t khs, const float* bias, float* acc) {
    constexpr int OB = OCB * V;
#if defined(__AVX512F__) || defined(__AVX2__)
    // raw register type: with arrays of Vectorized GCC 12 put the accumulators on the stack
    using Acc = decltype(Vec::v);
    auto A = [](Vec v) { return v.v; };
#else
    using Acc = Vec;
    auto A = [](Vec v) { return v; };
#endif
    Acc a[OCB][NP];
    if (bias) {
#pragma GCC unroll 16
        for (int j = 0; j < OCB; ++j) {
            const Vec bv = Vec::loadu(bias + j * V);
#pragma GCC unroll 16
            for (int p = 0; p < NP; ++p) a[j][p] = A(bv);
        }
    } else {
#pragma GCC unroll 16
        for (int p = 0; p < NP; ++p)
#pragma GCC unroll 16
            for (int j = 0; j < OCB; ++j) a[j][p] = A(Vec::loadu(acc + p * OB + j * V));
    }
    const int64_t s = S ? S : sw;
    const int64_t kwn = KWT ? KWT : KW;
    for (int kh = 0; kh < nkh; ++kh) {
        const float* xr = xr0 + kh * rstep;
        const float* wr = wp + kh * khs;
        for (int64_t c = 0; c < cn; ++c) {
#pragma GCC unroll 8
            for (int64_t kw = 0; kw < kwn; ++kw) {
                Vec w[OCB];
#pragma GCC unroll 16
                for (int j = 0; j < OCB; ++j) w[j] = Vec::loadu(wr + kw * OB + j * V);
                const float* q = xr + kw * (KWT ? 1 : dw);
                // One barrier per tap: without it GCC merges the broadcasts of neighbouring taps
                // (stride 1) and runs out of registers for the accumulators (AVX2 2x6: 12
                // accumulators + 2 weights + 1 broadcast of 16 registers).
#if defined(__AVX512F__) || defined(__AVX2__)
                if (KWT) asm volatile("" ::: "memory");
#else
                if (KWT) asm("" : "+r"(q));
#endif
#pragma GCC unroll 16
                for (int p = 0; p < NP; ++p) {
                    if ((L || R) && (p * S + kw < L || p * S + kw >= (NP - 1) * S + KWT - R)) continue;
#if defined(__AVX2__) && !defined(__AVX512F__)
                    if constexpr (OCB == 2) {  // one asm statement per position: see above
                        asm("vbroadcastss %[x], %%ymm15\n\t"
                            "vfmadd231ps %%ymm15, %[w0], %[a0]\n\t"
                            "vfmadd231ps %%ymm15, %[w1], %[a1]"
                            : [a0] "+x"(a[0][p]), [a1] "+x"(a[1][p])
                            : [w0] "x"(w[0].v), [w1] "x"(w[1].v), [x] "m"(q[p * s - L])
                            : "xmm15");
                        continue;
                    }
#endif
                    const Vec xb(q[p * s - L]);
#pragma GCC unroll 16
                    for (int j = 0; j < OCB; ++j) a[j][p] = A(fmadd(w[j], xb, Vec(a[j][p])));
                }
            }
            xr += cs;
            wr += kwn * OB;
        }
    }
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p)
#pragma GCC unroll 16
        for (int j = 0; j < OCB; ++j) Vec(a[j][p]).store(acc + p * OB + j * V);
}

using KernFn = void (*)(const float*, int64_t, int64_t, int64_t, int64_t, const float*, int64_t, int, int64_t,
                        int64_t, const float*, float*);

// f[np]: the kernel for blocks of np positions, np = 1..NPMAX.
template <int OCB, int S, int KWT, int NPMAX, int L = 0, int R = 0>
struct KernTable {
    KernFn f[NPMAX + 1];
    template <int... I>
    static KernTable make(std::integer_sequence<int, I...>) {
        return {{nullptr, &kern<I + 1, OCB, S, KWT, L, R>...}};
    }
    static const KernFn* get() {
        static const KernTable t = make(std::make_integer_sequence<int, NPMAX>{});
        return t.f;
    }
};

// The kernels of one layer: edge[l][r] for blocks with l / r input columns outside the image
// (nullptr where there is none: such blocks read strips through edge[0][0]).
struct Kernels {
    const KernFn* edge[3][3] = {};
};

// Edge kernels for one padding E on both sides (k3 p1: E = 1; k5 p2: E = 2), with E columns on
// one or both sides (a row that is one block).
template <int OCB, int S, int KWT, int NPMAX, int E>
Kernels edge_kernels() {
    Kernels k;
    k.edge[0][0] = KernTable<OCB, S, KWT, NPMAX>::get();
    k.edge[E][0] = KernTable<OCB, S, KWT, NPMAX, E, 0>::get();
    k.edge[0][E] = KernTable<OCB, S, KWT, NPMAX, 0, E>::get();
    k.edge[E][E] = KernTable<OCB, S, KWT, NPMAX, E, E>::get();
    return k;
}

// Kernels with the kernel width and column stride as constants for the common cases (dw = 1);
// edge kernels for the "same" paddings of those (k3 p1, k5 p2), the rest read strips.
template <int OCB, int NPMAX>
Kernels kernels_for(const ConvGeometry& g) {
    Kernels k;
    if (g.dw == 1) {
        if (g.sw == 1 && g.KW == 3) return edge_kernels<OCB, 1, 3, NPMAX, 1>();
        if (g.sw == 2 && g.KW == 3) return edge_kernels<OCB, 2, 3, NPMAX, 1>();
        if (g.sw == 1 && g.KW == 5) return edge_kernels<OCB, 1, 5, NPMAX, 2>();
        k.edge[0][0] = g.sw == 1   ? KernTable<OCB, 1, 0, NPMAX>::get()
                       : g.sw == 2 ? KernTable<OCB, 2, 0, NPMAX>::get()
                                   : KernTable<OCB, 0, 0, NPMAX>::get();
        return k;
    }
    k.edge[0][0] = KernTable<OCB, 0, 0, NPMAX>::get();
    return k;
}

// acc rows [OW][OB] -> out[j*ocs + ow], j < nj (the block's real channels).
void store_row(const float* acc, int64_t OW, int OB, int nj, float* out, int64_t ocs) {
    int64_t ow = 0;
#if defined(__AVX2__)
    if (nj == OB)
        for (; ow + 8 <= OW; ow += 8)
            for (int j = 0; j < OB; j += 8)  // 8 positions x 8 channels, transposed in registers
                gemm_detail::transpose8x8(acc + ow * OB + j, OB, 8, out + j * ocs + ow, ocs, 8);
#endif
    for (int j = 0; j < nj; ++j)
        for (int64_t o = ow; o < OW; ++o) out[j * ocs + o] = acc[o * OB + j];
}

template <int OCB, int NPMAX>
void forward(const float* x, const float* w, const float* b, float* out, int64_t N, int64_t OC, const ConvGeometry& g) {
    constexpr int OB = OCB * V;
    const int64_t C = g.C, H = g.H, W = g.W, KH = g.KH, KW = g.KW, OH = g.OH, OW = g.OW;
    const int64_t NOB = (OC + OB - 1) / OB;
    // 64-byte aligned: a weight vector split across two cache lines cost ~8% at AVX2. Scratch
    // from the allocator's cache: a fresh std::vector of e's 147 KB paid its page faults every call.
    ScratchBuffer<float> wpv(static_cast<size_t>(NOB * KH * C * KW * OB));
    float* wp = wpv.get();
    for (int64_t ob = 0; ob < NOB; ++ob)
        for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t c = 0; c < C; ++c)
                for (int64_t kw = 0; kw < KW; ++kw)
                    for (int64_t j = 0; j < OB; ++j) {
                        const int64_t oc = ob * OB + j;
                        wp[(((ob * KH + kh) * C + c) * KW + kw) * OB + j] =
                            oc < OC ? w[((oc * C + c) * KH + kh) * KW + kw] : 0.f;
                    }
    std::vector<float> bpad(static_cast<size_t>(NOB * OB), 0.f);
    if (b) std::copy(b, b + OC, bpad.begin());
    // Row blocks of at most NPMAX positions, sizes as even as possible. Edge blocks (taps outside
    // the columns) run an edge kernel that leaves those taps out where there is one (lo / ro
    // columns outside on the left / right), else read strips of their input columns with the
    // zeros in place.
    const Kernels kern_tab = kernels_for<OCB, NPMAX>(g);
    const int64_t nb = (OW + NPMAX - 1) / NPMAX;
    std::vector<int64_t> bs(nb), b0(nb), span(nb), soff(nb, -1), lo(nb, 0);
    std::vector<const KernFn*> tabs(nb);
    int64_t strip = 0;
    for (int64_t i = 0, o = 0; i < nb; ++i) {
        bs[i] = OW / nb + (i < OW % nb);
        b0[i] = o;
        o += bs[i];
        const int64_t iw0 = b0[i] * g.sw - g.pw, iw1 = (b0[i] + bs[i] - 1) * g.sw - g.pw + (KW - 1) * g.dw + 1;
        span[i] = iw1 - iw0;
        const int64_t l = std::max<int64_t>(0, -iw0), r = std::max<int64_t>(0, iw1 - W);
        tabs[i] = l <= 2 && r <= 2 ? kern_tab.edge[l][r] : nullptr;
        if (tabs[i]) {
            lo[i] = l;
        } else {
            tabs[i] = kern_tab.edge[0][0];
            soff[i] = strip;
            strip += C * H * span[i];
        }
    }
    // Rows of partial sums per band (~128 KB: stays in L2 while the channel chunks pass over it).
    const int64_t band = std::max<int64_t>(1, (32 * 1024) / (OW * OB));
    const int64_t nbands = (OH + band - 1) / band, per_image = NOB * nbands, tasks = N * per_image;
    // Rows of more than two cache lines (e: 56 outputs): the last chunk prefetches, for writing, the
    // output row two ahead of the one it computes. The row's store (OB channel rows of NCHW through
    // the transposes) otherwise waited for those lines to be read for ownership from L3: storing
    // nothing at all made e 7% faster. With it (1 thread, interleaved, load ~4): e 18.1 -> 17.3 ms
    // at AVX2, 10.6 -> 10.3 at AVX-512 (the row itself or one ahead: 17.2, 17.2; four or seven
    // ahead: 17.5, 18.1); f's 28-wide rows unchanged, d's 16-wide rows 2-4% slower, hence the condition.
    // On a quieter machine (load ~3, 9 rounds, twice) the gain shrinks: AVX2 e 16.52 -> 16.43 and
    // 16.73 -> 16.47, AVX-512 9.63 -> 9.68 and 9.65 -> 9.66 (even): it helps when L3 is contended.
    const bool prefetch_out = OW > 32;

    auto run = [&](int64_t t0, int64_t t1) {
        ScratchBuffer<float> strips(static_cast<size_t>(strip)), accv(static_cast<size_t>(band * OW * OB));
        float* acc = accv.get();
        int64_t cur = -1;  // the image whose strips are built
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t n = t / per_image, ob = (t % per_image) / nbands, bi = t % nbands;
            const float* xn = x + n * C * H * W;
            float* on = out + n * OC * OH * OW;
            if (n != cur && strip > 0) {
                for (int64_t i = 0; i < nb; ++i) {
                    if (soff[i] < 0) continue;
                    const int64_t iw0 = b0[i] * g.sw - g.pw, sp = span[i];
                    const int64_t c0 = std::clamp<int64_t>(-iw0, 0, sp), c1 = std::clamp<int64_t>(W - iw0, c0, sp);
                    for (int64_t r = 0; r < C * H; ++r) {
                        float* d = strips.get() + soff[i] + r * sp;
                        const float* src = xn + r * W + iw0;
                        std::fill(d, d + c0, 0.f);
                        std::copy(src + c0, src + c1, d + c0);
                        std::fill(d + c1, d + sp, 0.f);
                    }
                }
                cur = n;
            }
            const int nj = static_cast<int>(std::min<int64_t>(OB, OC - ob * OB));
            const int64_t r0 = bi * band, r1 = std::min(OH, r0 + band);
            for (int64_t c0 = 0; c0 < C; c0 += CC) {
                const int64_t cn = std::min<int64_t>(CC, C - c0);
                for (int64_t oh = r0; oh < r1; ++oh) {
                    if (prefetch_out && c0 + cn == C && oh + 2 < OH)
                        for (int j = 0; j < nj; ++j) {
                            const char* o = reinterpret_cast<const char*>(on + (ob * OB + j) * OH * OW + (oh + 2) * OW);
                            for (int64_t byte = 0; byte < OW * int64_t(sizeof(float)); byte += 64)
                                __builtin_prefetch(o + byte, 1, 3);
                        }
                    const int64_t ih0 = oh * g.sh - g.ph;
                    // kh with 0 <= ih0 + kh*dh < H
                    const int64_t kh0 = ih0 >= 0 ? 0 : (-ih0 + g.dh - 1) / g.dh;
                    const int64_t kh1 = std::min(KH, ih0 >= H ? 0 : (H - 1 - ih0) / g.dh + 1);
                    float* ar = acc + (oh - r0) * OW * OB;
                    if (kh1 <= kh0) {  // no tap inside the image: the bias only
                        if (c0 == 0)
                            for (int64_t o = 0; o < OW; ++o)
                                std::copy(&bpad[ob * OB], &bpad[ob * OB] + OB, ar + o * OB);
                    } else {
                        const float* wpb = wp + ((ob * KH + kh0) * C + c0) * KW * OB;
                        const float* bias = c0 == 0 ? &bpad[ob * OB] : nullptr;
                        const int64_t ih = ih0 + kh0 * g.dh;
                        for (int64_t i = 0; i < nb; ++i) {
                            const float* xr;
                            int64_t cs, rs;
                            if (soff[i] < 0) {  // lo[i]: the first column inside the image
                                xr = xn + (c0 * H + ih) * W + b0[i] * g.sw - g.pw + lo[i];
                                cs = H * W;
                                rs = W;
                            } else {
                                xr = strips.get() + soff[i] + (c0 * H + ih) * span[i];
                                cs = H * span[i];
                                rs = span[i];
                            }
                            tabs[i][bs[i]](xr, cs, g.sw, g.dw, KW, wpb, cn, static_cast<int>(kh1 - kh0), rs * g.dh,
                                       C * KW * OB, bias, ar + b0[i] * OB);
                        }
                    }
                    if (c0 + cn == C) store_row(ar, OW, OB, nj, on + ob * OB * OH * OW + oh * OW, OH * OW);
                }
            }
        }
    };
    const int64_t nt = in_parallel_region() || tasks <= 1
                           ? 1
                           : std::max<int64_t>(1, std::min<int64_t>(effective_num_threads(), tasks));
    conv_chunks::run_image_tasks(tasks, per_image, N, nt, run);  // a chunk builds its image's strips once
}

}  // namespace

void conv_forward_cblocked(const float* x, const float* w, const float* b, float* out, int64_t N, int64_t OC,
                           const ConvGeometry& g) {
    // Register blocks per level (OCB vectors of channels x NP positions):
    //  AVX-512 (32 registers): 2x14 for OC > 16, 1x16 for OC <= 16 (1x8 blocks were latency-bound:
    //  N32 32->16 16x16 k3 p1 0.59 -> 0.48-0.53 ms with 1x16, N64 6->16 12x12 k3 0.110 -> 0.096-0.103);
    //  AVX2 (16 registers): 2x6 (12 accumulators), 1x12 for OC <= 8 (1x6: N32 16->8 32x32 k3 p1
    //  1.10 -> 0.98-1.01 ms with 1x12);
    //  default (a Vectorized is two SSE registers): 1x6.
#if defined(__AVX512F__)
    if (OC <= V) return forward<1, 16>(x, w, b, out, N, OC, g);
    return forward<2, 14>(x, w, b, out, N, OC, g);
#elif defined(__AVX2__)
    if (OC <= V) return forward<1, 12>(x, w, b, out, N, OC, g);
    return forward<2, 6>(x, w, b, out, N, OC, g);
#else
    return forward<1, 6>(x, w, b, out, N, OC, g);
#endif
}

// Where it wins: this kernel against conv2d_direct.cpp in one process, 1 thread, CPU clock
// (2026-12-01, this 2-vCPU Xeon, load 5-7; /tmp/s12/convf/h2.cpp: the best of a few calls, median
// of 5 interleaved rounds, two runs), after the edge kernels and the AVX2 asm tap step; time of
// this kernel / conv2d_direct.cpp's (N batch, C->OC channels, image, kernel):
//   row                                   AVX2         AVX-512
//   f  N8 64->128 56x56 k3 s2 p1          0.88 0.88    0.89 0.90
//   t  N16 32->64 28x28 k3 s2 p1          0.89 0.87    0.82 0.82
//   y  N8 128->256 28x28 k3 s2 p1         0.92 0.91    0.86 0.81
//   z  N16 64->128 32x32 k3 s2 p1         0.98 0.98    0.96 0.98
//   p  N8 64->40 56x56 k3 s2 p1 (tail)    0.90 0.88    1.13 1.15
//   q  N8 64->20, the same                1.03 1.01    0.84 0.80
//   r  N8 3->32 112x112 k3 s2 p1          0.98 0.96    0.92 0.88
//   b  N64 6->16 12x12 k5 p0              0.81 0.80    0.84 0.85
//   w  N64 6->16 12x12 k3 p0              0.83 0.83    1.00 0.96
//   a  N64 1->6 28x28 k5 p0               1.17 1.10    2.56 2.56
//   c  N32 3->32 32x32 k3 p1              1.09 1.07    1.67 1.62
//   u  N32 16->16 32x32 k3 p1             0.90 0.91    1.01 1.01
//   v  N64 16->16 8x8 k3 p1               0.76 0.76    0.79 0.80
//   x  N32 32->16 16x16 k3 p1             0.81 0.80    0.85 0.85
//   s  N32 16->8 32x32 k3 p1              1.08 1.09    1.76 1.73
//   d  N32 32->64 16x16 k3 p1             0.92 0.92    0.94 0.93
//   e  N8 64->64 56x56 k3 p1              1.04 1.05    0.99 0.98  (see below)
//   h  N8 128->128 28x28 k3 p1            0.97 0.97    0.92 0.93
//   i  N8 256->256 14x14 k3 p1            0.90 0.91    0.82 0.84
//   j  N16 32->64 28x28 k5 p2             0.89 0.85    0.87 0.88
//   k  N32 64->64 8x8 k3 p1               0.84 0.84    0.75 0.69
// So it is chosen for:
//  - strided layers with whole two-vector channel blocks (OC a multiple of 16 / 32) and C >= 32
//    (f, t, y, z), as before the edge kernels;
//  - "same"-padded stride-1 layers (k3 p1, k5 p2: the edge kernels) with whole channel blocks,
//    C >= 16 and rows of at most 56 outputs (d, e, h, i, j, k; at AVX2 also OC 16: u, x, v; at
//    AVX-512 OC 16 rows of at most 16: x, v);
//  - small-OC unpadded stride-1 layers with whole vectors (b; w at AVX2 only).
// e, the one row where the two are close (conv2d_direct.cpp's wide layout loses only 1 lane in 57
// there), measured again at load 6-10 (14:48-14:52): AVX2 0.977 0.976 0.987, 0.972 0.970 0.965
// (9 rounds), separate processes 16.97 vs 17.38 and 17.31 vs 17.66 ms, compare.py's e fwd
// lamina/torch 1.05 and 1.02 (conv2d_direct.cpp) vs 1.01 and 0.98 (this kernel), interleaved: this
// kernel is faster at AVX2 in 10 of 12 comparisons (not in the table's two). AVX-512 under that
// load 0.987 0.996 1.009 (compare.py 0.96 / 0.96 vs 0.94 / 0.96); in a quiet window (14:59, load
// ~2.5, 2 runs) 0.970 0.972 at AVX-512 and 0.979 0.958 at AVX2, compare.py's e fwd at AVX-512
// 1.01 / 1.02 vs 0.98 / 0.97: e takes this kernel at both levels.
// Left on conv2d_direct.cpp: partial channel blocks (p, q: mixed), few input channels
// (a, c, r), OC 8 (s), OC-16 32-wide rows at AVX-512 (u). Only among the shapes the cost rule
// already sends to the direct kernel (im2col + GEMM keeps the rest: not measured against it), with
// dw = 1 and KW > 1 (dilated columns and 1x1 not measured). At the baseline level it was not
// compared, so not chosen there. LAMINA_CONV2D_CBLOCKED=1 sends every float32 one-group forward
// here (tests, A/B timing in one process), =0 none.
bool cblocked_wins(int64_t OC, int64_t groups, const ConvGeometry& g, bool direct) {
    if (groups != 1) return false;
    const char* env = std::getenv("LAMINA_CONV2D_CBLOCKED");
    if (env && *env) return env[0] == '1';
    if (!direct || g.dw != 1 || g.KW < 2) return false;
#if defined(__AVX512F__) || defined(__AVX2__)
    const bool strided = g.sw >= 2 && OC % (2 * V) == 0 && g.C >= 32;
    // k3 p1 / k5 p2 at stride 1, both axes (the edge kernels' layers)
    const bool same = g.sh == 1 && g.sw == 1 && g.dh == 1 && g.KH == g.KW && g.ph == g.pw &&
                      ((g.KW == 3 && g.pw == 1) || (g.KW == 5 && g.pw == 2));
#endif
#if defined(__AVX512F__)
    const bool padded = same && g.C >= 16 &&
                        ((OC % (2 * V) == 0 && g.C >= 32 && g.OW <= 56) || (OC == V && g.OW <= 16));
    const bool small_oc = OC == V && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.OW % 8 == 0;
    return strided || padded || small_oc;
#elif defined(__AVX2__)
    const bool padded = same && g.C >= 16 && OC % (2 * V) == 0 && g.OW <= 56;
    const bool small_oc = OC <= 2 * V && OC % V == 0 && g.sw == 1 && g.ph == 0 && g.pw == 0;
    return strided || padded || small_oc;
#else
    (void)OC, (void)g, (void)direct;
    return false;
#endif
}

}  // namespace lamina
