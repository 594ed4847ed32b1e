// Direct stride-1 convolution forward. The image is copied once into a zero-padded buffer
// [C, Hp, Wp]; then an output position q = oh*Wp + ow of the "wide" output (rows of width Wp, of
// which the first OW columns are real) reads input offset q + off[c, kh, kw] for every tap, so the
// whole image is one long vector axis with no borders to test. A register block of OB output
// channels x NV vectors of q accumulates over all C*KH*KW taps (NV vector loads and OB weight
// broadcasts per OB*NV multiply-adds), starts from the bias, and is stored once; the valid OW
// columns of each wide row are then copied to the output. No column matrix is written, which is
// what im2col + GEMM pays for on small or cache-sized layers (see conv_use_direct in conv2d.cpp).
#include "conv2d_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "../core/allocator.h"
#include "../core/parallel.h"

namespace lamina {

namespace {

// Vector width and register block of the compiled ISA level. GCC/Clang vector types (not
// intrinsics) so the same code compiles at every level: x86-64-v4 gets 512-bit registers (32 of
// them: 8 channels x 2 vectors = 16 accumulators), v3 has 16 (4 x 3 = 12 accumulators); v2 has
// 16 but no FMA, so a multiply needs a temporary register (4 x 2 = 8 accumulators, no spills).
#if defined(__AVX512F__)
constexpr int kVecBytes = 64, kOB = 8, kNV = 2;
#elif defined(__AVX__)
constexpr int kVecBytes = 32, kOB = 4, kNV = 3;
#else
constexpr int kVecBytes = 16, kOB = 4, kNV = 2;
#endif

template <class T>
struct VecOf;
template <>
struct VecOf<float> {
    typedef float type __attribute__((vector_size(kVecBytes), aligned(4)));
};
template <>
struct VecOf<double> {
    typedef double type __attribute__((vector_size(kVecBytes), aligned(8)));
};

// dst[j*ldd + i] = bias[j] + sum_k wpk[k*OB + j] * x[off[k] + i], j < OB, i < NV*lanes.
// With `more`, the sum starts from dst instead (the next block of taps of the same outputs).
template <class T>
inline void block_kernel(const T* x, const int64_t* off, int64_t K, const T* wpk, const T* bias, T* dst,
                         int64_t ldd, bool more) {
    using V = typename VecOf<T>::type;
    constexpr int lanes = kVecBytes / sizeof(T);
    V acc[kOB][kNV];
#pragma GCC unroll 16
    for (int j = 0; j < kOB; ++j)
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v)
            acc[j][v] = more ? *reinterpret_cast<const V*>(dst + j * ldd + v * lanes) : V{} + bias[j];
    for (int64_t k = 0; k < K; ++k) {
        const T* xs = x + off[k];
        V xv[kNV];
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) xv[v] = *reinterpret_cast<const V*>(xs + v * lanes);
        const T* wk = wpk + k * kOB;
#pragma GCC unroll 16
        for (int j = 0; j < kOB; ++j) {
            const T wj = wk[j];
#pragma GCC unroll 4
            for (int v = 0; v < kNV; ++v) acc[j][v] += xv[v] * wj;
        }
    }
#pragma GCC unroll 16
    for (int j = 0; j < kOB; ++j)
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) *reinterpret_cast<V*>(dst + j * ldd + v * lanes) = acc[j][v];
}

}  // namespace

