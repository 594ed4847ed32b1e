// Direct convolution forward. The input is first laid out so that every kernel tap reads one
// contiguous run of input for a contiguous run of output positions; a register block of OB output
// channels x NV vectors of positions then accumulates over the C*KH*KW taps (NV vector loads and
// OB weight broadcasts per OB*NV fused multiply-adds), starts from the bias and is stored once.
// Two layouts, the cheaper picked per shape (choose() below):
//  - wide (stride 1 only): the zero-padded image [C, Hp, Wp], Wp = max(W + pw, OW) (wide_row):
//    position q = oh*Wp + ow of a "wide" output whose rows are Wp long (the first OW columns real)
//    reads q + c*Hp*Wp + kh*dh*Wp + kw*dw. A row's right padding is the next row's left padding
//    (both zero), so rows need only one padding's columns. No copy at all when there is no
//    padding; pays for the Wp - OW dead columns of every row and a copy of the real columns out
//    of a scratch.
//  - shifted (any stride): KW (times sh) compacted copies of the padded image,
//    xs[kw][c][s][r][ow] = xpad[c][r*sh + s][ow*sw + kw*dw], so position p = oh*OW + ow reads
//    p + off(c, kh, kw) with no dead lanes and results go straight to the output, at the price of
//    KW copies of the input. Small images (LeNet's 8x8 outputs of a 12x12 input lose a third of
//    the wide lanes) and strided convs use it.
// No column matrix (C*KH*KW times the input) is written: that write and re-read, and OpenBLAS far
// from peak at small M = OC or K, is what im2col + GEMM pays on small and cache-sized layers.
// Written once against lamina::vec::Vectorized<T>; only the register blocks differ per ISA level.
#include "conv2d_direct.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/allocator.h"
#include "../core/parallel.h"
#include "../core/vec.h"
#include "conv2d_chunks.h"
#include "conv2d_layout.h"

namespace lamina {

namespace {

using vec::Vectorized;


// dst[j*ldd + i] = bias[j] + sum_k wpk[k*LDW + j] * x[off[k] + i], j < OB, i < NV*lanes.
// With `more`, the sum starts from dst instead (the next pass of taps over the same outputs).
// LDW: the packed weights' row stride, the block's OB; larger for an edge block (edge_kernel).
// The tap loop starts on a 64-byte boundary: where it fell otherwise moved the AVX2 4x3 kernel's
// speed by ~5% between builds of the same code (conv d at AVX2: 2.64 vs 2.76 ms, same source).
template <class T, int OB, int NV, int LDW = OB>
__attribute__((optimize("align-loops=64"))) void block_kernel(const T* x, const int64_t* off, int64_t K, const T* wpk, const T* bias, T* dst, int64_t ldd,
                  bool more) {
    using V = Vectorized<T>;
    constexpr int lanes = V::size();
    V acc[OB][NV];
    if (more) {
#pragma GCC unroll 16
        for (int j = 0; j < OB; ++j)
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) acc[j][v] = V::loadu(dst + j * ldd + v * lanes);
    } else {
#pragma GCC unroll 16
        for (int j = 0; j < OB; ++j) {
            const V bj(bias[j]);
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) acc[j][v] = bj;
        }
    }
    for (int64_t k = 0; k < K; ++k) {
        const T* xs = x + off[k];
        V xv[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) xv[v] = V::loadu(xs + v * lanes);
        const T* wk = wpk + k * LDW;
#pragma GCC unroll 16
        for (int j = 0; j < OB; ++j) {
            const V wj(wk[j]);
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) acc[j][v] = fmadd(xv[v], wj, acc[j][v]);
        }
    }
#pragma GCC unroll 16
    for (int j = 0; j < OB; ++j)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[j][v].store(dst + j * ldd + v * lanes);
}

template <class T>
using KernelFn = void (*)(const T*, const int64_t*, int64_t, const T*, const T*, T*, int64_t, bool);

