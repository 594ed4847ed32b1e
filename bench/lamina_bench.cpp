// lamina_bench: C++ microbenchmarks of the core kernels -- SGEMM (square and conv-as-GEMM shapes)
// through lamina::gemm, one elementwise op (add_forward), im2col/col2im, conv2d forward/backward
// and 2x2 max pooling -- with warm-up, repetitions, median and min, a result check, a table on
// stdout and JSON in bench/results/cpp_bench.json. Usage: --threads N. The header names the ISA
// level this binary was compiled for and its measured 1-thread FMA peak (core/probe.h); GFLOP/s
// rows show their % of peak x threads. --capability L|all: one binary holds one level, so other
// levels run as sibling binaries lamina_bench_<level> when the build made them, else are named.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <time.h>

#include "core/blas.h"
#include "core/parallel.h"
#include "core/probe.h"
#include "core/tensor.h"
#include "ops/binary.h"
#include "ops/conv2d.h"
#include "ops/im2col.h"
#include "ops/pool.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    int threads = 1;
    int warmup = 2;
    int reps = 7;
    double min_time = 0.3;  // seconds of timed runs per case, at least `reps` runs
    std::string json;
    bool big = true;        // include 2048^3
    std::string capability;  // empty: this binary's level; else default, avx2, avx512 or all
    double probe_s = 0.3;    // FMA peak probe duration (0: skip)
    std::string filter;      // run only the groups whose name contains it
    bool cpu_clock = false;  // --clock cpu: process CPU time (1 thread only), for a busy host
};

struct Result {
    std::string name, shape, unit;
    int reps = 0;
    double median_s = 0, min_s = 0, work = 0;  // work: FLOPs or bytes per run
    bool ok = true;
    double rate(double s) const { return work / s / 1e9; }
};

