// conv2d weight grad without a column matrix, for layers whose image fits in cache (LeNet's 12x12,
// CIFAR's 16x16): dw[oc, c, kh, kw] = sum over n and p = oh*OW + ow of dy[n, oc, p] * xs_n[off(c,kh,kw) + p]
// where xs_n is image n's shifted layout (conv2d_direct.h): every tap reads one contiguous run.
// A register block of OB output channels x KB taps keeps OB*KB vector sums over positions (OB + KB
// loads per OB*KB fused multiply-adds); the sums are reduced across lanes once at the end.
#include <algorithm>
#include <vector>

#include "../core/allocator.h"
#include "../core/parallel.h"
#include "../core/vec.h"
#include "conv2d_direct.h"

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

// Bytes of one image's working set: its shifted layout and its dy.
int64_t image_bytes(int64_t OC, const ConvGeometry& g, int64_t es) {
    return (shifted_size(g) + OC * g.OH * g.OW) * es;
}

// Images per chunk: their layouts and dy stay in the L2 (2 MB a core here) while every block of
// output channels x taps passes over them.
constexpr int64_t kChunkBytes = int64_t(1) << 20;
constexpr int64_t kChunkPositions = 1024;

}  // namespace

bool weight_grad_direct_fits(int64_t OC, const ConvGeometry& g, int64_t elem_size) {
    return image_bytes(OC, g, elem_size) <= kChunkBytes;
}

// Blocks (group, tap block kb, channel block ob) are split over threads; each block's sums run
// over the chunks, images and positions in the same order whichever thread owns it, so dw is the
// same at any thread count. Per chunk: shifted layouts of its images (parallel over images), then
// every block passes over them (tap-block-major: a block's input rows are reused from L1 by the
// next channel block).
template <class T>
void conv_weight_grad_direct(const T* dy, const T* x, T* dw, int64_t N, int64_t OC, int64_t groups,
                             const ConvGeometry& g) {
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

    ScratchBuffer<T> layout(static_cast<size_t>(std::max<int64_t>(1, nb * S)));
    ScratchBuffer<T> accs(static_cast<size_t>(nblk * kOB * kKB * lanes));
    std::vector<T> zeros(static_cast<size_t>(P + lanes), T(0));
    const int64_t blk_flops = kOB * kKB * nb * P;  // per block and chunk: a grain of ~32k FMAs
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, blk_flops));

    for (int64_t n0 = 0; n0 < N; n0 += nb) {
        const int64_t m = std::min(nb, N - n0);
        parallel_for(0, m, 1, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) fill_shifted(x + (n0 + i) * CHW, layout.get() + i * S, g, Hs);
        });
        const bool first = n0 == 0;
        parallel_for(0, nblk, grain, [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
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
                block_sums<T>(dyr, dys, xr, xst, m, P, accs.get() + b * kOB * kKB * lanes, first);
            }
        });
    }
    if (N == 0) {
        std::fill(dw, dw + OC * Kg, T(0));
        return;
    }
    // dw[gr*OCg + o, kof[i]] = the lanes' sum of block (gr, i / KB, o / OB)'s accumulator (o % OB, i % KB).
    parallel_for(0, OC, 8, [&](int64_t oc0, int64_t oc1) {
        for (int64_t oc = oc0; oc < oc1; ++oc) {
            const int64_t gr = oc / OCg, o = oc % OCg, ob = o / kOB, j = o % kOB;
            for (int64_t i = 0; i < Kg; ++i) {
                const int64_t b = (gr * nob + ob) * nkb + i / kKB, t = i % kKB;
                dw[oc * Kg + kof[i]] =
                    reduce_add(Vectorized<T>::loadu(accs.get() + ((b * kOB + j) * kKB + t) * lanes));
            }
        }
    });
}

template void conv_weight_grad_direct<float>(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                             const ConvGeometry&);
template void conv_weight_grad_direct<double>(const double*, const double*, double*, int64_t, int64_t, int64_t,
                                              const ConvGeometry&);

}  // namespace lamina
