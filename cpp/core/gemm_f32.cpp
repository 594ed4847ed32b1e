// lamina's float32 GEMM: BLIS loop nest (NC columns of B, KC deep, MC rows of A), packing from
// gemm_pack.h, and one micro-kernel over vec::Vectorized<float> with per-ISA register blocks.
// Also the size rule saying where it beats OpenBLAS (blas.cpp asks it once per call).
#include "gemm_f32.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "check.h"
#include "gemm_pack.h"
#include "probe.h"
#include "vec.h"

namespace lamina {

namespace {

using Vec = vec::Vectorized<float>;
constexpr int kW = Vec::size();

// Register blocks: MR x NV accumulators + NV B vectors + 1 broadcast fit the register file.
#if defined(__AVX512F__)
constexpr int kMR = 14, kNV = 2;  // 28 + 2 + 1 of 32 zmm; B panel 32 floats = 2 lines per k
#elif defined(__AVX2__)
constexpr int kMR = 6, kNV = 2;   // 12 + 2 + 1 of 16 ymm
#else
constexpr int kMR = 4, kNV = 1;   // Vectorized<float> is 2 xmm here: 8 + 2 + 1 of 16 xmm
#endif
constexpr int kNR = kNV * kW;

// Cache blocks. Loop order (gemm_f32 below): for each MR-row A micro-panel, every NR-column B
// micro-panel of the block. The KC x MR A micro-panel (28 KB at AVX-512) stays in L1 (48 KB) while
// B micro-panels stream from the packed KC x NC B block in L2 (1 MB of 2 MB), and a K of up to
// 512 is summed in one pass, so C is read and written half as often as with KC = 256 (at 1024^3 C
// is 4 MB and lives in L3). Measured against the former order (B micro-panel in L1, KC 256,
// NC 2048): +2-6% at 512^3 and 1024^3 at AVX-512, +0-3% at AVX2, the linear shapes unchanged;
// KC 384/640, MC 6/24 panels and NC 256/768 were no better. KC is fixed, never derived from M or N,
// so the K order of every sum is the same for any block of C.
constexpr int64_t kKC = 512;
constexpr int64_t kMC = kMR * 12;
constexpr int64_t kNC = (512 + kNR - 1) / kNR * kNR;
// Few rows (a linear layer's batch): at most this many rows of C take the few-rows order below.
constexpr int64_t kFewRows = 128;
// A @ B^T with at most this many rows of C takes the B-in-place order (tile_bt below).
constexpr int64_t kBtRows = 256;

// acc = A panel @ Bp panel (NV vectors of the NR per k, rows ldbp apart: NR when packed, ldb when
// read in place) over kc; then C = alpha * acc + beta * C, where beta == 0 overwrites C. The A panel
// is packed (LDA > 0: k-major, LDA per k, the first MR used) or MR rows of a row-major matrix read
// where they are stored (LDA == 0: row r at Ap + r * ars); the broadcast loads cost the same.
template <int MR, int NV, int LDA>
__attribute__((always_inline)) inline void micro_kernel(int64_t kc, const float* __restrict Ap, int64_t ars,
                                                        const float* __restrict Bp, int64_t ldbp,
                                                        float* __restrict C, int64_t ldc, float alpha,
                                                        float beta) {
    Vec acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = Vec(0.0f);
    // No prefetch of the C tile here: prefetching its 28 lines at the start measured 1-3% slower
    // (the lines come back long before use and compete with the A panel in L1).
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k) {
        Vec b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) b[v] = Vec::loadu(Bp + k * ldbp + v * kW);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            const Vec a(LDA > 0 ? Ap[k * LDA + r] : Ap[r * ars + k]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] = fmadd(a, b[v], acc[r][v]);
        }
    }
    const Vec va(alpha), vb(beta);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            float* c = C + r * ldc + v * kW;
            Vec out = acc[r][v];
            if (alpha != 1.0f) out = out * va;
            if (beta == 1.0f) out = out + Vec::loadu(c);
            else if (beta != 0.0f) out = fmadd(vb, Vec::loadu(c), out);
            out.store(c);
        }
}