// Wall time, or with --clock cpu the process's CPU time: with one thread that is the time the
// work actually ran, so other processes taking the core do not count (their cache traffic does).
double now_s(const Options& o) {
    if (o.cpu_clock) {
        timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ts.tv_sec + 1e-9 * ts.tv_nsec;
    }
    return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Warm-up, then at least `reps` runs and at least `min_time` seconds; times in seconds.
std::vector<double> time_runs(const Options& o, const std::function<void()>& f) {
    for (int i = 0; i < o.warmup; ++i) f();
    std::vector<double> ts;
    double total = 0;
    while (static_cast<int>(ts.size()) < o.reps || (total < o.min_time && ts.size() < 200)) {
        const double t0 = now_s(o);
        f();
        const double s = now_s(o) - t0;
        ts.push_back(s);
        total += s;
    }
    return ts;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Deterministic values in [-1, 1) (no <random>: identical across standard libraries).
void fill(float* p, int64_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        p[i] = static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
}

// C[M,N] = A[M,K] B[K,N], row-major. Checks 64 entries against a double-precision dot product.
Result bench_gemm(const Options& o, const char* name, int64_t M, int64_t N, int64_t K) {
    std::vector<float> A(M * K), B(K * N), C(M * N, 0.0f);
    fill(A.data(), M * K, 1);
    fill(B.data(), K * N, 2);
    auto run = [&] {
        lamina::gemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
    };
    Result r;
    r.name = name;
    r.shape = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
    r.unit = "GFLOP/s";
    r.work = 2.0 * M * N * K;
    const auto ts = time_runs(o, run);
    r.reps = static_cast<int>(ts.size());
    r.median_s = median(ts);
    r.min_s = *std::min_element(ts.begin(), ts.end());
    for (int t = 0; t < 64; ++t) {
        const int64_t i = (t * 7919) % M, j = (t * 104729) % N;
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
            ref += static_cast<double>(A[i * K + k]) * B[k * N + j];
            mag += std::fabs(static_cast<double>(A[i * K + k]) * B[k * N + j]);
        }
        if (std::fabs(C[i * N + j] - ref) > 1e-5 * mag + 1e-5) r.ok = false;
    }
    return r;
}

// out = a + b on n float32 values; traffic counted as 3 arrays (read a, read b, write out).
Result bench_add(const Options& o, int64_t n) {
    lamina::Tensor a = lamina::Tensor::empty({n}), b = lamina::Tensor::empty({n});
    fill(a.data<float>(), n, 3);
    fill(b.data<float>(), n, 4);
    lamina::Tensor out;
    auto run = [&] { out = lamina::add_forward(a, b, 1.0); };
    Result r;
    r.name = "add_forward";
    r.shape = std::to_string(n) + " f32";
    r.unit = "GB/s";
    r.work = 3.0 * static_cast<double>(n) * sizeof(float);
    const auto ts = time_runs(o, run);
    r.reps = static_cast<int>(ts.size());
    r.median_s = median(ts);
    r.min_s = *std::min_element(ts.begin(), ts.end());
    const float *pa = a.data<float>(), *pb = b.data<float>(), *po = out.data<float>();
    for (int64_t i = 0; i < n; i += n / 97 + 1)
        if (po[i] != pa[i] + pb[i]) r.ok = false;
    return r;
}

// The same sum as a plain loop into a buffer allocated (and page-faulted) once: the memory-bound
// ceiling that add_forward, which allocates its output on every call, is compared against.
Result bench_add_raw(const Options& o, int64_t n) {
    std::vector<float> a(n), b(n), out(n, 0.0f);
    fill(a.data(), n, 3);
    fill(b.data(), n, 4);
    const float *pa = a.data(), *pb = b.data();
    float* po = out.data();
    auto run = [&] {
        lamina::parallel_for(0, n, lamina::kGrainElementwise, [&](int64_t b0, int64_t e0) {
            for (int64_t i = b0; i < e0; ++i) po[i] = pa[i] + pb[i];
        });
    };
    Result r;
    r.name = "add_prealloc";
    r.shape = std::to_string(n) + " f32";
    r.unit = "GB/s";
    r.work = 3.0 * static_cast<double>(n) * sizeof(float);
    const auto ts = time_runs(o, run);
    r.reps = static_cast<int>(ts.size());
    r.median_s = median(ts);
    r.min_s = *std::min_element(ts.begin(), ts.end());
    for (int64_t i = 0; i < n; i += n / 97 + 1)
        if (po[i] != pa[i] + pb[i]) r.ok = false;
    return r;
}

// ---- convolution and pooling kernels ----

// One conv2d workload of bench/compare.py: x [N, C, H, W], w [OC, C, K, K], stride s, padding p.
struct ConvShape {
    const char* tag;
    int64_t N, C, OC, H, W, K, s, p;
    int64_t OH() const { return (H + 2 * p - K) / s + 1; }
    int64_t OW() const { return (W + 2 * p - K) / s + 1; }
    double fwd_flops() const { return 2.0 * N * OC * OH() * OW() * C * K * K; }
    std::string str() const {
        return std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(H) + "x" +
               std::to_string(W) + ">" + std::to_string(OC) + " k" + std::to_string(K) +
               (s != 1 ? "s" + std::to_string(s) : "") + "p" + std::to_string(p);
    }
    lamina::ConvGeometry geometry() const {
        lamina::ConvGeometry g;
        g.C = C, g.H = H, g.W = W, g.KH = K, g.KW = K, g.OH = OH(), g.OW = OW();
        g.sh = g.sw = s, g.ph = g.pw = p;
        return g;
    }
};

Result finish(Result r, const std::vector<double>& ts) {
    r.reps = static_cast<int>(ts.size());
    r.median_s = median(ts);
    r.min_s = *std::min_element(ts.begin(), ts.end());
    return r;
}

lamina::Tensor random_tensor(const lamina::Shape& shape, uint32_t seed) {
    lamina::Tensor t = lamina::Tensor::empty(shape);
    fill(t.data<float>(), t.numel(), seed);
    return t;
}

bool close(double got, double ref, double mag) { return std::fabs(got - ref) <= 1e-4 * mag + 1e-5; }

// x value read by (c, kh, kw) at output (oh, ow), 0 in the padding.
float tap(const float* xn, const ConvShape& c, int64_t ch, int64_t kh, int64_t kw, int64_t oh, int64_t ow) {
    const int64_t ih = oh * c.s - c.p + kh, iw = ow * c.s - c.p + kw;
    if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) return 0.0f;
    return xn[(ch * c.H + ih) * c.W + iw];
}

