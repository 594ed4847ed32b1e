// Contention governor: how many of the configured threads a parallel region actually uses.
//
// Why: lamina's OpenMP workers spin for a while after each region (GOMP_SPINCOUNT, set by
// python/lamina/_threads.py) so that they are still awake when the next op starts ~25-80 us later;
// a sleeping worker takes ~60 us to wake on a KVM guest, which cost the CIFAR CNN step at 2 threads
// most of its scaling (1.64x with a ~40 us spin, ~1.9x with a ~1 ms one). But a spinning worker
// burns a core, and when another process wants that core (a second job, an MPI rank, a build) a
// small model's step at 2 threads became several times slower than at 1. The governor lets the
// spin be long: while other processes keep the CPUs this process may run on busy, regions and
// gemm run on fewer threads (1 on a 2-CPU machine with one busy neighbour), so the workers are not
// woken, sleep after their spin and leave the shared core alone; when the neighbours stop, the
// configured count comes back. get_num_threads() (lamina.get_num_threads()) keeps returning the
// configured count, as in PyTorch; only speed changes, since results do not depend on the thread
// count (tests/test_threads*.py).
//
// Signal (thread_governor.cpp says why this one): the CPU time other processes used on this
// process's CPUs over the last window = busy jiffies of those CPUs in /proc/stat minus this
// process's own CPU time. Sampled by whichever thread asks for the thread count once a window
// (~50 ms) has passed (a clock read otherwise); never by a background thread.
#pragma once
#include <cstdint>

namespace lamina {

// The threads a parallel region or gemm started now should use: get_num_threads(), lowered while
// other processes keep this process's CPUs busy. Call once per region and use that value for the
// whole region (a later call may differ).
int effective_num_threads();

// On by default; lamina's import turns it off under LAMINA_THREAD_GOVERNOR=0 (_threads.py).
// Turning it off or on forgets what was measured (the configured count applies at once).
void set_thread_governor(bool on);
bool thread_governor_enabled();

// Test hook: a value >= 0 replaces the measured load of other processes (in CPUs busy) and is
// applied on every call of effective_num_threads(), without waiting for a window; < 0 goes back to
// measuring. Returns nothing; effective_num_threads() shows the effect.
void set_thread_governor_load(double other_cpus);

// The decision, without I/O (unit-tested through the hook above): the new thread cap from the
// current one, the configured count, the CPUs this process may use and the other processes' load
// in CPUs. `calm` counts consecutive windows that allowed more threads: the cap drops at once
// but rises only after two such windows (hysteresis against flapping on a noisy signal).
int governor_decide(int cap, int configured, int cpus, double other_cpus, int& calm);

}  // namespace lamina