// One tile of C: `rows` x `cols` of the MR x NR panel pair. A short tile (the M or N edge) runs a
// kernel with only the rows and vectors it needs, so edge tiles cost in proportion to their size;
// a tile whose width is not whole vectors goes through a small buffer, then its valid part to C.
template <int R, int LDA>
void tile_rows(int64_t kc, const float* Ap, int64_t ars, const float* Bp, int64_t ldbp, float* C, int64_t ldc, int64_t cols,
               float alpha, float beta) {
    if (cols == kNR) return micro_kernel<R, kNV, LDA>(kc, Ap, ars, Bp, ldbp, C, ldc, alpha, beta);
    if (kNV > 1 && cols == kW) return micro_kernel<R, 1, LDA>(kc, Ap, ars, Bp, ldbp, C, ldc, alpha, beta);
    alignas(64) float tmp[R * kNR];
    if (kNV > 1 && cols < kW)
        micro_kernel<R, 1, LDA>(kc, Ap, ars, Bp, ldbp, tmp, kNR, alpha, 0.0f);
    else
        micro_kernel<R, kNV, LDA>(kc, Ap, ars, Bp, ldbp, tmp, kNR, alpha, 0.0f);
    for (int r = 0; r < R; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            float& dst = C[r * ldc + c];
            dst = beta == 0.0f ? tmp[r * kNR + c] : tmp[r * kNR + c] + beta * dst;
        }
}

using TileFn = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t, float, float);

template <int LDA, int... R>
constexpr std::array<TileFn, sizeof...(R)> make_tiles(std::integer_sequence<int, R...>) {
    return {&tile_rows<R + 1, LDA>...};
}
// kTiles[r - 1] handles r rows of a packed A; kTilesA reads A's rows in place (row stride ars).
constexpr auto kTiles = make_tiles<kMR>(std::make_integer_sequence<int, kMR>{});
constexpr auto kTilesA = make_tiles<0>(std::make_integer_sequence<int, kMR>{});

#if defined(__AVX2__)
// The W-in-place form of C = A @ B^T (both operands K-contiguous, as x @ W^T in a linear forward),
// computed as C^T = B @ A^T: B's rows are the broadcast side, read where they are stored (no
// packing: packing W^T was ~12% of a batch-64 linear forward, memory-bound, and a cheaper transpose
// did not help), A^T is packed into NR-column panels (A's rows become C's columns), and each
// MR x NR tile of C^T is transposed into C through two small buffers.
// Per element the arithmetic is that of micro_kernel (the same k order from 0, the same KC blocks,
// alpha then beta applied alike), so the bits equal the standard order's for any split of C.

// C (at its [i0, j0] corner) = tmp^T + beta * C for an R x cols tile tmp of C^T (rows kNR apart),
// beta == 0 overwriting; with `add` (the bias row at j0) C = tmp^T + add instead, C not read.
template <int R>
void store_transposed(const float* tmp, int64_t cols, float* C, int64_t ldc, float beta, const float* add) {
    static_assert(R <= kW, "a row of C's tile is one vector");
    alignas(64) float tt[kNR * kW];  // tt[i][j]: the tile transposed, rows kW apart
    for (int64_t i = 0; i < cols; i += 8)
        for (int j = 0; j < R; j += 8)
            gemm_detail::transpose8x8(tmp + j * kNR + i, kNR, std::min(8, R - j), tt + i * kW + j, kW,
                                      std::min(8, R - j));
    const Vec vb(beta);
    const Vec va = add ? Vec::loadu(add, R) : Vec(0.0f);
    for (int64_t i = 0; i < cols; ++i) {
        float* c = C + i * ldc;
        Vec out = Vec::loadu(tt + i * kW);
        if (add) out = out + va;
        else if (beta == 1.0f) out = out + Vec::loadu(c, R);
        else if (beta != 0.0f) out = fmadd(vb, Vec::loadu(c, R), out);
        out.store(c, R);
    }
}