// im2col over the whole batch into one reused column buffer (as conv2d does per thread). Traffic:
// the image read once and the column matrix written once, per image.
Result bench_im2col(const Options& o, const ConvShape& c) {
    const lamina::ConvGeometry g = c.geometry();
    const int64_t img = c.C * c.H * c.W, rows = g.col_rows(), L = g.col_cols();
    std::vector<float> x(c.N * img), cols(rows * L);
    fill(x.data(), static_cast<int64_t>(x.size()), 5);
    auto run = [&] {
        for (int64_t n = 0; n < c.N; ++n) lamina::im2col(x.data() + n * img, g, cols.data());
    };
    Result r;
    r.name = std::string("im2col ") + c.tag;
    r.shape = c.str();
    r.unit = "GB/s";
    r.work = 4.0 * c.N * (img + rows * L);
    r = finish(r, time_runs(o, run));
    const float* xl = x.data() + (c.N - 1) * img;  // cols holds the last image
    for (int t = 0; t < 97; ++t) {
        const int64_t row = (t * 7919) % rows, col = (t * 104729) % L;
        const int64_t ch = row / (c.K * c.K), kh = row / c.K % c.K, kw = row % c.K;
        if (cols[row * L + col] != tap(xl, c, ch, kh, kw, col / g.OW, col % g.OW)) r.ok = false;
    }
    return r;
}

// col2im over the batch from one column buffer into dx. Traffic: columns read, image written.
Result bench_col2im(const Options& o, const ConvShape& c) {
    const lamina::ConvGeometry g = c.geometry();
    const int64_t img = c.C * c.H * c.W, rows = g.col_rows(), L = g.col_cols();
    std::vector<float> cols(rows * L), dx(c.N * img);
    fill(cols.data(), static_cast<int64_t>(cols.size()), 6);
    auto run = [&] {
        for (int64_t n = 0; n < c.N; ++n) lamina::col2im(cols.data(), g, dx.data() + n * img);
    };
    Result r;
    r.name = std::string("col2im ") + c.tag;
    r.shape = c.str();
    r.unit = "GB/s";
    r.work = 4.0 * c.N * (img + rows * L);
    r = finish(r, time_runs(o, run));
    // dx[ch, ih, iw] = sum of the column entries whose tap reads (ih, iw).
    for (int t = 0; t < 31; ++t) {
        const int64_t ch = (t * 7919) % c.C, ih = (t * 131) % c.H, iw = (t * 337) % c.W;
        double ref = 0, mag = 0;
        for (int64_t kh = 0; kh < c.K; ++kh)
            for (int64_t kw = 0; kw < c.K; ++kw) {
                const int64_t yh = ih + c.p - kh, yw = iw + c.p - kw;
                if (yh < 0 || yw < 0 || yh % c.s || yw % c.s) continue;
                const int64_t oh = yh / c.s, ow = yw / c.s;
                if (oh >= g.OH || ow >= g.OW) continue;
                const double v = cols[((ch * c.K + kh) * c.K + kw) * L + oh * g.OW + ow];
                ref += v;
                mag += std::fabs(v);
            }
        if (!close(dx[(c.N - 1) * img + (ch * c.H + ih) * c.W + iw], ref, mag)) r.ok = false;
    }
    return r;
}

lamina::ConvParams conv_params(const ConvShape& c) {
    lamina::ConvParams p;
    p.stride = {c.s, c.s};
    p.padding = {c.p, c.p};
    return p;
}

