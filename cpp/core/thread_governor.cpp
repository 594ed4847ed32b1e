// Contention governor (see thread_governor.h for what and why).
//
// The signal, and the ones not taken (measured on the 2-vCPU KVM guest, kernel 6.18):
// - /proc/stat, per-CPU idle + iowait of the CPUs in this process's affinity mask, minus this
//   process's own CPU time (CLOCK_PROCESS_CPUTIME_ID, ns) over the same wall-clock window: what
//   other processes (and steal) took from those CPUs. One pread of an fd kept open, ~4 us; the
//   process clock ~0.5 us. The kernel reports idle in USER_HZ ticks (10 ms) truncated, so a
//   window's figure is off by up to one tick per CPU: over a 100 ms window +-0.1 CPU per CPU,
//   far inside the hysteresis band below (measured: while a CIFAR step ran at 2 threads on the
//   quiet VM it read 0.015 CPU, median of 38 windows, max 0.11; a spinning neighbour reads ~1.0).
//   Idle is read instead of adding up the five busy fields because each field is truncated
//   separately (five errors instead of one); idle also includes the idle period running at the
//   moment of the read (nohz), so it is never stale.
// - /proc/self/task/<tid>/schedstat run delay (ns a thread waited for a CPU): exact, but it only
//   sees contention that hurts our threads right now. Once the governor has dropped to one thread
//   that thread finds a free CPU, the delay stays at zero, and the governor would go back up and
//   flap; it cannot tell when the neighbour stops.
// - /proc/loadavg's running count: instantaneous and machine-wide, and it counts our own spinning
//   workers (which we cannot tell apart from waiting ones), so it needs many samples to mean
//   anything.
// - sysfs cpuidle state times (us): only updated when a CPU leaves an idle state, so a long idle
//   period reads as busy.
// Sampling happens in the thread that asks for a thread count (a parallel region's caller), at
// most once per window; a background sampler would itself take CPU from the neighbour.
#include "thread_governor.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "parallel.h"

#ifdef __linux__
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#endif

