// Winograd F(2x2, 3x3) conv2d forward, float32 (Lavin & Gray 2015), written against
// lamina::vec::Vectorized<float> and compiled once per ISA level.
// Each 2x2 block of outputs (a tile) of channel oc is
//   Y = A^T [ sum over c of (G g[oc, c] G^T) . (B^T d[c] B) ] A
// with d[c] the 4x4 input patch under the tile (stride 2 between tiles, zeros in the padding), so
// with U_k [OC, C] and V_k [C, T] the 16 elements of the transformed weights and tiles, the
// middle term is 16 GEMMs M_k = U_k @ V_k (k = 4 i + j): 16 * C * OC multiply-adds per 4 outputs
// instead of 36 * C * OC, 2.25x fewer.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Tiles: TH x TW per image (TH = ceil(OH / 2), TW = ceil(OW / 2)); the last row / column of tiles
// of an odd OH / OW computes an output past the edge that is not stored. A chunk is RB
// consecutive rows of tiles over the batch (image n's row r is row n * TH + r), RB chosen so that
// the chunk's V and M (16 (C + OC) T floats) stay in the L2; chunks depend only on the shape, and
// each one's GEMMs are bit-deterministic (gemm_f32), so results do not depend on the thread count.
// Per chunk: input transform (channel by channel, each row of tiles: its 4 input rows split into
// even and odd columns, then vectors over the tiles of the row), 16 GEMMs, output transform
// (vectors over the tiles of a row, + bias, even / odd columns interleaved into the NCHW rows).
#include "conv2d_winograd.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "../core/allocator.h"
#include "../core/blas.h"
#include "../core/parallel.h"
#include "../core/vec.h"
#include "conv2d_chunks.h"