// One R x cols tile of C^T (R rows of B = columns j0.. of C; cols rows of A = rows of C) over one
// K block, written to C by store_transposed (add: the bias row at j0, first K block only).
template <int R>
void tile_bt(int64_t kc, const float* Bt, int64_t ldb, const float* Ap, float* C, int64_t ldc, int64_t cols,
             float alpha, float beta, const float* add) {
    alignas(64) float tmp[R * kNR];
    // B's rows are the kernel's in-place A side, A^T's panel its B side (the product commutes).
    if (kNV > 1 && cols <= kW)
        micro_kernel<R, 1, 0>(kc, Bt, ldb, Ap, kNR, tmp, kNR, alpha, 0.0f);
    else
        micro_kernel<R, kNV, 0>(kc, Bt, ldb, Ap, kNR, tmp, kNR, alpha, 0.0f);
    store_transposed<R>(tmp, cols, C, ldc, beta, add);
}

using TileBtFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int64_t, float, float,
                          const float*);

template <int... R>
constexpr std::array<TileBtFn, sizeof...(R)> make_tiles_bt(std::integer_sequence<int, R...>) {
    return {&tile_bt<R + 1>...};
}
constexpr auto kTilesBt = make_tiles_bt(std::make_integer_sequence<int, kMR>{});
#endif

// Per-thread packing buffers, grown on demand and kept (gemm runs on many threads at once).
struct PackBuffers {
    struct Free {
        void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float, Free> a, b;
    int64_t a_size = 0, b_size = 0;
    static float* grow(std::unique_ptr<float, Free>& buf, int64_t& have, int64_t need) {
        if (need > have) {
            const size_t bytes = (static_cast<size_t>(need) * sizeof(float) + 63) / 64 * 64;
            float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
            if (!p) throw std::bad_alloc();
            buf.reset(p);
            have = need;
        }
        return buf.get();
    }
};

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

void fill_rows(int64_t M, int64_t N, const float* row, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i) std::memcpy(C + i * ldc, row, N * sizeof(float));
}

}  // namespace

void gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* row_add) {
    if (M <= 0 || N <= 0) return;
    if (row_add && (K <= 0 || alpha == 0.0f)) return fill_rows(M, N, row_add, C, ldc);
    if (K <= 0 || alpha == 0.0f) return scale_c(M, N, beta, C, ldc);
    thread_local PackBuffers bufs;
    const int64_t mc_max = std::min(kMC, round_up(M, kMR)), nc_max = std::min(kNC, round_up(N, kNR));
    const int64_t kc_max = std::min(kKC, K);
    float* Ap = PackBuffers::grow(bufs.a, bufs.a_size, mc_max * kc_max);
    float* Bp = PackBuffers::grow(bufs.b, bufs.b_size, nc_max * kc_max);
#if defined(__AVX2__)
    if (!ta && tb && M <= kBtRows && (M <= 128 || ldb % 1024 != 0)) {
        // C^T = B @ A^T (tile_bt above): A^T packed per K block (all M columns of C^T), B's MR-row
        // panels read in place and held in L1 while the A^T panels stream from L2.
        // A row_add enters in the first K block's write of each tile (as C = row_add, beta = 1 would).
        float* At = PackBuffers::grow(bufs.b, bufs.b_size, round_up(M, kNR) * kc_max);
        for (int64_t pc = 0; pc < K; pc += kKC) {
            const int64_t kc = std::min(kKC, K - pc);
            const float b_eff = pc == 0 ? beta : 1.0f;
            for (int64_t ip = 0; ip < M; ip += kNR)
                gemm_detail::pack_b<kNR>(true, A, lda, pc, kc, ip, std::min<int64_t>(kNR, M - ip), At + ip * kc);
            for (int64_t jr = 0; jr < N; jr += kMR)
                for (int64_t ip = 0; ip < M; ip += kNR)
                    kTilesBt[std::min<int64_t>(kMR, N - jr) - 1](kc, B + jr * ldb + pc, ldb, At + ip * kc,
                                                                 C + ip * ldc + jr, ldc,
                                                                 std::min<int64_t>(kNR, M - ip), alpha, b_eff,
                                                                 row_add && pc == 0 ? row_add + jr : nullptr);
        }
        return;
    }
#endif
    if (row_add) {  // the other orders: C filled with the row first, then added onto
        fill_rows(M, N, row_add, C, ldc);
        beta = 1.0f;
    }
    // A row-major B used by few A micro-panels (M <= 80: at most 6 at AVX-512) is read in place:
    // packing it costs ~20% of a batch-64 linear backward GEMM, more than the strided reads lose.
    // Not when its rows are a multiple of 4 KB apart or a KC-row panel spans over 1 MB (L1 set
    // conflicts, TLB misses: 64x2048x512 ran at half speed, 64x1024x256 6% slower at AVX2).
    // Measured (standalone A/B): 64x784x256 +6-11%, 64x500x784 +5-8%, 32x512x512 +19%; 128 rows
    // and more lose (128x784x500 -6%). The arithmetic is the same either way (bit-identical).
    const bool b_strided_ok = ldb % 1024 != 0 && ldb * kc_max <= 262144;
    const bool direct_b = !tb && M <= 80 && b_strided_ok;
    // K blocks outermost, then NC column blocks: with N > NC the packed A of a K block (all M rows)
    // is kept and reused by every column block instead of being re-packed per block (1024^3: A was
    // packed twice, +2-3% at AVX-512). Kept while it fits 4 MB (M <= 2048 at KC 512), else A is
    // packed per (NC, MC) block as before. The order of the K sums is unchanged (same bits).
    const int64_t a_all = round_up(M, kMR) * kc_max;
    // Few rows whose B is packed (x @ W^T of a linear forward: B is W stored [N, K]): A is packed
    // once per K block (<= 280 KB), then each KC x NR B micro-panel is packed and at once used by
    // every A micro-panel while it is still in L1/L2, instead of packing a whole KC x NC block
    // first and reading it back from L2. Same-process A/B (under load), AVX-512 / AVX2: 64x256x784
    // nt +4-8% / +2-4%, 64x576x3136 nt +7% / +10%, 100x784x256 nn +5% / +4%, 100x500x64 tn
    // +5% / +9%, 256 rows +-1% (so not taken there). A row-major B is packed this way only where a
    // panel's strided rows are cheap (the direct_b conditions): 64x3136x576, 32x1024x800 and
    // 120x2048x300 nn ran 5-13% slower at AVX2. Each C tile still sums the same K blocks in the
    // same order, so the bits are those of the block order.
    const bool few_rows = M <= kFewRows && !direct_b && (tb || b_strided_ok);
    const bool a_once = (N > kNC || few_rows) && a_all <= (int64_t{1} << 20);
    // AVX-512: a row-major A is not packed in the block order either; the kernel broadcasts from
    // its rows in place (kTilesA), which skips the transposing pack. Same-process A/B, 1 thread:
    // 512^3 -4..-7%, 500^3 -6%, 768^3 -4%, 256^3 -4%, 1000x400x1000 -5%. Not where A's rows are a
    // multiple of 4 KB apart (1024^3 +5%: L1 set conflicts) nor where one packed A serves several
    // column blocks (a_once: 128x3136x576 +2%); at AVX2 (6 rows) it measured -2..+5%, so not there.
    const bool a_rows = kMR == 14 && !ta && lda % 1024 != 0 && !a_once;
    if (a_once) Ap = PackBuffers::grow(bufs.a, bufs.a_size, a_all);
    for (int64_t pc = 0; pc < K; pc += kKC) {
        const int64_t kc = std::min(kKC, K - pc);
        const float b_eff = pc == 0 ? beta : 1.0f;  // later K blocks add onto the first
        if (few_rows) {
            gemm_detail::pack_a<kMR>(ta, A, lda, 0, M, pc, kc, Ap);
            for (int64_t jr = 0; jr < N; jr += kNR) {
                const int64_t cols = std::min<int64_t>(kNR, N - jr);
                gemm_detail::pack_b<kNR>(tb, B, ldb, pc, kc, jr, cols, Bp);
                for (int64_t ir = 0; ir < M; ir += kMR)
                    kTiles[std::min<int64_t>(kMR, M - ir) - 1](kc, Ap + ir * kc, 0, Bp, kNR, C + ir * ldc + jr, ldc,
                                                               cols, alpha, b_eff);
            }
            continue;
        }
        for (int64_t jc = 0; jc < N; jc += kNC) {
            const int64_t nc = std::min(kNC, N - jc);
            // Full B panels [0, full) are read in place when direct_b, only the edge panel is packed.
            const int64_t full = direct_b ? nc / kNR * kNR : 0;
            if (full < nc) gemm_detail::pack_b<kNR>(tb, B, ldb, pc, kc, jc + full, nc - full, Bp);
            for (int64_t ic = 0; ic < M; ic += kMC) {
                const int64_t mc = std::min(kMC, M - ic);
                float* Ablk = a_once ? Ap + ic * kc : Ap;
                if (a_rows) {
                    for (int64_t ir = 0; ir < mc; ir += kMR)
                        for (int64_t jr = 0; jr < nc; jr += kNR)
                            kTilesA[std::min<int64_t>(kMR, mc - ir) - 1](
                                kc, A + (ic + ir) * lda + pc, lda,
                                jr < full ? B + pc * ldb + jc + jr : Bp + (jr - full) * kc, jr < full ? ldb : kNR,
                                C + (ic + ir) * ldc + jc + jr, ldc, std::min<int64_t>(kNR, nc - jr), alpha, b_eff);
                    continue;
                }
                if (!a_once || jc == 0) gemm_detail::pack_a<kMR>(ta, A, lda, ic, mc, pc, kc, Ablk);
                for (int64_t ir = 0; ir < mc; ir += kMR)  // A micro-panel stays in L1 ...
                    for (int64_t jr = 0; jr < nc; jr += kNR)  // ... while B micro-panels stream from L2
                        kTiles[std::min<int64_t>(kMR, mc - ir) - 1](
                            kc, Ablk + ir * kc, 0, jr < full ? B + pc * ldb + jc + jr : Bp + (jr - full) * kc,
                            jr < full ? ldb : kNR, C + (ic + ir) * ldc + jc + jr, ldc,
                            std::min<int64_t>(kNR, nc - jr), alpha, b_eff);
            }
        }
    }
}