// Register blocks (output channels x position vectors) of this level, each with its measured
// cycles per vector FMA relative to two FMAs a cycle (bench rows conv2d_b/d/e/g, forced blocks;
// the 1- and 2-channel blocks from their load and FMA-latency bounds).
// AVX-512 has 32 vector registers: up to 24 accumulators + NV inputs + a broadcast; AVX2 has 16:
// 12 + NV + 1. The x86-64-v2 build has no FMA and two SSE registers per float vector.
struct Block {
    int ob, nv;
    double eff;
};
#if defined(__AVX512F__)
constexpr Block kBlocks[] = {{8, 3, 1.0},  {12, 2, 1.0}, {6, 4, 1.07}, {8, 2, 1.1},
                             {4, 4, 1.15}, {2, 4, 1.4},  {1, 4, 2.5}};
#define LAMINA_DIRECT_BLOCKS(X) X(8, 3) X(12, 2) X(6, 4) X(8, 2) X(4, 4) X(2, 4) X(1, 4)
#elif defined(__AVX2__) && defined(__FMA__)
// 3x4 spills (1.6). 2x4 and 1x4, for one or two output channels (a data grad of a 1-channel
// input), are bound by their loads and the FMA latency.
constexpr Block kBlocks[] = {{4, 3, 1.0}, {6, 2, 1.08}, {4, 2, 1.1}, {2, 4, 1.15}, {1, 4, 2.0}};
#define LAMINA_DIRECT_BLOCKS(X) X(4, 3) X(6, 2) X(4, 2) X(2, 4) X(1, 4)
#else
// x86-64-v2: a float Vectorized is two SSE registers (16 in all), so 4 or 2x2 accumulators.
constexpr Block kBlocks[] = {{4, 1, 1.0}, {2, 2, 1.0}, {1, 2, 1.5}};
#define LAMINA_DIRECT_BLOCKS(X) X(4, 1) X(2, 2) X(1, 2)
#endif

// The kernel for the ragged edges of an OB x NV block: the last channel block's jn < OB rows
// (the smallest of 8, 4, 2, 1 rows that holds them) or the last position block's nv < NV vectors,
// over the same packed weights. Edge blocks cost in proportion to what they compute: conv f at
// AVX-512 (12x2: 128 = 10*12 + 8 channels, 784 = 24*32 + 16 positions) spent ~5% of its FMAs on
// padding rows and lanes. Every output's sum runs over the same taps in the same order as in a
// full block, so the bits are the same.
template <class T, int OB, int NV>
KernelFn<T> edge_kernel(int64_t jn, int64_t nv) {
    if (jn < OB) {
        if constexpr (OB > 1)
            if (jn <= 1) return &block_kernel<T, 1, NV, OB>;
        if constexpr (OB > 2)
            if (jn <= 2) return &block_kernel<T, 2, NV, OB>;
        if constexpr (OB > 4)
            if (jn <= 4) return &block_kernel<T, 4, NV, OB>;
        if constexpr (OB > 8)
            if (jn <= 8) return &block_kernel<T, 8, NV, OB>;
    } else if (nv < NV) {
        if constexpr (NV > 1)
            if (nv <= 1) return &block_kernel<T, OB, 1, OB>;
        if constexpr (NV > 2)
            if (nv <= 2) return &block_kernel<T, OB, 2, OB>;
        if constexpr (NV > 3)
            if (nv <= 3) return &block_kernel<T, OB, 3, OB>;
    }
    return &block_kernel<T, OB, NV>;
}

// A block kernel and the rows and position vectors it computes.
template <class T>
struct Kernel {
    KernelFn<T> fn;
    int64_t rows, nv;
};

// kernel_for(ob, nv, jn, nvn): the ob x nv block's kernel for a block of jn channels and nvn
// position vectors (a full block: jn = ob, nvn = nv).
template <class T>
Kernel<T> kernel_for(int ob, int nv, int64_t jn, int64_t nvn) {
    auto round = [](int64_t j, int64_t o) -> int64_t {
        if (j >= o) return o;
        for (int64_t e = 1;; e *= 2)
            if (e >= j) return std::min(e, o);
    };
    const int64_t rows = round(jn, ob), vecs = jn < ob ? nv : std::min<int64_t>(nvn, nv);
#define LAMINA_DIRECT_CASE(o, v) \
    if (ob == o && nv == v) return {edge_kernel<T, o, v>(jn, nvn), rows, vecs};
    LAMINA_DIRECT_BLOCKS(LAMINA_DIRECT_CASE)
#undef LAMINA_DIRECT_CASE
    return {nullptr, 0, 0};
}