namespace lamina {

namespace {

using Vec = vec::Vectorized<float>;
constexpr int V = Vec::size();

// Bytes of a chunk's V and M together: 4 MB (two L2s' worth: larger GEMMs were worth more than
// keeping M in the L2 on e and h, 1 thread, interleaved A/B on/off at AVX2 by chunk size 0.5 / 1 /
// 2 / 4 / 8 MB: e 0.80 / 0.74 / 0.69 / 0.67-0.69 / 0.81, h 0.65 / 0.76 / 0.65 / 0.64-0.66 / 0.71;
// AVX-512 2 / 4 / 8 MB: e 0.90 / 0.89 / 0.97, h 0.99 / 0.89 / 0.93), but 512 KB for a forward with
// fewer than 64 input channels, where the GEMM's K is short and M's traffic counts more (d at AVX2:
// 0.92 / 0.93-0.95 / 0.97-0.98 / 0.99 from 0.5 to 4 MB). The weight grad keeps 4 MB: its GEMMs
// sum over the chunk's tiles, and each chunk adds a partial dU (16 C OC floats) to write and add
// (dw alone, on/off at 1 / 2 / 4 / 8 MB, AVX2: d 0.90 / 0.99 / 0.87 / 0.99, e 2.13 / 0.73 / 0.67 /
// 0.84, h 1.24 / 0.66 / 0.57 / 0.61, N8 32->32 56x56 0.84 / 0.80 / 0.84 / 0.82; AVX-512: e 2.63 /
// 0.81 / 0.74 / 0.87, h 1.44 / 0.80 / 0.67 / 0.64). LAMINA_CONV2D_WINOGRAD_BYTES overrides both
// (tuning only).
int64_t chunk_tile_rows(int64_t C, int64_t OC, int64_t TW, bool weight_grad = false) {
    int64_t bytes = C >= 64 || weight_grad ? int64_t(4) << 20 : int64_t(512) << 10;
    const char* env = std::getenv("LAMINA_CONV2D_WINOGRAD_BYTES");
    if (env && *env) bytes = std::max<int64_t>(1, std::atoll(env));
    const int64_t T = bytes / (16 * (C + OC) * int64_t(sizeof(float)));
    return std::max<int64_t>(1, T / TW);
}

// The weight grad's partial dUs take at most this much memory (see conv_weight_grad_winograd).
constexpr int64_t kPartialBytes = int64_t(64) << 20;

// u[k][oc][c] = (G w[oc, c] G^T)[i][j], k = 4 i + j.
void transform_weights(const float* w, int64_t OC, int64_t C, float* u) {
    const int64_t ks = OC * C;
    for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t c = 0; c < C; ++c) {
            const float* g = w + (oc * C + c) * 9;
            float gg[4][3];  // G g: rows of the kernel combined
            for (int j = 0; j < 3; ++j) {
                gg[0][j] = g[j];
                gg[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                gg[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                gg[3][j] = g[6 + j];
            }
            float* o = u + oc * C + c;
            for (int i = 0; i < 4; ++i) {  // (G g) G^T: columns combined
                o[(4 * i + 0) * ks] = gg[i][0];
                o[(4 * i + 1) * ks] = 0.5f * (gg[i][0] + gg[i][1] + gg[i][2]);
                o[(4 * i + 2) * ks] = 0.5f * (gg[i][0] - gg[i][1] + gg[i][2]);
                o[(4 * i + 3) * ks] = gg[i][2];
            }
        }
}

// e[m] = row[2m - pw], o[m] = row[2m + 1 - pw] for m < n (zeros outside [0, W); row null: all zeros).
void split_columns(const float* row, int64_t W, int64_t pw, int64_t n, float* e, float* o) {
    if (!row) {
        std::fill(e, e + n, 0.f);
        std::fill(o, o + n, 0.f);
        return;
    }
    auto edge = [&](int64_t m) {
        const int64_t iw = 2 * m - pw;
        e[m] = iw >= 0 && iw < W ? row[iw] : 0.f;
        o[m] = iw + 1 >= 0 && iw + 1 < W ? row[iw + 1] : 0.f;
    };
    // [lo, hi): both columns inside the image (2m - pw >= 0, 2m + 1 - pw < W), no checks
    const int64_t lo = std::min(n, (pw + 1) / 2);
    const int64_t hi = std::max(lo, std::min(n, (W + pw) / 2));
    for (int64_t m = 0; m < lo; ++m) edge(m);
    for (int64_t m = lo; m < hi; ++m) {
        e[m] = row[2 * m - pw];
        o[m] = row[2 * m + 1 - pw];
    }
    for (int64_t m = hi; m < n; ++m) edge(m);
}

// t[q] to p + q * stride, q < 4: whole vectors, or their first cnt lanes at the end of a row of tiles.
inline void store4(const Vec (&t)[4], float* p, int64_t stride, int cnt) {
    for (int q = 0; q < 4; ++q) {
        if (cnt == V)
            t[q].store(p + q * stride);
        else
            t[q].store(p + q * stride, cnt);
    }
}

// Input transform of a chunk (rows of tiles r0 .. r1 over the batch, TW tiles a row):
// vb[(4 i + l) * C * Tld + c * Tld + t] = (B^T d B)[i][l] for tile t of the chunk and channel c.
// eo: scratch for the 4 input rows' even / odd columns, 8 rows of ew floats.
void input_transform(const float* x, const ConvGeometry& g, int64_t TH, int64_t TW, int64_t r0, int64_t r1,
                     float* eo, int64_t ew, float* vb, int64_t Tld) {
    const int64_t C = g.C, H = g.H, W = g.W, vst = C * Tld;
    for (int64_t c = 0; c < C; ++c)
        for (int64_t gr = r0; gr < r1; ++gr) {
            const int64_t n = gr / TH, r = gr % TH;
            const float* xc = x + (n * C + c) * H * W;
            for (int i = 0; i < 4; ++i) {
                const int64_t ih = 2 * r - g.ph + i;
                split_columns(ih >= 0 && ih < H ? xc + ih * W : nullptr, W, g.pw, TW + 1, eo + 2 * i * ew,
                              eo + (2 * i + 1) * ew);
            }
            float* vt = vb + c * Tld + (gr - r0) * TW;
            for (int64_t tw = 0; tw < TW; tw += V) {
                Vec h[4][4];  // h[i][l]: input row i with the columns transformed
                for (int i = 0; i < 4; ++i) {
                    const float* e = eo + 2 * i * ew + tw;
                    const float* o = e + ew;
                    const Vec e0 = Vec::loadu(e), e1 = Vec::loadu(e + 1);
                    const Vec o0 = Vec::loadu(o), o1 = Vec::loadu(o + 1);
                    h[i][0] = e0 - e1;
                    h[i][1] = o0 + e1;
                    h[i][2] = e1 - o0;
                    h[i][3] = o0 - o1;
                }
                const int cnt = static_cast<int>(std::min<int64_t>(V, TW - tw));
                for (int l = 0; l < 4; ++l) {
                    const Vec t[4] = {h[0][l] - h[2][l], h[1][l] + h[2][l], h[2][l] - h[1][l], h[1][l] - h[3][l]};
                    store4(t, vt + l * vst + tw, 4 * vst, cnt);
                }
            }
        }
}

}  // namespace

bool winograd_applies(int64_t groups, const ConvGeometry& g) {
    return groups == 1 && g.KH == 3 && g.KW == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.OH > 0 &&
           g.OW > 0 && g.C > 0;
}

void conv_forward_winograd(const float* x, const float* w, const float* b, float* out, int64_t N, int64_t OC,
                           const ConvGeometry& g) {
    if (N == 0 || OC == 0) return;  // an empty output (and no chunk to size)
    const int64_t C = g.C, OH = g.OH, OW = g.OW;
    const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2;
    const int64_t RB = std::min(chunk_tile_rows(C, OC, TW), N * TH);
    const int64_t Tld = RB * TW;       // columns of a chunk's V_k and M_k (the last chunk may use fewer)
    const int64_t vst = C * Tld, mst = OC * Tld;  // one k's matrix
    const int64_t ew = TW + 1 + V;     // one split row (even or odd columns), with room for a vector past it
    // From the allocator's cache, as conv2d_cblocked.cpp's packed weights: a fresh std::vector
    // (256 KB for conv e) pays its page faults on every call.
    ScratchBuffer<float> u(static_cast<size_t>(16 * OC * C));
    transform_weights(w, OC, C, u.get());
    const int64_t scratch = 16 * vst + 16 * mst + V + 8 * ew + 4 * (TW + V);
    conv_chunks::for_each_chunk<float, true>(N * TH, RB, scratch, [&](int64_t r0, int64_t r1, float* buf, int) {
        float* vb = buf;             // V_k [C, Tld] at vb + k * vst
        float* mb = vb + 16 * vst;   // M_k [OC, Tld] at mb + k * mst (+ V floats of slack)
        float* eo = mb + 16 * mst + V;  // the 4 input rows' even / odd columns: eo + (2 i + {0, 1}) * ew
        float* yb = eo + 8 * ew;     // 4 output rows of a row of tiles: yb + q * (TW + V)
        const int64_t T = (r1 - r0) * TW;
        input_transform(x, g, TH, TW, r0, r1, eo, ew, vb, Tld);
        // M_k = U_k @ V_k: [OC, T] = [OC, C] x [C, T]
        for (int k = 0; k < 16; ++k)
            gemm(false, false, OC, T, C, 1.f, u.get() + k * OC * C, C, vb + k * vst, Tld, 0.f, mb + k * mst, Tld);
        // output transform: y = A^T M A + b, written to rows 2r, 2r + 1 of out[n, oc]
        const int64_t yw = TW + V;
        for (int64_t oc = 0; oc < OC; ++oc) {
            const Vec bv(b ? b[oc] : 0.f);
            for (int64_t gr = r0; gr < r1; ++gr) {
                const int64_t n = gr / TH, r = gr % TH;
                const float* mt = mb + oc * Tld + (gr - r0) * TW;
                for (int64_t tw = 0; tw < TW; tw += V) {  // past TW: slack, never stored
                    Vec s[2][4];  // A^T M: rows of M combined
                    for (int j = 0; j < 4; ++j) {
                        const Vec m0 = Vec::loadu(mt + j * mst + tw), m1 = Vec::loadu(mt + (4 + j) * mst + tw);
                        const Vec m2 = Vec::loadu(mt + (8 + j) * mst + tw), m3 = Vec::loadu(mt + (12 + j) * mst + tw);
                        s[0][j] = m0 + m1 + m2;
                        s[1][j] = m1 - m2 - m3;
                    }
                    for (int a = 0; a < 2; ++a) {
                        (s[a][0] + s[a][1] + s[a][2] + bv).store(yb + (2 * a) * yw + tw);
                        (s[a][1] - s[a][2] - s[a][3] + bv).store(yb + (2 * a + 1) * yw + tw);
                    }
                }
                for (int a = 0; a < 2 && 2 * r + a < OH; ++a) {
                    float* orow = out + ((n * OC + oc) * OH + 2 * r + a) * OW;
                    const float* ye = yb + (2 * a) * yw;
                    const float* yo = ye + yw;
                    const int64_t pairs = OW / 2;
                    for (int64_t tw = 0; tw < pairs; ++tw) {
                        orow[2 * tw] = ye[tw];
                        orow[2 * tw + 1] = yo[tw];
                    }
                    if (OW % 2) orow[OW - 1] = ye[pairs];
                }
            }
        }
    });
}

// Weight grad, the adjoint of the forward: with M = sum_c U[oc, c] . V[c] and Y = A^T M A per tile,
//   dM = A dY A^T (dY the tile's 2x2 output grads, 0 past the edge),  dU_k = sum over tiles of
//   dM_k [OC, T] @ V_k [C, T]^T,  dw[oc, c] = G^T dU[oc, c] G.
// Chunks of tile rows as in the forward, summed into a fixed number of partial dUs (below) that
// are added in a fixed order, so dw does not depend on the thread count.
void conv_weight_grad_winograd(const float* dy, const float* x, float* dw, int64_t N, int64_t OC,
                               const ConvGeometry& g) {
    const int64_t C = g.C, OH = g.OH, OW = g.OW;
    const int64_t usz = 16 * OC * C;  // one dU: 16 matrices [OC, C]
    if (N == 0 || OC == 0) {
        std::fill(dw, dw + OC * C * 9, 0.f);
        return;
    }
    const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2;
    const int64_t RB = std::min(chunk_tile_rows(C, OC, TW, true), N * TH);
    const int64_t nchunks = (N * TH + RB - 1) / RB;
    const int64_t Tld = RB * TW;
    const int64_t vst = C * Tld, mst = OC * Tld;
    const int64_t ew = TW + 1 + V;
    // Partial dUs: P runs of consecutive chunks, P fixed by the shape (at most 16, and at most
    // kPartialBytes of partials: one partial per chunk would take gigabytes for a large batch of
    // large images). Run j sums its chunks in order into its own dU at part + j * usz, the runs go
    // to threads whole, and they are added in run order below.
    const int64_t P = std::max<int64_t>(1, std::min({nchunks, int64_t(16), kPartialBytes / (usz * 4)}));
    ScratchBuffer<float> part(static_cast<size_t>(P * usz));
    const int64_t scratch = 16 * vst + 16 * mst + V + 8 * ew;
    // dU (+)= the grads of tile rows [r0, r1) (accumulate: add onto dU instead of overwriting it)
    auto chunk = [&](int64_t r0, int64_t r1, float* buf, float* du, bool accumulate) {
        float* vb = buf;                // V_k [C, Tld] at vb + k * vst
        float* mb = vb + 16 * vst;      // dM_k [OC, Tld] at mb + k * mst
        float* eo = mb + 16 * mst + V;  // split rows: the input's 4, then dy's 2 (even / odd columns)
        const int64_t T = (r1 - r0) * TW;
        input_transform(x, g, TH, TW, r0, r1, eo, ew, vb, Tld);
        // output-grad transform: dM[4 i + j][oc][t] = (A dY A^T)[i][j], A^T = [1 1 1 0; 0 1 -1 -1]
        for (int64_t oc = 0; oc < OC; ++oc)
            for (int64_t gr = r0; gr < r1; ++gr) {
                const int64_t n = gr / TH, r = gr % TH;
                const float* yc = dy + (n * OC + oc) * OH * OW;
                for (int a = 0; a < 2; ++a)  // output rows 2r, 2r + 1 (zeros past OH / OW)
                    split_columns(2 * r + a < OH ? yc + (2 * r + a) * OW : nullptr, OW, 0, TW + 1,
                                  eo + 2 * a * ew, eo + (2 * a + 1) * ew);
                float* mt = mb + oc * Tld + (gr - r0) * TW;
                for (int64_t tw = 0; tw < TW; tw += V) {
                    const Vec y00 = Vec::loadu(eo + tw), y01 = Vec::loadu(eo + ew + tw);
                    const Vec y10 = Vec::loadu(eo + 2 * ew + tw), y11 = Vec::loadu(eo + 3 * ew + tw);
                    const Vec z(0.f);
                    // R = A dY (rows combined): 4 x 2
                    const Vec R[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {z - y10, z - y11}};
                    const int cnt = static_cast<int>(std::min<int64_t>(V, TW - tw));
                    for (int i = 0; i < 4; ++i) {
                        const Vec t[4] = {R[i][0], R[i][0] + R[i][1], R[i][0] - R[i][1], z - R[i][1]};
                        store4(t, mt + 4 * i * mst + tw, mst, cnt);
                    }
                }
            }
        // dU_k (+)= dM_k @ V_k^T: [OC, C] = [OC, T] x [T, C]
        for (int k = 0; k < 16; ++k)
            gemm(false, true, OC, C, T, 1.f, mb + k * mst, Tld, vb + k * vst, Tld, accumulate ? 1.f : 0.f,
                 du + k * OC * C, C);
    };
    parallel_for_fine(0, P, 1, [&](int64_t j0, int64_t j1) {
        ScratchBuffer<float> buf(static_cast<size_t>(scratch));
        for (int64_t j = j0; j < j1; ++j)
            for (int64_t c = j * nchunks / P, c0 = c; c < (j + 1) * nchunks / P; ++c)
                chunk(c * RB, std::min(N * TH, (c + 1) * RB), buf.get(), part.get() + j * usz, c > c0);
    });
    // Partials in run order, then dw = G^T dU G, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
    parallel_for(0, OC * C, std::max<int64_t>(1, kGrainElementwise / (16 * P)), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            float u[16];
            for (int k = 0; k < 16; ++k) {
                float s = part.get()[k * OC * C + i];
                for (int64_t j = 1; j < P; ++j) s += part.get()[j * usz + k * OC * C + i];
                u[k] = s;
            }
            float p[3][4];  // G^T dU: rows combined
            for (int j = 0; j < 4; ++j) {
                p[0][j] = u[j] + 0.5f * (u[4 + j] + u[8 + j]);
                p[1][j] = 0.5f * (u[4 + j] - u[8 + j]);
                p[2][j] = 0.5f * (u[4 + j] + u[8 + j]) + u[12 + j];
            }
            float* o = dw + i * 9;  // i = oc * C + c: dw [OC, C, 3, 3]
            for (int a = 0; a < 3; ++a) {
                o[3 * a + 0] = p[a][0] + 0.5f * (p[a][1] + p[a][2]);
                o[3 * a + 1] = 0.5f * (p[a][1] - p[a][2]);
                o[3 * a + 2] = 0.5f * (p[a][1] + p[a][2]) + p[a][3];
            }
        }
    });
}

