// lamina_bench: C++ microbenchmarks of the core kernels -- SGEMM (square and conv-as-GEMM shapes)
// through lamina::gemm and one elementwise op (add_forward) -- with warm-up, repetitions, median
// and min, a table on stdout and JSON in bench/results/cpp_bench.json. Usage: --threads N.
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

#include "core/blas.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "ops/binary.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    int threads = 1;
    int warmup = 2;
    int reps = 7;
    double min_time = 0.3;  // seconds of timed runs per case, at least `reps` runs
    std::string json;
    bool big = true;        // include 2048^3
};

struct Result {
    std::string name, shape, unit;
    int reps = 0;
    double median_s = 0, min_s = 0, work = 0;  // work: FLOPs or bytes per run
    bool ok = true;
    double rate(double s) const { return work / s / 1e9; }
};

// Warm-up, then at least `reps` runs and at least `min_time` seconds; times in seconds.
std::vector<double> time_runs(const Options& o, const std::function<void()>& f) {
    for (int i = 0; i < o.warmup; ++i) f();
    std::vector<double> ts;
    double total = 0;
    while (static_cast<int>(ts.size()) < o.reps || (total < o.min_time && ts.size() < 200)) {
        const auto t0 = Clock::now();
        f();
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
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

const char* env_or_null(const char* k) { return std::getenv(k); }

std::string json_str(const char* s) { return s ? "\"" + std::string(s) + "\"" : "null"; }

void usage() {
    std::puts("usage: lamina_bench [--threads N] [--reps R] [--warmup W] [--min-time S] "
              "[--no-2048] [--json PATH]");
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
        else {
            usage();
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
    if (o.threads < 1 || o.reps < 1 || o.warmup < 0) {
        usage();
        return 2;
    }
    lamina::blas_init();  // OpenBLAS jobs on our OpenMP pool, as in the Python module
    lamina::set_num_threads(o.threads);

    const char* coretype = env_or_null("OPENBLAS_CORETYPE");
    const char* l2 = env_or_null("OPENBLAS_L2_SIZE");
    std::printf("lamina_bench: threads=%d  OpenBLAS corename=%s  OPENBLAS_CORETYPE=%s  "
                "OPENBLAS_L2_SIZE=%s\n",
                lamina::get_num_threads(), lamina::blas_corename(), coretype ? coretype : "(unset)",
                l2 ? l2 : "(unset)");

    std::vector<Result> rs;
    rs.push_back(bench_gemm(o, "sgemm", 256, 256, 256));
    rs.push_back(bench_gemm(o, "sgemm", 1024, 1024, 1024));
    if (o.big) rs.push_back(bench_gemm(o, "sgemm", 2048, 2048, 2048));
    rs.push_back(bench_gemm(o, "sgemm conv1", 6, 36864, 25));    // LeNet conv1 as GEMM
    rs.push_back(bench_gemm(o, "sgemm conv", 64, 32768, 288));   // 3x3x32 -> 64 channels
    rs.push_back(bench_add(o, int64_t{1} << 24));
    rs.push_back(bench_add_raw(o, int64_t{1} << 24));

    std::printf("\n%-12s %-16s %5s %11s %11s %12s %12s %s\n", "case", "MxNxK", "reps", "median ms",
                "min ms", "rate(med)", "rate(best)", "check");
    bool all_ok = true;
    for (const auto& r : rs) {
        std::printf("%-12s %-16s %5d %11.3f %11.3f %8.1f %-3s %8.1f %-3s %s\n", r.name.c_str(),
                    r.shape.c_str(), r.reps, r.median_s * 1e3, r.min_s * 1e3, r.rate(r.median_s),
                    r.unit == "GB/s" ? "GB" : "GF", r.rate(r.min_s), r.unit == "GB/s" ? "GB" : "GF",
                    r.ok ? "ok" : "MISMATCH");
        all_ok = all_ok && r.ok;
    }
    std::puts("(GF = GFLOP/s counting 2*M*N*K; GB = GB/s counting 3 arrays of 4-byte traffic)");

    std::error_code ec;
    const std::filesystem::path jp(o.json);
    if (jp.has_parent_path()) std::filesystem::create_directories(jp.parent_path(), ec);
    std::ofstream js(o.json);
    if (!js) {
        std::fprintf(stderr, "lamina_bench: cannot write %s\n", o.json.c_str());
        return 1;
    }
    js << "{\n  \"threads\": " << lamina::get_num_threads() << ",\n  \"corename\": \""
       << lamina::blas_corename() << "\",\n  \"OPENBLAS_CORETYPE\": " << json_str(coretype)
       << ",\n  \"OPENBLAS_L2_SIZE\": " << json_str(l2) << ",\n  \"cases\": [\n";
    for (size_t i = 0; i < rs.size(); ++i) {
        const auto& r = rs[i];
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "    {\"name\": \"%s\", \"shape\": \"%s\", \"reps\": %d, \"median_s\": %.6e, "
                      "\"min_s\": %.6e, \"unit\": \"%s\", \"rate_median\": %.3f, "
                      "\"rate_best\": %.3f, \"ok\": %s}%s\n",
                      r.name.c_str(), r.shape.c_str(), r.reps, r.median_s, r.min_s, r.unit.c_str(),
                      r.rate(r.median_s), r.rate(r.min_s), r.ok ? "true" : "false",
                      i + 1 < rs.size() ? "," : "");
        js << buf;
    }
    js << "  ]\n}\n";
    std::printf("wrote %s\n", o.json.c_str());
    return all_ok ? 0 : 1;
}