template <class T>
void conv_forward_direct(const T* x, const T* w, const T* b, T* out, int64_t N, int64_t OC, int64_t groups,
                         const ConvGeometry& g) {
    constexpr int64_t lanes = kVecBytes / sizeof(T), QB = kNV * lanes;
    const int64_t C = g.C, H = g.H, W = g.W, KH = g.KH, KW = g.KW, OH = g.OH, OW = g.OW;
    const int64_t Hp = H + 2 * g.ph, Wp = W + 2 * g.pw, HWp = Hp * Wp;
    const int64_t Cg = C / groups, OCg = OC / groups, K = Cg * KH * KW;
    const int64_t Qtot = (OH - 1) * Wp + OW, nq = (Qtot + QB - 1) / QB, Qw = nq * QB;
    const int64_t nob = (OCg + kOB - 1) / kOB;
    // The last q block reads up to QB - 1 past the padded image: that slack is zero.
    const int64_t xsize = C * HWp + QB;

    std::vector<int64_t> off(static_cast<size_t>(K));
    for (int64_t c = 0; c < Cg; ++c)
        for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw)
                off[(c * KH + kh) * KW + kw] = c * HWp + kh * g.dh * Wp + kw * g.dw;
    // Weights repacked [groups][nob][K][OB] (zero rows past OCg), bias [groups][nob][OB].
    std::vector<T> wpk(static_cast<size_t>(groups * nob * K * kOB), T(0));
    std::vector<T> bpk(static_cast<size_t>(groups * nob * kOB), T(0));
    for (int64_t oc = 0; oc < OC; ++oc) {
        const int64_t gr = oc / OCg, o = oc % OCg, blk = gr * nob + o / kOB, j = o % kOB;
        for (int64_t k = 0; k < K; ++k) wpk[(blk * K + k) * kOB + j] = w[oc * K + k];
        if (b) bpk[blk * kOB + j] = b[oc];
    }

    // Taps per pass over the positions: a block's weights (Kt x OB) and the input rows it reads
    // then stay in L1 together (C = 64, 3x3 would otherwise stream 18 KB of weights and ~36 KB of
    // input rows per block), at the price of reloading the accumulators once per pass.
    const int64_t ct_max = std::max<int64_t>(1, int64_t(8192 / (sizeof(T) * kOB)) / (KH * KW));
    const int64_t nct = (Cg + ct_max - 1) / ct_max, ct = nct ? (Cg + nct - 1) / nct : 1;
    // Without padding the image is used in place, except where the last block's over-read
    // (Qw - Qtot elements, feeding only discarded outputs) would run past the end of x.
    const bool unpadded = g.ph == 0 && g.pw == 0;

    const int64_t tasks = N * groups * nob;
    const int64_t nt = in_parallel_region() ? 1 : std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), tasks));
    auto run = [&](int64_t t0, int64_t t1) {
        ScratchBuffer<T> xbuf(static_cast<size_t>(xsize)), wide(static_cast<size_t>(kOB * Qw));
        T* xp = xbuf.get();
        std::fill(xp, xp + xsize, T(0));
        int64_t cur = -1;
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t n = t / (groups * nob), blk = t % (groups * nob), gr = blk / nob, ob = blk % nob;
            const T* xn = x + n * C * H * W;
            const bool in_place = unpadded && (n + 1 < N || Qw == Qtot);
            if (!in_place && n != cur) {  // pad image n (the borders and the slack stay zero)
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t h = 0; h < H; ++h)
                        std::copy(xn + (c * H + h) * W, xn + (c * H + h + 1) * W,
                                  xp + c * HWp + (h + g.ph) * Wp + g.pw);
                cur = n;
            }
            const T* xg = (in_place ? xn : xp) + gr * Cg * HWp;
            const T* wb = wpk.data() + blk * K * kOB;
            const T* bb = bpk.data() + blk * kOB;
            T* wd = wide.get();
            for (int64_t c0 = 0; c0 < Cg; c0 += ct) {
                const int64_t k0 = c0 * KH * KW, kt = (std::min(Cg, c0 + ct) - c0) * KH * KW;
                for (int64_t qb = 0; qb < nq; ++qb)
                    block_kernel(xg + qb * QB, off.data() + k0, kt, wb + k0 * kOB, bb, wd + qb * QB, Qw, c0 > 0);
            }
            if (Cg == 0)  // no taps: the bias alone
                for (int64_t qb = 0; qb < nq; ++qb)
                    block_kernel(xg, off.data(), 0, wb, bb, wd + qb * QB, Qw, false);
            const int64_t jn = std::min<int64_t>(kOB, OCg - ob * kOB);
            for (int64_t j = 0; j < jn; ++j) {
                T* o = out + (n * OC + gr * OCg + ob * kOB + j) * OH * OW;
                for (int64_t oh = 0; oh < OH; ++oh)
                    std::copy(wd + j * Qw + oh * Wp, wd + j * Qw + oh * Wp + OW, o + oh * OW);
            }
        }
    };
#ifdef _OPENMP
    if (nt > 1) {
        ParallelErrors errors;
#pragma omp parallel num_threads(static_cast<int>(nt))
        {
            const int64_t tid = omp_get_thread_num(), per = (tasks + nt - 1) / nt;
            const int64_t t0 = std::min(tasks, tid * per), t1 = std::min(tasks, t0 + per);
            errors.run([&] { run(t0, t1); });
        }
        errors.rethrow();
        return;
    }
#endif
    run(0, tasks);
}

template void conv_forward_direct<float>(const float*, const float*, const float*, float*, int64_t, int64_t,
                                         int64_t, const ConvGeometry&);
template void conv_forward_direct<double>(const double*, const double*, const double*, double*, int64_t,
                                          int64_t, int64_t, const ConvGeometry&);

}  // namespace lamina
