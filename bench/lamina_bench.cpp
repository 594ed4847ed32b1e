// lamina_bench: C++ microbenchmarks of the core kernels -- SGEMM (square and conv-as-GEMM shapes)
// through lamina::gemm, one elementwise op (add_forward), im2col/col2im, conv2d forward/backward
// and 2x2 max pooling -- with warm-up, repetitions, median and min, a result check, a table on
// stdout and JSON in bench/results/cpp_bench.json. Usage: --threads N. The header names the ISA
// level this binary was compiled for and its measured 1-thread FMA peak (core/probe.h); GFLOP/s
// rows show their % of peak x threads. --capability L|all: one binary holds one level, so other
// levels run as sibling binaries lamina_bench_<level> when the build made them, else are named.
// This file: options, levels, the run list, table and JSON; the timed cases are in bench_cases.h.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_cases.h"
#include "bench_harness.h"
#include "core/blas.h"
#include "core/parallel.h"
#include "core/probe.h"

using namespace lamina_bench;

namespace {

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