// Cycles per tap of one register block (two FMA ports), and per block for loading the bias and
// storing the accumulators.
double block_cycles(const Block& b) { return b.ob * b.nv / 2.0 * b.eff; }

// Costs in cycles: building an input layout (per element, plus per row: rows are short), copying
// results out of the wide scratch, writing + re-reading an im2col column (per element); reading a
// layout buffer once per output-channel block, at a rate that depends on where it fits
// (<= 256 KB: free; L2: ~10 bytes a cycle with AVX-512, ~50 with AVX2's half-width FMAs;
// beyond: ~3.5); OpenBLAS's fraction of the FMA peak on conv-shaped GEMMs, lower for small
// M = OC and K (README: [64, 32768, 288] reaches 42-48% with AVX-512, 66-69% with AVX2).
// Fitted to the bench rows conv2d_a..g at 1 thread, every block and layout forced in turn (see
// conv_use_direct in conv2d.cpp).
constexpr double kFillCost = 0.2, kFillRowCost = 8.0, kCopyOutCost = 1.0, kColCost = 0.4;
#if defined(__AVX512F__)
constexpr double kGemmEff = 0.6;
constexpr double kL2BytesPerCycle = 10.0;
#else
constexpr double kL2BytesPerCycle = 50.0;  // half-width FMAs: twice the cycles per byte read
constexpr double kGemmEff = 0.7;  // OpenBLAS's Haswell kernel, as on an AVX2-only CPU
#endif

double stream_cycles(double bytes) {
    if (bytes <= 256 * 1024) return 0.0;
    return bytes / (bytes <= 1.5 * 1024 * 1024 ? kL2BytesPerCycle : 3.5);
}

constexpr int64_t kBandBytes = 256 * 1024;

struct Choice {
    bool wide = false;
    Block blk{0, 0, 1.0};
    double cost = 0;
};

// Positions per image each layout computes, and the elements it copies in and out.
struct Layout {
    bool wide;
    int64_t Qtot;    // positions of one image in this layout's position axis
    int64_t fill;    // input elements written per image (0: read in place)
    int64_t rows;    // rows of those
    int64_t copyout; // output elements per channel copied out of a scratch per image
    int64_t buffer;  // elements of the layout (read in place or not)
};

// The wide layout's row length: W + pw, the columns past a row's end reading the next row's left
// padding (conv e: 57 for 56 outputs, half the dead lanes of W + 2*pw = 58); at least OW, for
// padding wider than the kernel (then the reads past OW stay inside the next row's padding).
int64_t wide_row(const ConvGeometry& g) { return std::max(g.W + g.pw, g.OW); }

Layout layout_of(bool wide, int64_t C, const ConvGeometry& g) {
    const int64_t Hp = g.H + 2 * g.ph, Wp = wide_row(g);
    if (wide) {
        const bool padded = g.ph != 0 || g.pw != 0;
        return {true, (g.OH - 1) * Wp + g.OW, padded ? C * Hp * Wp : 0, padded ? C * g.H : 0,
                g.OW == Wp ? 0 : g.OH * g.OW, C * Hp * Wp};  // OW == Wp: stored straight out
    }
    const int64_t Hs = g.OH + ((g.KH - 1) * g.dh) / g.sh;
    const int64_t buffer = g.KW * C * g.sh * Hs * g.OW;
    const bool pw = g.is_pointwise();
    return {false, g.OH * g.OW, pw ? 0 : buffer, pw ? 0 : g.KW * C * g.sh * Hs, 0, buffer};
}