// Where it wins: this kernel against the path conv2d.cpp takes otherwise (the channels-blocked
// kernel on all of these), in one process, 1 thread, CPU clock, the best of 3 calls, median of 5
// interleaved rounds (/tmp/s12/wino/ab.py, 2026-12-01 15:59, this 2-vCPU Xeon, load 4.4, chunk
// sizes as above), time on / off:
//   row                          AVX2     AVX-512
//   e  N8 64->64 56x56 k3 p1     0.67     0.91
//   h  N8 128->128 28x28 k3 p1   0.65     0.89
//   n  N8 64->64 28x28 k3 p1     0.79     1.10
//   d  N32 32->64 16x16 k3 p1    0.92     1.41
//   k  N32 64->64 8x8 k3 p1      1.33     2.37
// compare.py, conv2d fwd lamina / PyTorch (oneDNN held to the same level), 1 thread, CPU clock,
// interleaved off / on runs: AVX2 e 1.00-1.03 -> 0.72-0.73, d 0.88-0.89 -> 0.75-0.79; AVX-512
// e 0.97-0.99 -> 0.90-0.91 (d keeps the channels-blocked kernel).
// At AVX-512 the direct kernels run near the FMA peak and the transforms (memory-bound) eat most
// of the 2.25x, so only the largest rows win there. Rows of fewer than 8 tiles (OW < 16) waste
// vector lanes in the transforms and give thin GEMMs (k). Not compared at the baseline level: not
// chosen there. LAMINA_CONV2D_WINOGRAD=1 sends every float32 forward it applies to here (tests,
// A/B timing), =0 none.
int winograd_override() {
    const char* env = std::getenv("LAMINA_CONV2D_WINOGRAD");
    return env && *env ? (env[0] == '1' ? 1 : 0) : -1;
}