// conv2d_forward with bias; GFLOP/s counts 2*N*OC*OH*OW*C*K*K. Checks 31 outputs in double.
Result bench_conv_fwd(const Options& o, const ConvShape& c) {
    const lamina::Tensor x = random_tensor({c.N, c.C, c.H, c.W}, 7), w = random_tensor({c.OC, c.C, c.K, c.K}, 8),
                         b = random_tensor({c.OC}, 9);
    const lamina::ConvParams p = conv_params(c);
    lamina::Tensor out;
    auto run = [&] { out = lamina::conv2d_forward(x, w, b, p); };
    Result r;
    r.name = std::string("conv2d fwd ") + c.tag;
    r.shape = c.str();
    r.unit = "GFLOP/s";
    r.work = c.fwd_flops();
    r = finish(r, time_runs(o, run));
    const float *xp = x.data<float>(), *wp = w.data<float>(), *bp = b.data<float>(), *op = out.data<float>();
    const int64_t OH = c.OH(), OW = c.OW();
    for (int t = 0; t < 31; ++t) {
        const int64_t n = (t * 13) % c.N, oc = (t * 7) % c.OC, oh = (t * 131) % OH, ow = (t * 337) % OW;
        double ref = bp[oc], mag = std::fabs(bp[oc]);
        for (int64_t ch = 0; ch < c.C; ++ch)
            for (int64_t kh = 0; kh < c.K; ++kh)
                for (int64_t kw = 0; kw < c.K; ++kw) {
                    const double v = static_cast<double>(wp[((oc * c.C + ch) * c.K + kh) * c.K + kw]) *
                                     tap(xp + n * c.C * c.H * c.W, c, ch, kh, kw, oh, ow);
                    ref += v;
                    mag += std::fabs(v);
                }
        if (!close(op[((n * c.OC + oc) * OH + oh) * OW + ow], ref, mag)) r.ok = false;
    }
    return r;
}

// conv2d_backward computing dx, dw and db; GFLOP/s counts dX and dW (2 forward convolutions' worth).
// Checks 16 entries each of dw and dx in double.
Result bench_conv_bwd(const Options& o, const ConvShape& c) {
    const int64_t OH = c.OH(), OW = c.OW();
    const lamina::Tensor x = random_tensor({c.N, c.C, c.H, c.W}, 10), w = random_tensor({c.OC, c.C, c.K, c.K}, 11),
                         dy = random_tensor({c.N, c.OC, OH, OW}, 12);
    const lamina::ConvParams p = conv_params(c);
    lamina::ConvGrads gr;
    auto run = [&] { gr = lamina::conv2d_backward(dy, x, w, p, true, true, true); };
    Result r;
    r.name = std::string("conv2d bwd ") + c.tag;
    r.shape = c.str();
    r.unit = "GFLOP/s";
    r.work = 2.0 * c.fwd_flops();
    r = finish(r, time_runs(o, run));
    const float *xp = x.data<float>(), *wp = w.data<float>(), *dyp = dy.data<float>();
    const float* dwp = std::get<1>(gr)->data<float>();
    const float* dxp = std::get<0>(gr)->data<float>();
    for (int t = 0; t < 16; ++t) {
        const int64_t oc = (t * 7) % c.OC, ch = (t * 5) % c.C, kh = (t * 3) % c.K, kw = (t * 11) % c.K;
        double ref = 0, mag = 0;
        for (int64_t n = 0; n < c.N; ++n)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) {
                    const double v = static_cast<double>(dyp[((n * c.OC + oc) * OH + oh) * OW + ow]) *
                                     tap(xp + n * c.C * c.H * c.W, c, ch, kh, kw, oh, ow);
                    ref += v;
                    mag += std::fabs(v);
                }
        if (!close(dwp[((oc * c.C + ch) * c.K + kh) * c.K + kw], ref, mag)) r.ok = false;
    }
    for (int t = 0; t < 16; ++t) {
        const int64_t n = (t * 13) % c.N, ch = (t * 5) % c.C, ih = (t * 131) % c.H, iw = (t * 337) % c.W;
        double ref = 0, mag = 0;
        for (int64_t oc = 0; oc < c.OC; ++oc)
            for (int64_t kh = 0; kh < c.K; ++kh)
                for (int64_t kw = 0; kw < c.K; ++kw) {
                    const int64_t yh = ih + c.p - kh, yw = iw + c.p - kw;
                    if (yh < 0 || yw < 0 || yh % c.s || yw % c.s || yh / c.s >= OH || yw / c.s >= OW) continue;
                    const double v = static_cast<double>(wp[((oc * c.C + ch) * c.K + kh) * c.K + kw]) *
                                     dyp[((n * c.OC + oc) * OH + yh / c.s) * OW + yw / c.s];
                    ref += v;
                    mag += std::fabs(v);
                }
        if (!close(dxp[((n * c.C + ch) * c.H + ih) * c.W + iw], ref, mag)) r.ok = false;
    }
    return r;
}

