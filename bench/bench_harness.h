// Shared pieces of lamina_bench (bench/lamina_bench.cpp and its case files): the options, one
// timed result, the timing loop (warm-up, repetitions, median, min; wall or process CPU clock) and
// deterministic test data.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <time.h>

#include "core/tensor.h"

namespace lamina_bench {

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
inline double now_s(const Options& o) {
    if (o.cpu_clock) {
        timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ts.tv_sec + 1e-9 * ts.tv_nsec;
    }
    return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Warm-up, then at least `reps` runs and at least `min_time` seconds; times in seconds.
inline std::vector<double> time_runs(const Options& o, const std::function<void()>& f) {
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

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Deterministic values in [-1, 1) (no <random>: identical across standard libraries).
inline void fill(float* p, int64_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        p[i] = static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
}

inline Result finish(Result r, const std::vector<double>& ts) {
    r.reps = static_cast<int>(ts.size());
    r.median_s = median(ts);
    r.min_s = *std::min_element(ts.begin(), ts.end());
    return r;
}

inline lamina::Tensor random_tensor(const lamina::Shape& shape, uint32_t seed) {
    lamina::Tensor t = lamina::Tensor::empty(shape);
    fill(t.data<float>(), t.numel(), seed);
    return t;
}

inline bool close(double got, double ref, double mag) { return std::fabs(got - ref) <= 1e-4 * mag + 1e-5; }

}  // namespace lamina_bench