bool winograd_wins(int64_t N, int64_t OC, int64_t groups, const ConvGeometry& g) {
    if (!winograd_applies(groups, g)) return false;
    if (const int forced = winograd_override(); forced >= 0) return forced == 1;
    (void)N;
#if defined(__AVX512F__)
    return g.C >= 64 && OC >= 64 && (g.OW >= 56 || g.C >= 128) && g.OW >= 16;
#elif defined(__AVX2__)
    return g.C >= 32 && OC >= 32 && g.OW >= 16;
#else
    (void)OC;
    return false;
#endif
}

// Where the weight grad runs as this kernel's adjoint (conv_weight_grad_winograd): measured
// on dw alone, 1 thread, CPU clock, in-process, time with / without (the direct or im2col + GEMM
// weight grad otherwise taken), 2026-12-01 17:50, AVX2 / AVX-512:
//   d  N32 32->64 16x16 0.86 / 1.25     e  N8 64->64 56x56 0.67 / 0.77
//   h  N8 128->128 28x28 0.56 / 0.64    N16 64->64 32x32 0.75 / 0.76
//   n  N8 64->64 28x28 0.72 / 0.89      k  N32 64->64 8x8 0.85 / 1.23
//   N8 32->32 56x56 0.78 / 0.98         N32 32->32 16x16 1.16 / 2.05    CIFAR's first conv (3->32) 2.50 / 3.42
// so AVX2: C, OC >= 32 with C * OC >= 2048 or rows of 28 outputs and more; AVX-512, where the
// direct kernels are closer to the FMA peak: C, OC >= 64 with rows of 16 and more; never at the
// baseline level. LAMINA_CONV2D_WINOGRAD=1 / 0 forces it on / off, as for the forward.
bool winograd_weight_grad_wins(int64_t OC, int64_t groups, const ConvGeometry& g) {
    if (!winograd_applies(groups, g)) return false;
    if (const int forced = winograd_override(); forced >= 0) return forced == 1;
    const int64_t C = g.C, OW = g.OW;
#if defined(__AVX512F__)
    return C >= 64 && OC >= 64 && OW >= 16;
#elif defined(__AVX2__)
    return C >= 32 && OC >= 32 && (C * OC >= 2048 || OW >= 28);
#else
    (void)C, (void)OC, (void)OW;
    return false;
#endif
}

}  // namespace lamina