// banded: the register block for the kernel to run. A compact layout beyond kBandBytes is run in
// bands of positions (conv_forward_direct), each band staying in cache while every channel block
// passes over it, so the layout streams from memory once, not once per channel block. Not used for
// direct_cost (the direct vs im2col + GEMM rule stays as fitted) and only for strided convs: with
// it, conv f at AVX-512 takes 8x3 instead of 12x2, 3-5% faster (standalone, 1 thread).
Choice choose(int64_t OC, int64_t groups, const ConvGeometry& g, int64_t es, bool banded = false) {
    const int64_t lanes = int64_t(sizeof(Vectorized<float>)) / es;
    const int64_t OCg = OC / groups, K = (g.C / groups) * g.KH * g.KW;
    Choice best;
    best.cost = -1;
    for (int m = 0; m < 2; ++m) {
        const bool wide = m == 0;
        if (wide && (g.sh != 1 || g.sw != 1)) continue;
        const Layout lay = layout_of(wide, g.C, g);
        for (const Block& b : kBlocks) {
            const int64_t QB = b.nv * lanes;
            const double blocks = double(groups) * ((OCg + b.ob - 1) / b.ob) * ((lay.Qtot + QB - 1) / QB);
            const double nob = double(groups) * ((OCg + b.ob - 1) / b.ob);
            const double bytes = double(lay.buffer) * double(es);
            // Strided only, where the shifted layout is the one choice: at stride 1 the banded
            // figure made conv e take the shifted layout, 14% slower than the wide one.
            const bool strided = g.sh != 1 || g.sw != 1;
            const double stream = banded && strided && nob > 1 && bytes > kBandBytes
                                      ? stream_cycles(bytes)
                                      : nob * stream_cycles(bytes);
            const double cost = blocks * (K * block_cycles(b) + 4.0 * b.ob * b.nv + 40.0) + stream +
                                lay.fill * kFillCost +
                                lay.rows * kFillRowCost + lay.copyout * OC * kCopyOutCost;
            if (best.cost < 0 || cost < best.cost) best = {wide, b, cost};
        }
    }
    return best;
}

// Copies n elements: whole vectors, then one masked vector for the rest. Rows here are short
// (8-56 elements): a scalar tail (56 = 3*16 + 8 at AVX-512; LeNet's 8-wide rows were all tail)
// made the copies 13% of conv b and ~5% of e; a library call costs more than the copy.
template <class T>
inline void copy_row(const T* s, T* d, int64_t n) {
    using V = Vectorized<T>;
    constexpr int64_t lanes = V::size();
    int64_t i = 0;
    for (; i + lanes <= n; i += lanes) V::loadu(s + i).store(d + i);
    if (i < n) V::loadu(s + i, int(n - i)).store(d + i, int(n - i));
}

// The wide layout: the zero-padded image [C, Hp, Wp] (borders and slack stay zero from the
// allocation).
template <class T>
void fill_wide(const T* xn, T* xp, const ConvGeometry& g) {
    const int64_t Wp = wide_row(g), HWp = (g.H + 2 * g.ph) * Wp;
    for (int64_t c = 0; c < g.C; ++c)
        for (int64_t h = 0; h < g.H; ++h)
            copy_row(xn + (c * g.H + h) * g.W, xp + c * HWp + (h + g.ph) * Wp + g.pw, g.W);
}

// Copies rows of n elements.
template <class T>
void copy_rows(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; ++r) copy_row(src + r * lds, dst + r * ldd, n);
}

// Copies wide positions [qs, qe) of rows j < jn of the wide scratch (row stride ldw) to the
// output (row stride P): each output row's real columns are one contiguous run.
template <class T>
void copy_wide_block(const T* wd, int64_t ldw, T* out, int64_t P, int64_t jn, int64_t qs, int64_t qe,
                     int64_t Wp, int64_t OW) {
    for (int64_t oh = qs / Wp; oh * Wp < qe; ++oh) {
        const int64_t a = std::max(qs, oh * Wp), b = std::min(qe, oh * Wp + OW);
        if (a >= b) continue;
        const int64_t n = b - a, o = oh * OW + (a - oh * Wp);
        for (int64_t j = 0; j < jn; ++j) copy_row(wd + j * ldw + a, out + j * P + o, n);
    }
}

}  // namespace