// Size rule, from the bench shapes at one thread (README "CPU dispatch and wheels"): OpenBLAS keeps
// small problems, where its edge kernels and lighter packing win: M < 28 (LeNet's 6 and 16 output
// channels: 2-row edge tiles are load-bound), N < 32 (an MLP's 10 classes) or K < 24 (too short to
// pay for packing). The same cut-offs hold at AVX2 (against OpenBLAS's Haswell kernel) and at
// x86-64-v2 (against its Nehalem kernel).
bool gemm_f32_preferred(bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
    (void)ta; (void)tb;
#if defined(__AVX512F__)
    return M >= 28 && N >= 32 && K >= 24;
#elif defined(__AVX2__)
    // Large cubes used to stay on OpenBLAS's Haswell kernel (2-8% faster than ours at 512^3+);
    // with the A-panel-in-L1 order and KC 512 ours is ahead there too (same-process, forced
    // OPENBLAS_CORETYPE=Haswell: 512^3 +3-5%, 768^3 +-0, 1024^3 +1.5-2%).
    return M >= 28 && N >= 32 && K >= 24;
#else
    // SSE 4x8: 33-35 vs OpenBLAS Nehalem's 30-32 GFLOP/s on the bench shapes (standalone loop).
    return M >= 28 && N >= 32 && K >= 24;
#endif
}

GemmKernelRate gemm_kernel_peak(double seconds) {
    LAMINA_CHECK(seconds > 0 && seconds <= 60, "gemm_kernel_peak: seconds must be in (0, 60], got ", seconds);
    constexpr int64_t kc = 128;  // A 7 KB + B 16 KB at AVX-512: both panels stay in L1
    alignas(64) static thread_local float A[kMR * kc], B[kc * kNR], C[kMR * kNR];
    for (int64_t i = 0; i < kMR * kc; ++i) A[i] = 1e-3f * static_cast<float>(i % 7);
    for (int64_t i = 0; i < kc * kNR; ++i) B[i] = 1e-3f * static_cast<float>(i % 5);
    std::fill(C, C + kMR * kNR, 0.0f);
    // beta = 1: each call adds onto C, so no call can be dropped as dead (C grows by < 1e-3 a call).
    const RateChunks r = measure_rate(
        [](int64_t iters) {
            for (int64_t i = 0; i < iters; ++i) micro_kernel<kMR, kNV, kMR>(kc, A, 0, B, kNR, C, kNR, 1.0f, 1.0f);
        },
        2.0 * kMR * kNR * kc, seconds);
    return {r.best, r.median, r.chunks, kMR, kNR, static_cast<int>(kc)};
}

}  // namespace lamina