namespace lamina {

namespace {

// Window between samples. The tick truncation above is +-0.1 CPU per CPU at 100 ms (0.2 at 50 ms),
// and a busy neighbour is found within one to two windows. Longer windows react more slowly to a
// neighbour that starts (the damage is a few x slower steps meanwhile); shorter ones are noisy.
constexpr int64_t kWindowNs = 100'000'000;
// A window longer than this (the process did no parallel work for a while) says little about now:
// it only starts a new window.
constexpr int64_t kStaleNs = 1'000'000'000;

std::atomic<bool> g_on{true};
std::atomic<int> g_cap{INT_MAX};                // threads allowed; INT_MAX: no limit measured
std::atomic<int64_t> g_last_ns{INT64_MIN / 2};  // when the current window started
std::atomic<double> g_forced{-1.0};             // test hook: others' load, or < 0

// Sampler state, touched only under g_mu.
std::mutex g_mu;
int g_calm = 0;
bool g_have_prev = false;
double g_prev_idle_s = 0, g_prev_own_s = 0;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

#ifdef __linux__
// Idle + iowait seconds summed over the CPUs in this process's affinity mask, and how many of
// those CPUs /proc/stat listed; false when /proc/stat cannot be read.
bool read_idle(double& idle_s, int& cpus) {
    static const int fd = ::open("/proc/stat", O_RDONLY | O_CLOEXEC);
    static const long hz = ::sysconf(_SC_CLK_TCK);
    if (fd < 0 || hz <= 0) return false;
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (::sched_getaffinity(0, sizeof(mask), &mask) != 0) return false;
    // The per-CPU lines come first ("cpu  ..." total, then "cpuN user nice system idle iowait ...");
    // 64 KB holds them for ~700 CPUs; a machine with more is read as far as the buffer goes.
    static char buf[65536];  // only the sampler (under g_mu) reads
    const ssize_t got = ::pread(fd, buf, sizeof(buf) - 1, 0);
    if (got <= 0) return false;
    buf[got] = '\0';
    unsigned long long ticks = 0;
    cpus = 0;
    for (const char* p = buf; std::strncmp(p, "cpu", 3) == 0;) {
        if (p[3] >= '0' && p[3] <= '9') {  // not the all-CPU line
            char* end = nullptr;
            const long cpu = std::strtol(p + 3, &end, 10);
            if (cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &mask)) {
                unsigned long long f[5] = {0, 0, 0, 0, 0};  // user nice system idle iowait
                for (int i = 0; i < 5; ++i) f[i] = std::strtoull(end, &end, 10);
                ticks += f[3] + f[4];
                ++cpus;
            }
        }
        const char* nl = std::strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    idle_s = double(ticks) / double(hz);
    return cpus > 0;
}

double own_cpu_s() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
#endif

int allowed_cpus() {
#ifdef __linux__
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (::sched_getaffinity(0, sizeof(mask), &mask) == 0) return std::max(1, CPU_COUNT(&mask));
#endif
    return std::max(1, get_num_threads());
}

// One window: measure, decide, start the next window. Called with g_mu held.
void sample(int64_t now, int configured) {
#ifdef __linux__
    double idle_s = 0;
    int cpus = 0;
    if (!read_idle(idle_s, cpus)) {
        g_last_ns.store(now + 1000 * kWindowNs, std::memory_order_relaxed);  // retry rarely
        return;
    }
    const double own_s = own_cpu_s();
    const int64_t last = g_last_ns.load(std::memory_order_relaxed);
    if (g_have_prev && now - last <= kStaleNs) {
        const double wall_s = 1e-9 * double(now - last);
        // Busy CPU-seconds on our CPUs = capacity - idle; what we did not use ourselves was others'.
        const double busy_s = double(cpus) * wall_s - (idle_s - g_prev_idle_s);
        const double others = std::max(0.0, (busy_s - (own_s - g_prev_own_s)) / wall_s);
        const int cap = g_cap.load(std::memory_order_relaxed);
        g_cap.store(governor_decide(std::min(cap, configured), configured, cpus, others, g_calm),
                    std::memory_order_relaxed);
    }
    g_have_prev = true;
    g_prev_idle_s = idle_s;
    g_prev_own_s = own_s;
    g_last_ns.store(now, std::memory_order_relaxed);
#else
    (void)configured;
    g_last_ns.store(now + 1000 * kWindowNs, std::memory_order_relaxed);
#endif
}

}  // namespace

int governor_decide(int cap, int configured, int cpus, double other_cpus, int& calm) {
    configured = std::max(1, configured);
    cap = std::clamp(cap, 1, configured);
    // Threads left when the neighbours' load is rounded up from `slack`: the CPUs they use beyond
    // the ones our configured threads leave spare are taken from our threads, but one always runs.
    auto allowed = [&](double slack) {
        const int lost = int(std::floor(other_cpus + slack)) - std::max(0, cpus - configured);
        return std::clamp(configured - std::max(0, lost), 1, configured);
    };
    // Down when the neighbours use half a CPU or more (one thread fewer per whole CPU they hold);
    // up only below a quarter, two windows in a row. Between the two, the cap stays.
    const int down = allowed(0.5), up = allowed(0.75);
    if (down < cap) {
        calm = 0;
        return down;
    }
    if (up > cap) {
        if (++calm >= 2) {
            calm = 0;
            return up;
        }
        return cap;
    }
    calm = 0;
    return cap;
}

int effective_num_threads() {
    const int n = get_num_threads();
    if (n <= 1 || !g_on.load(std::memory_order_relaxed)) return n;
    const double forced = g_forced.load(std::memory_order_relaxed);
    if (forced >= 0) {
        std::lock_guard<std::mutex> lock(g_mu);
        g_cap.store(governor_decide(std::min(g_cap.load(), n), n, allowed_cpus(), forced, g_calm));
    } else {
        const int64_t now = now_ns();
        // The common case: one clock read (vDSO, ~20 ns) and a compare.
        if (now - g_last_ns.load(std::memory_order_relaxed) >= kWindowNs) {
            std::unique_lock<std::mutex> lock(g_mu, std::try_to_lock);  // another thread samples: skip
            if (lock.owns_lock() && now - g_last_ns.load(std::memory_order_relaxed) >= kWindowNs)
                sample(now, n);
        }
    }
    return std::clamp(g_cap.load(std::memory_order_relaxed), 1, n);
}

void set_thread_governor(bool on) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_on.store(on, std::memory_order_relaxed);
    g_cap.store(INT_MAX, std::memory_order_relaxed);
    g_calm = 0;
    g_have_prev = false;
    g_last_ns.store(INT64_MIN / 2, std::memory_order_relaxed);
}

bool thread_governor_enabled() { return g_on.load(std::memory_order_relaxed); }

void set_thread_governor_load(double other_cpus) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_forced.store(other_cpus < 0 ? -1.0 : other_cpus, std::memory_order_relaxed);
    g_have_prev = false;  // a real window never spans forced values
    g_last_ns.store(INT64_MIN / 2, std::memory_order_relaxed);
}

}  // namespace lamina
