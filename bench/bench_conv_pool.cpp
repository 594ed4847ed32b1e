// lamina_bench cases: im2col / col2im, conv2d forward and backward, 2x2 max pooling (with and
// without indices), on shapes of bench/compare.py's workloads.
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "bench_cases.h"
#include "ops/conv2d.h"
#include "ops/pool.h"

namespace lamina_bench {

namespace {

// x value read by (c, kh, kw) at output (oh, ow), 0 in the padding.
float tap(const float* xn, const ConvShape& c, int64_t ch, int64_t kh, int64_t kw, int64_t oh, int64_t ow) {
    const int64_t ih = oh * c.s - c.p + kh, iw = ow * c.s - c.p + kw;
    if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) return 0.0f;
    return xn[(ch * c.H + ih) * c.W + iw];
}

lamina::ConvParams conv_params(const ConvShape& c) {
    lamina::ConvParams p;
    p.stride = {c.s, c.s};
    p.padding = {c.p, c.p};
    return p;
}

}  // namespace

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

}  // namespace lamina_bench
