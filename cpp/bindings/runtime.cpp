// Process-wide settings: threads, seeding, BLAS identity, CUDA availability.
#include <pybind11/pybind11.h>

#include "../core/allocator.h"
#include "../core/blas.h"
#include "../core/parallel.h"
#include "../core/random.h"
#include "../cuda/cuda_api.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_runtime(py::module_& m) {
    m.def("set_num_threads", &set_num_threads, py::arg("n"));
    m.def("get_num_threads", &get_num_threads);
    // The contention governor (cpp/core/thread_governor.h): private, for lamina's import and tests.
    m.def("_effective_num_threads", &effective_num_threads);
    m.def("_set_thread_governor", &set_thread_governor, py::arg("on"));
    m.def("_thread_governor_enabled", &thread_governor_enabled);
    m.def("_set_thread_governor_load", &set_thread_governor_load, py::arg("other_cpus"));
    m.def("_governor_decide", [](int cap, int configured, int cpus, double other_cpus, int calm) {
        const int next = governor_decide(cap, configured, cpus, other_cpus, calm);
        return py::make_tuple(next, calm);
    }, py::arg("cap"), py::arg("configured"), py::arg("cpus"), py::arg("other_cpus"), py::arg("calm"));
    m.def("manual_seed", [](uint64_t s) { manual_seed(s); }, py::arg("seed"));
    m.def("get_rng_state", [] {
        Generator& g = default_generator();
        return py::make_tuple(g.seed.load(), g.offset.load());
    });
    m.def("set_rng_state", [](uint64_t seed, uint64_t offset) {
        default_generator().seed.store(seed);
        default_generator().offset.store(offset);
    }, py::arg("seed"), py::arg("offset"));
    m.def("cpu_cache_stats", [] {
        const CacheStats s = cpu_cache_stats();
        py::dict d;
        d["cached_bytes"] = s.cached_bytes;
        d["limit_bytes"] = s.limit_bytes;
        d["hits"] = s.hits;
        d["misses"] = s.misses;
        d["allocated_bytes"] = s.allocated_bytes;
        d["peak_allocated_bytes"] = s.peak_allocated_bytes;
        return d;
    });
    m.def("cpu_empty_cache", &cpu_empty_cache);
    m.def("cpu_set_cache_limit", &cpu_set_cache_limit, py::arg("bytes"));
    m.def("blas_corename", [] { return std::string(blas_corename()); });
    m.def("blas_config", [] { return std::string(blas_config()); });
    m.def("cuda_built", &cuda::built_with_cuda);
    m.def("cuda_is_available", &cuda::is_available);
    m.def("cuda_device_count", &cuda::device_count);
    m.def("cuda_synchronize", &cuda::synchronize);
#ifdef _OPENMP
    m.attr("has_openmp") = true;
#else
    m.attr("has_openmp") = false;
#endif
}

}  // namespace lamina::bind