// max_pool2d 2x2 stride 2. Traffic forward: x read, out (4 B) and int64 indices (8 B) written;
// backward: dout and indices read, dx (as large as x) written.
Result bench_pool(const Options& o, int64_t N, int64_t C, int64_t H, int64_t W, bool backward) {
    const lamina::Tensor x = random_tensor({N, C, H, W}, 13);
    lamina::PoolParams p;
    p.kernel = {2, 2};
    p.stride = {2, 2};
    const int64_t OH = H / 2, OW = W / 2, outn = N * C * OH * OW;
    auto [out, idx] = lamina::max_pool2d_forward(x, p);
    const lamina::Tensor dout = random_tensor({N, C, OH, OW}, 14);
    lamina::Tensor dx;
    auto run = [&] {
        if (backward) dx = lamina::max_pool2d_backward(dout, idx, x, 2);
        else std::tie(out, idx) = lamina::max_pool2d_forward(x, p);
    };
    Result r;
    r.name = backward ? "max_pool2d bwd" : "max_pool2d fwd";
    r.shape = std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(H) + "x" + std::to_string(W) + " 2x2";
    r.unit = "GB/s";
    r.work = 4.0 * x.numel() + 12.0 * outn;
    r = finish(r, time_runs(o, run));
    const float *xp = x.data<float>(), *op = out.data<float>(), *dp = dout.data<float>();
    for (int64_t i = 0; i < outn; i += outn / 97 + 1) {
        const int64_t plane = i / (OH * OW), oh = i / OW % OH, ow = i % OW;
        const float* xs = xp + plane * H * W;
        const float m = std::max(std::max(xs[2 * oh * W + 2 * ow], xs[2 * oh * W + 2 * ow + 1]),
                                 std::max(xs[(2 * oh + 1) * W + 2 * ow], xs[(2 * oh + 1) * W + 2 * ow + 1]));
        if (op[i] != m) r.ok = false;
        if (backward) {
            const int64_t at = idx.data<int64_t>()[i];
            if (xs[at] != m || dx.data<float>()[plane * H * W + at] != dp[i]) r.ok = false;
        }
    }
    return r;
}

// The values-only 2x2 kernels F.max_pool2d(x, 2) uses when no indices are asked for. Traffic
// forward: x read, out written; backward: x and dout read, dx written.
Result bench_pool2x2(const Options& o, int64_t N, int64_t C, int64_t H, int64_t W, bool backward) {
    const lamina::Tensor x = random_tensor({N, C, H, W}, 15);
    const int64_t OH = H / 2, OW = W / 2, outn = N * C * OH * OW;
    lamina::Tensor out = lamina::max_pool2d_2x2_forward(x), dx;
    const lamina::Tensor dout = random_tensor({N, C, OH, OW}, 16);
    auto run = [&] {
        if (backward) dx = lamina::max_pool2d_2x2_backward(dout, x);
        else out = lamina::max_pool2d_2x2_forward(x);
    };
    Result r;
    r.name = backward ? "max_pool2x2 bwd" : "max_pool2x2 fwd";
    r.shape = std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(H) + "x" + std::to_string(W) + " 2x2";
    r.unit = "GB/s";
    r.work = backward ? 8.0 * x.numel() + 4.0 * outn : 4.0 * x.numel() + 4.0 * outn;
    r = finish(r, time_runs(o, run));
    const float *xp = x.data<float>(), *op = out.data<float>(), *dp = dout.data<float>();
    for (int64_t i = 0; i < outn; i += outn / 97 + 1) {
        const int64_t plane = i / (OH * OW), oh = i / OW % OH, ow = i % OW;
        const int64_t at[4] = {2 * oh * W + 2 * ow, 2 * oh * W + 2 * ow + 1, (2 * oh + 1) * W + 2 * ow,
                               (2 * oh + 1) * W + 2 * ow + 1};
        const float* xs = xp + plane * H * W;
        float m = xs[at[0]];
        for (int k = 1; k < 4; ++k) m = std::max(m, xs[at[k]]);
        if (op[i] != m) r.ok = false;
        if (backward) {  // the window's gradient goes, whole, to one position holding the max
            const float* ds = dx.data<float>() + plane * H * W;
            int hits = 0;
            for (int k = 0; k < 4; ++k)
                if (ds[at[k]] != 0.0f) hits += (ds[at[k]] == dp[i] && xs[at[k]] == m) ? 1 : 100;
            if (hits != (dp[i] != 0.0f ? 1 : 0)) r.ok = false;
        }
    }
    return r;
}

