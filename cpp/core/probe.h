// A measured ceiling for benchmarks: the single-core float32 FMA rate of the ISA level this
// library was compiled for (widest vectors of that level, many independent accumulator chains).
// Benchmarks quote GFLOP/s as a fraction of it, so "fast" means the same thing on every host.
#pragma once
#include <cstdint>
#include <functional>

namespace lamina {

struct FmaPeak {
    double gflops = 0;         // best chunk: counts 2 FLOPs per lane per fused multiply-add
    double median_gflops = 0;  // median over the timed chunks (a busy host shows up here)
    const char* isa = "";      // the instructions the probe ran, e.g. "avx512f fma (512-bit)"
    int vector_bits = 0;       // 512, 256, 128 or 32 (scalar)
    int accumulators = 0;      // independent FMA chains (enough to hide the FMA latency)
    bool fused = false;        // false: the level has no FMA; a multiply and an add count 2 FLOPs
    int chunks = 0;            // timed chunks behind the figures
};

// The ISA level this translation unit was compiled for, from the compiler's macros: "avx512"
// (AVX-512 F/BW/DQ/VL, x86-64-v4), "avx2" (AVX2 + FMA, x86-64-v3), "default" (SSE4.2, x86-64-v2)
// or "generic" (anything else). Benchmarks print it so a figure names the code that produced it.
const char* compiled_isa_level();

// Best and median GFLOP/s over ~2 ms chunks of `run(iters)` (doing flops_per_iter * iters FLOPs),
// timed in this thread's CPU time for about `seconds` after a 20 ms warm-up.
struct RateChunks {
    double best = 0, median = 0;
    int chunks = 0;
};
RateChunks measure_rate(const std::function<void(int64_t)>& run, double flops_per_iter, double seconds);

// Runs the probe on the calling thread for about `seconds` of its CPU time (after a short warm-up
// that lets the core reach its wide-vector clock) and returns the rate. Timed with the thread's
// CPU clock, so time the thread spends descheduled on a busy host does not count. Throws ValueError unless
// 0 < seconds <= 60.
FmaPeak fma_peak(double seconds);

}  // namespace lamina