// The shifted layout: xs[kw][c][s][r][ow] = xpad[c][r*sh + s][ow*sw + kw*dw], r < Hs; every
// element written (zeros included). Also the weight grad's input layout (conv2d_weight_grad.cpp).
template <class T>
void fill_shifted(const T* xn, T* xp, const ConvGeometry& g, int64_t Hs, int64_t plane) {
    if (plane < 0) plane = Hs * g.OW;
    const int64_t C = g.C, H = g.H, W = g.W, OW = g.OW, sh = g.sh, sw = g.sw, KW = g.KW;
    // Per channel, kw outside the rows: the channel's rows (f: 12.5 KB) are read from memory once
    // and copied KW times from L1, and each kernel column's masks stay in registers over all of
    // its rows (RowGather::rows). kw outermost over the whole image read it KW times (f's 800 KB
    // images came back from L3 each time). Each copy is one masked-load row gather
    // (conv2d_layout.h): the padding columns come from the load masks, not from scalar edge loops.
    std::vector<conv_layout::RowGather<T>> gather;  // output column ow reads input column ow*sw + kw*dw - pw
    for (int64_t kw = 0; kw < KW; ++kw) gather.emplace_back(kw * g.dw - g.pw, sw, W, OW);
    for (int64_t c = 0; c < C; ++c)
        for (int64_t kw = 0; kw < KW; ++kw)
            for (int64_t s = 0; s < sh; ++s) {
                // rows r with input row ih = r*sh + s - ph inside [0, H): [ra, rb); the rest zero
                const int64_t ra = std::min(Hs, std::max<int64_t>(0, (g.ph - s + sh - 1) / sh));
                const int64_t rb = std::max(ra, std::min(Hs, (H + g.ph - s + sh - 1) / sh));
                T* d = xp + ((kw * C + c) * sh + s) * plane;
                for (int64_t r = 0; r < ra; ++r) conv_layout::zero_row(d + r * OW, OW);
                if (rb > ra) gather[kw].rows(xn + (c * H + ra * sh + s - g.ph) * W, sh * W, d + ra * OW, OW, rb - ra);
                for (int64_t r = rb; r < Hs; ++r) conv_layout::zero_row(d + r * OW, OW);
            }
}

template void fill_shifted<float>(const float*, float*, const ConvGeometry&, int64_t, int64_t);
template void fill_shifted<double>(const double*, double*, const ConvGeometry&, int64_t, int64_t);

double direct_cost(int64_t OC, int64_t groups, const ConvGeometry& g, int64_t elem_size) {
    return choose(OC, groups, g, elem_size).cost;
}

double im2col_gemm_cost(int64_t OC, int64_t groups, const ConvGeometry& g, int64_t elem_size,
                        bool data_grad) {
    const double lanes = double(sizeof(Vectorized<float>)) / double(elem_size);
    const double K = double(g.col_rows()), P = double(g.col_cols());
    const double cols = g.is_pointwise() ? 0.0 : K * P * kColCost;
    const double OCg = double(OC) / double(groups), Kg = K / double(groups);
    // forward / weight grad: M = OCg, K = Kg; data grad: M = Kg, K = OCg
    const double M = data_grad ? Kg : OCg, Kd = data_grad ? OCg : Kg;
    const double eff = kGemmEff * Kd / (Kd + 64.0) * M / (M + 32.0);
    return double(groups) * M * P * Kd / (lanes * 2.0 * eff) + cols;
}

