// lamina_bench cases: SGEMM through lamina::gemm, and add_forward against a preallocated plain loop.
#include <algorithm>
#include <cmath>
#include <vector>

#include "bench_cases.h"
#include "core/blas.h"
#include "core/parallel.h"
#include "ops/binary.h"

namespace lamina_bench {

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

}  // namespace lamina_bench
