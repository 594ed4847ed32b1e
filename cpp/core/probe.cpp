// The FMA peak probe: independent chains of vector FMAs at the widest width this build's ISA level
// has (AVX-512, AVX2+FMA, SSE2 mul/add, else scalar), timed in chunks on the calling thread.
// Intrinsics rather than auto-vectorised loops, so the instruction mix is the one named in `isa`.
#include "probe.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <time.h>
#endif

#include "check.h"

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

namespace lamina {
namespace {

// The multiplier and addend come from volatiles so the compiler cannot fold the chains away.
// acc = acc * a + b with a just below 1 converges to b / (1 - a) = 1: no overflow, no denormals.
volatile float g_mul = 0.999999f;
volatile float g_add = 1e-6f;
volatile float g_sink = 0.0f;

#if defined(__AVX512F__)
// 32 zmm registers: 16 chains cover FMA latency (4) x 2 ports with room to spare.
constexpr int kAcc = 16, kLanes = 16;
constexpr const char* kIsa = "avx512f fma (512-bit)";
constexpr bool kFused = true;
using Vec = __m512;
inline Vec vset(float x) { return _mm512_set1_ps(x); }
inline Vec vstep(Vec acc, Vec a, Vec b) { return _mm512_fmadd_ps(acc, a, b); }
inline float vfirst(Vec v) { return _mm512_cvtss_f32(v); }
#elif defined(__AVX2__) && defined(__FMA__)
// 16 ymm registers: 12 chains + the two constants (latency 4-5 x 2 ports needs 8-10).
constexpr int kAcc = 12, kLanes = 8;
constexpr const char* kIsa = "avx2 fma (256-bit)";
constexpr bool kFused = true;
using Vec = __m256;
inline Vec vset(float x) { return _mm256_set1_ps(x); }
inline Vec vstep(Vec acc, Vec a, Vec b) { return _mm256_fmadd_ps(acc, a, b); }
inline float vfirst(Vec v) { return _mm256_cvtss_f32(v); }
#elif defined(__SSE2__)
// No FMA at this level (x86-64-v2): a dependent multiply then add, 2 FLOPs per lane; 12 chains
// keep both the multiplier and the adder busy.
constexpr int kAcc = 12, kLanes = 4;
constexpr const char* kIsa = "sse2 mul+add, no fma (128-bit)";
constexpr bool kFused = false;
using Vec = __m128;
inline Vec vset(float x) { return _mm_set1_ps(x); }
inline Vec vstep(Vec acc, Vec a, Vec b) { return _mm_add_ps(_mm_mul_ps(acc, a), b); }
inline float vfirst(Vec v) { return _mm_cvtss_f32(v); }
#else
constexpr int kAcc = 8, kLanes = 1;
constexpr const char* kIsa = "scalar mul+add";
constexpr bool kFused = false;
using Vec = float;
inline Vec vset(float x) { return x; }
inline Vec vstep(Vec acc, Vec a, Vec b) { return acc * a + b; }
inline float vfirst(Vec v) { return v; }
#endif

constexpr int kBits = kLanes * 32;
constexpr double kFlopsPerIter = 2.0 * kAcc * kLanes;

// `iters` rounds of kAcc independent chains; the first lane of every chain goes to a sink.
void run_chains(int64_t iters) {
    const Vec a = vset(g_mul), b = vset(g_add);
    Vec acc[kAcc];
    for (int k = 0; k < kAcc; ++k) acc[k] = vset(1.0f + 1e-3f * k);
    for (int64_t i = 0; i < iters; ++i) {
        for (int k = 0; k < kAcc; ++k) acc[k] = vstep(acc[k], a, b);
    }
    float s = 0;
    for (int k = 0; k < kAcc; ++k) s += vfirst(acc[k]);
    g_sink = s;
}

// Seconds this thread ran: on a host shared with other work, time spent descheduled is not the
// core's speed (wall time elsewhere).
double thread_seconds() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
    timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return ts.tv_sec + 1e-9 * ts.tv_nsec;
#endif
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

const char* compiled_isa_level() {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
    return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
    return "avx2";
#elif defined(__SSE4_2__) && defined(__POPCNT__)
    return "default";
#else
    return "generic";
#endif
}

RateChunks measure_rate(const std::function<void(int64_t)>& run, double flops_per_iter, double seconds) {
    // Size a chunk to about 2 ms (a scheduler tick away from the clock's resolution); the sizing
    // runs plus a 20 ms warm-up let the core settle at its wide-vector frequency first.
    auto time_chunk = [&](int64_t iters) {
        const double t0 = thread_seconds();
        run(iters);
        return thread_seconds() - t0;
    };
    int64_t iters = 1;
    while (time_chunk(iters) < 2e-3 && iters < (int64_t{1} << 34)) iters *= 2;
    const double warm_end = 0.02;
    for (double t = 0; t < warm_end;) t += time_chunk(iters);
    std::vector<double> rates;
    for (double total = 0; total < seconds || rates.size() < 3;) {
        const double s = time_chunk(iters);
        total += s;
        rates.push_back(flops_per_iter * static_cast<double>(iters) / s / 1e9);
    }
    std::sort(rates.begin(), rates.end());
    return {rates.back(), rates[rates.size() / 2], static_cast<int>(rates.size())};
}

FmaPeak fma_peak(double seconds) {
    LAMINA_CHECK(seconds > 0 && seconds <= 60, "fma_peak: seconds must be in (0, 60], got ",
                 seconds);
    const RateChunks r = measure_rate(run_chains, kFlopsPerIter, seconds);
    FmaPeak p;
    p.gflops = r.best;
    p.median_gflops = r.median;
    p.isa = kIsa;
    p.vector_bits = kBits;
    p.accumulators = kAcc;
    p.fused = kFused;
    p.chunks = r.chunks;
    return p;
}

}  // namespace lamina