template <class T>
void conv_forward_direct(const T* x, const T* w, const T* b, T* out, int64_t N, int64_t OC, int64_t groups,
                         const ConvGeometry& g) {
    constexpr int64_t lanes = Vectorized<T>::size();
    const Choice ch = choose(OC, groups, g, sizeof(T), true);
    const int64_t OB = ch.blk.ob, QB = ch.blk.nv * lanes;
    const int64_t C = g.C, H = g.H, W = g.W, KH = g.KH, KW = g.KW, OH = g.OH, OW = g.OW, P = OH * OW;
    const int64_t Cg = C / groups, OCg = OC / groups, K = Cg * KH * KW, CHW = C * H * W;
    const int64_t Hp = H + 2 * g.ph, Wp = wide_row(g), HWp = Hp * Wp;
    const int64_t Hs = OH + ((KH - 1) * g.dh) / g.sh;
    // Shifted layout planes start on a 64-byte line: the taps of rows r*sh + s (kh < sh) then read
    // whole lines, not loads split across two (conv f, 29*28-element planes: ~6% of its forward).
    constexpr int64_t line = 64 / int64_t(sizeof(T));
    // A 1x1 conv reads the input in place (planes of H*W): not rounded.
    const int64_t plane = g.is_pointwise() ? Hs * OW : (Hs * OW + line - 1) / line * line;
    const Layout lay = layout_of(ch.wide, C, g);
    const int64_t Qtot = lay.Qtot, nq = (Qtot + QB - 1) / QB, Qw = nq * QB;
    const int64_t nob = (OCg + OB - 1) / OB;
    // Input layout: per-tap offsets (within a group), a group's stride, the buffer's size (the
    // last position block reads up to QB - 1 past the end: that slack is zero).
    std::vector<int64_t> off(static_cast<size_t>(K));
    for (int64_t c = 0; c < Cg; ++c)
        for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw)
                off[(c * KH + kh) * KW + kw] =
                    ch.wide ? c * HWp + kh * g.dh * Wp + kw * g.dw
                            : ((kw * C + c) * g.sh + (kh * g.dh) % g.sh) * plane + ((kh * g.dh) / g.sh) * OW;
    const int64_t gstride = ch.wide ? Cg * HWp : Cg * g.sh * plane;
    // (wide rows of W + pw: the last row's taps read up to pw - 1 past its channel, zero slack)
    const int64_t bufsize = (ch.wide ? C * HWp + g.pw : KW * C * g.sh * plane) + QB;
    const bool in_place_layout = lay.fill == 0;
    // Positions are the output's own (p = oh*OW + ow): the shifted layout, or a wide one without
    // dead columns. Then whole blocks are stored straight into the output.
    const bool compact = !ch.wide || Wp == OW;
    // A wide scratch beyond the L1 (conv e at AVX-512: 8 x 3264 floats) is copied out block by
    // block, right after each block's last pass, from the L1 and with the output's write misses
    // hidden behind the next blocks' FMAs (e: ~5% of its time as one copy after all blocks).
    // Smaller scratches (d; e at AVX2, 52 KB) are copied once at the end, measured as fast or
    // faster (d at AVX2: 3-5% faster).
    const bool copy_each = !compact && OB * Qw * int64_t(sizeof(T)) > 64 * 1024;

    // Weights repacked [groups][nob][K][OB] (zero rows past OCg), bias [groups][nob][OB].
    std::vector<T> wpk(static_cast<size_t>(groups * nob * K * OB), T(0));
    std::vector<T> bpk(static_cast<size_t>(groups * nob * OB), T(0));
    for (int64_t oc = 0; oc < OC; ++oc) {
        const int64_t gr = oc / OCg, o = oc % OCg, blk = gr * nob + o / OB, j = o % OB;
        for (int64_t k = 0; k < K; ++k) wpk[(blk * K + k) * OB + j] = w[oc * K + k];
        if (b) bpk[blk * OB + j] = b[oc];
    }

    // Taps per pass over the positions: a block's weights (Kt x OB) and the input rows it reads
    // then stay in L1 together (C = 64, 3x3 would otherwise stream 18 KB of weights and ~36 KB of
    // input rows per block), at the price of reloading the accumulators once per pass.
    const int64_t ct_max = std::max<int64_t>(1, int64_t(8192 / (sizeof(T) * OB)) / (KH * KW));
    const int64_t nct = (Cg + ct_max - 1) / ct_max, ct = nct ? (Cg + nct - 1) / nct : 1;

    // Position bands (compact positions only): a layout beyond kBandBytes (f: 1.25 MB) would be
    // streamed from the L2 once per channel block; in bands of position blocks, a band's part of
    // the layout stays in cache while every channel block passes over it.
    const int64_t lay_bytes = (bufsize - QB) * int64_t(sizeof(T));
    int64_t qper = nq;
    if (compact && nob > 1 && lay_bytes > kBandBytes)
        qper = std::max<int64_t>(1, (nq + (lay_bytes + kBandBytes - 1) / kBandBytes - 1) /
                                        ((lay_bytes + kBandBytes - 1) / kBandBytes));
    const int64_t nbands = (nq + qper - 1) / qper, per_image = groups * nbands * nob;
    const int64_t tasks = N * per_image;
    const int64_t nt =
        in_parallel_region() || tasks <= 1 ? 1 : std::max<int64_t>(1, std::min<int64_t>(effective_num_threads(), tasks));
    auto fill = [&](const T* xn, T* xp) {
        if (ch.wide)
            fill_wide(xn, xp, g);
        else
            fill_shifted(xn, xp, g, Hs, plane);
    };
    auto run = [&](int64_t t0, int64_t t1) {
        // The layout's buffer; for a layout read in place, room for a copy of the image (only
        // the last image(s) may need it). Borders and slack stay zero from here on.
        const int64_t xsize = in_place_layout ? CHW + QB : bufsize;
        ScratchBuffer<T> xbuf, scratch(static_cast<size_t>(OB * Qw));
        T* xp = nullptr;
        T* wd = scratch.get();
        int64_t cur = -1;
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t n = t / per_image, r = t % per_image, gr = r / (nbands * nob);
            const int64_t band = (r / nob) % nbands, ob = r % nob, blk = gr * nob + ob;
            const int64_t qb0 = band * qper, qb1 = std::min(nq, qb0 + qper);
            const T* xn = x + n * CHW;
            // In place, the last block's over-read (Qw - Qtot elements, feeding only discarded
            // outputs) must stay inside x; otherwise the image is copied.
            const bool in_place = in_place_layout && (N - n - 1) * CHW >= Qw - Qtot;
            if (!in_place && n != cur) {
                if (!xp) {
                    xbuf = ScratchBuffer<T>(static_cast<size_t>(xsize));
                    xp = xbuf.get();
                    std::fill(xp, xp + xsize, T(0));
                }
                if (in_place_layout)
                    std::copy(xn, xn + CHW, xp);
                else
                    fill(xn, xp);
                cur = n;
            }
            const T* xg = (in_place ? xn : xp) + gr * gstride;
            const T* wb = wpk.data() + blk * K * OB;
            const T* bb = bpk.data() + blk * OB;
            const int64_t jn = std::min<int64_t>(OB, OCg - ob * OB);
            T* orow = out + (n * OC + gr * OCg + ob * OB) * P;  // output row of this block's channel 0
            // Position block qb's kernel (an edge kernel for a partial channel block or the last,
            // ragged position block) and where it stores: compact positions whose kernel computes
            // exactly the block's channels and positions inside P go straight to the output, the
            // rest through the scratch.
            auto block = [&](int64_t qb) {
                const int64_t nvn = (std::min(Qtot - qb * QB, QB) + lanes - 1) / lanes;
                const Kernel<T> kb = kernel_for<T>(ch.blk.ob, ch.blk.nv, jn, nvn);
                const bool to_out = compact && kb.rows == jn && qb * QB + kb.nv * lanes <= P;
                return std::make_pair(kb.fn, to_out);
            };
            for (int64_t c0 = 0; c0 < Cg || (Cg == 0 && c0 == 0); c0 += std::max<int64_t>(ct, 1)) {
                const int64_t k0 = c0 * KH * KW, kt = (std::min(Cg, c0 + ct) - c0) * KH * KW;
                for (int64_t qb = qb0; qb < qb1; ++qb) {
                    const auto [kern, to_out] = block(qb);
                    T* dst = to_out ? orow + qb * QB : wd + qb * QB;
                    kern(xg + qb * QB, off.data() + k0, kt, wb + k0 * OB, bb, dst, to_out ? P : Qw, c0 > 0);
                    if (copy_each && c0 + ct >= Cg)
                        copy_wide_block(wd, Qw, orow, P, jn, qb * QB, std::min(Qtot, qb * QB + QB), Wp, OW);
                }
                if (Cg == 0) break;
            }
            if (copy_each) {
            } else if (!compact) {
                for (int64_t j = 0; j < jn; ++j) copy_rows(wd + j * Qw, Wp, orow + j * P, OW, OH, OW);
            } else {
                for (int64_t qb = qb0; qb < qb1; ++qb)  // the band's blocks that went to the scratch
                    if (!block(qb).second) {
                        const int64_t qs = qb * QB, qe = std::min(P, qs + QB);
                        if (qs < qe) copy_rows(wd + qs, Qw, orow + qs, P, jn, qe - qs);
                    }
            }
        }
    };
    conv_chunks::run_image_tasks(tasks, per_image, N, nt, run);  // whole images per chunk when it can
}

template void conv_forward_direct<float>(const float*, const float*, const float*, float*, int64_t, int64_t,
                                         int64_t, const ConvGeometry&);
template void conv_forward_direct<double>(const double*, const double*, const double*, double*, int64_t,
                                          int64_t, int64_t, const ConvGeometry&);

}  // namespace lamina