const char* env_or_null(const char* k) { return std::getenv(k); }

std::string json_str(const char* s) { return s ? "\"" + std::string(s) + "\"" : "null"; }

template <class Pct>
std::string pct_s_json(const Result& r, const Pct& pct) {
    if (r.unit != "GFLOP/s" || pct(r) <= 0) return "null";
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", pct(r));
    return b;
}

void usage() {
    std::puts("usage: lamina_bench [--threads N] [--reps R] [--warmup W] [--min-time S] "
              "[--no-2048] [--json PATH] [--filter GROUP]\n"
              "                    [--capability default|avx2|avx512|all] [--probe-seconds S] "
              "[--clock wall|cpu]");
}

const char* const kLevels[] = {"default", "avx2", "avx512"};

// Whether this CPU runs a level: the flags of x86-64-v2 / -v3 / -v4 that matter for our code.
bool cpu_runs(const std::string& level) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const bool v2 = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt");
    const bool v3 = v2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("bmi2");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    return level == "default" ? v2 : level == "avx2" ? v3 : level == "avx512" ? v4 : false;
#else
    return level == lamina::compiled_isa_level();
#endif
}

// --capability: the levels asked for other than this binary's run as sibling executables
// lamina_bench_<level> (same arguments, JSON beside ours with the level in its name) when they
// exist; a level the CPU lacks or nobody built gets a line. Returns whether this binary's own
// level was asked for, and sets `rc` to the worst child status.
bool run_other_levels(const Options& o, int argc, char** argv, int& rc) {
    const std::string mine = lamina::compiled_isa_level();
    std::vector<std::string> want;
    if (o.capability == "all") want.assign(std::begin(kLevels), std::end(kLevels));
    else want.push_back(o.capability);
    std::error_code ec;
    const auto dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
    bool run_mine = false;
    for (const auto& level : want) {
        if (!cpu_runs(level)) {
            std::printf("=== ISA level %s: skipped, this CPU cannot run it\n", level.c_str());
            continue;
        }
        if (level == mine) {
            run_mine = true;
            continue;
        }
        const auto exe = dir / ("lamina_bench_" + level);
        if (ec || !std::filesystem::exists(exe)) {
            std::printf("=== ISA level %s: not in this binary (compiled for %s) and no %s "
                        "beside it: build lamina with that level to measure it\n",
                        level.c_str(), mine.c_str(), exe.filename().c_str());
            continue;
        }
        std::string cmd = "'" + exe.string() + "'";
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--capability" || a == "--json") {
                ++i;
                continue;
            }
            cmd += " '" + a + "'";
        }
        const std::filesystem::path jp(o.json);
        const auto child_json = jp.parent_path() / (jp.stem().string() + "." + level + ".json");
        cmd += " --json '" + child_json.string() + "'";
        std::printf("=== ISA level %s: %s\n", level.c_str(), exe.c_str());
        std::fflush(stdout);
        rc = std::max(rc, std::system(cmd.c_str()) == 0 ? 0 : 1);
    }
    if (run_mine) std::printf("=== ISA level %s (this binary)\n", mine.c_str());
    return run_mine;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    o.json = std::string(LAMINA_BENCH_RESULTS) + "/cpp_bench.json";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                usage();
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--threads") o.threads = std::atoi(next());
        else if (a == "--reps") o.reps = std::atoi(next());
        else if (a == "--warmup") o.warmup = std::atoi(next());
        else if (a == "--min-time") o.min_time = std::atof(next());
        else if (a == "--json") o.json = next();
        else if (a == "--no-2048") o.big = false;
        else if (a == "--capability") o.capability = next();
        else if (a == "--probe-seconds") o.probe_s = std::atof(next());
        else if (a == "--filter") o.filter = next();
        else if (a == "--clock") o.cpu_clock = std::string(next()) == "cpu";
        else {
            usage();
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
    const std::string cap = o.capability;
    if (o.threads < 1 || o.reps < 1 || o.warmup < 0 || (o.cpu_clock && o.threads != 1) ||
        !(cap.empty() || cap == "all" || cap == "default" || cap == "avx2" || cap == "avx512")) {
        usage();
        return 2;
    }
    int child_rc = 0;
    if (!cap.empty() && !run_other_levels(o, argc, argv, child_rc)) return child_rc;
    lamina::blas_init();  // OpenBLAS jobs on our OpenMP pool, as in the Python module
    lamina::set_num_threads(o.threads);

    const char* coretype = env_or_null("OPENBLAS_CORETYPE");
    const char* l2 = env_or_null("OPENBLAS_L2_SIZE");
    std::printf("lamina_bench: threads=%d  clock=%s  OpenBLAS corename=%s  OPENBLAS_CORETYPE=%s  "
                "OPENBLAS_L2_SIZE=%s\n",
                lamina::get_num_threads(), o.cpu_clock ? "cpu" : "wall", lamina::blas_corename(), coretype ? coretype : "(unset)",
                l2 ? l2 : "(unset)");
    // The probe runs on this thread alone; the % peak of an n-thread row assumes n such cores.
    lamina::FmaPeak peak;
    if (o.probe_s > 0) peak = lamina::fma_peak(o.probe_s);
    std::printf("compiled for ISA level %s; measured 1-thread %s peak %.1f GFLOP/s (median %.1f; "
                "%s, %d chains, %d chunks)\n",
                lamina::compiled_isa_level(), peak.fused ? "FMA" : "mul+add", peak.gflops,
                peak.median_gflops, peak.isa, peak.accumulators, peak.chunks);
    const double full_peak = peak.gflops * lamina::get_num_threads();
    // % of peak at the median and at the best run (a busy host slows the median, not the peak).
    auto pct = [&](const Result& r) {
        return full_peak > 0 ? 100.0 * r.rate(r.median_s) / full_peak : 0.0;
    };
    auto pct_best = [&](const Result& r) {
        return full_peak > 0 ? 100.0 * r.rate(r.min_s) / full_peak : 0.0;
    };

    std::vector<Result> rs;
    // --filter: groups whose name contains the string (sgemm, add, im2col, col2im, conv2d, pool).
    auto want = [&](const char* group) { return std::string(group).find(o.filter) != std::string::npos; };
    if (want("sgemm")) {
        rs.push_back(bench_gemm(o, "sgemm", 256, 256, 256));
        rs.push_back(bench_gemm(o, "sgemm", 1024, 1024, 1024));
        if (o.big) rs.push_back(bench_gemm(o, "sgemm", 2048, 2048, 2048));
        rs.push_back(bench_gemm(o, "sgemm conv1", 6, 36864, 25));   // LeNet conv1 as GEMM
        rs.push_back(bench_gemm(o, "sgemm conv", 64, 32768, 288));  // 3x3x32 -> 64 channels
    }
    if (want("add")) {
        rs.push_back(bench_add(o, int64_t{1} << 24));
        rs.push_back(bench_add_raw(o, int64_t{1} << 24));
    }
    // The conv2d shapes (a), (c), (e) of bench/compare.py.
    const ConvShape convs[] = {{"a", 64, 1, 6, 28, 28, 5, 1, 0},
                               {"c", 32, 3, 32, 32, 32, 3, 1, 1},
                               {"e", 8, 64, 64, 56, 56, 3, 1, 1}};
    for (const auto& c : convs) if (want("im2col")) rs.push_back(bench_im2col(o, c));
    for (const auto& c : convs) if (want("col2im")) rs.push_back(bench_col2im(o, c));
    for (const auto& c : convs) if (want("conv2d")) rs.push_back(bench_conv_fwd(o, c));
    for (const auto& c : convs) if (want("conv2d")) rs.push_back(bench_conv_bwd(o, c));
    for (bool bwd : {false, true}) {
        if (!want("max_pool2d")) break;
        rs.push_back(bench_pool(o, 64, 6, 24, 24, bwd));
        rs.push_back(bench_pool(o, 32, 32, 32, 32, bwd));
    }
    for (bool bwd : {false, true}) {
        if (!want("max_pool2x2")) break;
        rs.push_back(bench_pool2x2(o, 64, 6, 24, 24, bwd));
        rs.push_back(bench_pool2x2(o, 32, 32, 32, 32, bwd));
    }

    std::printf("\n%-15s %-22s %5s %11s %11s %12s %12s %11s %s\n", "case", "shape", "reps",
                "median ms", "min ms", "rate(med)", "rate(best)", "%pk med/best", "check");
    bool all_ok = true;
    for (const auto& r : rs) {
        char pct_s[16] = "";
        if (r.unit == "GFLOP/s" && full_peak > 0)
            std::snprintf(pct_s, sizeof pct_s, "%3.0f/%3.0f", pct(r), pct_best(r));
        std::printf("%-15s %-22s %5d %11.3f %11.3f %8.1f %-3s %8.1f %-3s %11s %s\n", r.name.c_str(),
                    r.shape.c_str(), r.reps, r.median_s * 1e3, r.min_s * 1e3, r.rate(r.median_s),
                    r.unit == "GB/s" ? "GB" : "GF", r.rate(r.min_s), r.unit == "GB/s" ? "GB" : "GF",
                    pct_s, r.ok ? "ok" : "MISMATCH");
        all_ok = all_ok && r.ok;
    }
    std::puts("(GF = GFLOP/s counting 2 per multiply-add: sgemm 2*M*N*K (shape MxNxK), conv fwd\n"
              " 2*N*OC*OH*OW*C*K*K, conv bwd twice that (dX and dW); GB = GB/s of compulsory traffic:\n"
              " add 3 arrays, im2col/col2im image + columns, max_pool x + out + int64 indices,\n"
              " max_pool2x2 (values only) x + out, its bwd x + dout + dx; %pk = rate at the median /\n"
              " best run as % of the measured 1-thread FMA peak x threads)");

    std::error_code ec;
    const std::filesystem::path jp(o.json);
    if (jp.has_parent_path()) std::filesystem::create_directories(jp.parent_path(), ec);
    std::ofstream js(o.json);
    if (!js) {
        std::fprintf(stderr, "lamina_bench: cannot write %s\n", o.json.c_str());
        return 1;
    }
    js << "{\n  \"threads\": " << lamina::get_num_threads() << ",\n  \"clock\": \""
       << (o.cpu_clock ? "cpu" : "wall") << "\",\n  \"corename\": \""
       << lamina::blas_corename() << "\",\n  \"OPENBLAS_CORETYPE\": " << json_str(coretype)
       << ",\n  \"OPENBLAS_L2_SIZE\": " << json_str(l2) << ",\n  \"compiled_level\": \""
       << lamina::compiled_isa_level() << "\",\n  \"fma_peak_gflops\": " << peak.gflops
       << ",\n  \"fma_peak_median_gflops\": " << peak.median_gflops << ",\n  \"fma_peak_isa\": \""
       << peak.isa << "\",\n  \"cases\": [\n";
    for (size_t i = 0; i < rs.size(); ++i) {
        const auto& r = rs[i];
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "    {\"name\": \"%s\", \"shape\": \"%s\", \"reps\": %d, \"median_s\": %.6e, "
                      "\"min_s\": %.6e, \"unit\": \"%s\", \"rate_median\": %.3f, "
                      "\"rate_best\": %.3f, \"pct_peak\": %s, \"pct_peak_best\": %s, "
                      "\"ok\": %s}%s\n",
                      r.name.c_str(), r.shape.c_str(), r.reps, r.median_s, r.min_s, r.unit.c_str(),
                      r.rate(r.median_s), r.rate(r.min_s), pct_s_json(r, pct).c_str(),
                      pct_s_json(r, pct_best).c_str(), r.ok ? "true" : "false",
                      i + 1 < rs.size() ? "," : "");
        js << buf;
    }
    js << "  ]\n}\n";
    std::printf("wrote %s\n", o.json.c_str());
    return all_ok && child_rc == 0 ? 0 : 1;
}
