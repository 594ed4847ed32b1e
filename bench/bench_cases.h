// The cases lamina_bench times: each runs one kernel through lamina's C++ API, checks a sample of
// its output against a double-precision reference and returns a Result (bench_harness.h).
// GEMM and elementwise cases live in bench_gemm_add.cpp; convolution and pooling in bench_conv_pool.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "bench_harness.h"
#include "ops/im2col.h"

namespace lamina_bench {

Result bench_gemm(const Options& o, const char* name, int64_t M, int64_t N, int64_t K);
Result bench_add(const Options& o, int64_t n);
Result bench_add_raw(const Options& o, int64_t n);

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

Result bench_im2col(const Options& o, const ConvShape& c);
Result bench_col2im(const Options& o, const ConvShape& c);
Result bench_conv_fwd(const Options& o, const ConvShape& c);
Result bench_conv_bwd(const Options& o, const ConvShape& c);
Result bench_pool(const Options& o, int64_t N, int64_t C, int64_t H, int64_t W, bool backward);
Result bench_pool2x2(const Options& o, int64_t N, int64_t C, int64_t H, int64_t W, bool backward);

}  // namespace lamina_bench
