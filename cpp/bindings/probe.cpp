// The FMA peak probe (cpp/core/probe.h): the measured single-core float32 ceiling benchmarks quote
// GFLOP/s against; and the GEMM micro-kernel's own ceiling (cpp/core/gemm_f32.h). Not ops (no
// tensors, no gradient), so they live beside runtime.cpp, not in an ops_<family>.cpp file.
#include <pybind11/pybind11.h>

#include "../core/gemm_f32.h"
#include "../core/probe.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_probe(py::module_& m) {
    m.def(
        "fma_peak",
        [](double seconds) {
            FmaPeak p;
            {
                py::gil_scoped_release nogil;
                p = fma_peak(seconds);
            }
            py::dict d;
            d["gflops"] = p.gflops;
            d["median_gflops"] = p.median_gflops;
            d["isa"] = std::string(p.isa);
            d["vector_bits"] = p.vector_bits;
            d["accumulators"] = p.accumulators;
            d["fused"] = p.fused;
            d["chunks"] = p.chunks;
            d["level"] = std::string(compiled_isa_level());
            return d;
        },
        py::arg("seconds") = 0.2,
        "Single-thread float32 FMA peak of this build's ISA level, measured for about `seconds`: "
        "dict(gflops=best chunk, median_gflops, isa, vector_bits, accumulators, fused, chunks, "
        "level=the ISA level the module was compiled for).");
    m.def(
        "gemm_kernel_peak",
        [](double seconds) {
            GemmKernelRate r;
            {
                py::gil_scoped_release nogil;
                r = gemm_kernel_peak(seconds);
            }
            py::dict d;
            d["gflops"] = r.gflops;
            d["median_gflops"] = r.median_gflops;
            d["chunks"] = r.chunks;
            d["mr"] = r.mr;
            d["nr"] = r.nr;
            d["kc"] = r.kc;
            return d;
        },
        py::arg("seconds") = 0.2,
        "Single-thread rate of lamina's float32 GEMM micro-kernel (an mr x nr tile of C, kc deep) on "
        "packed panels that stay in L1, measured for about `seconds`: the ceiling of its SGEMM on this "
        "core. dict(gflops=best chunk, median_gflops, chunks, mr, nr, kc).");
}

}  // namespace lamina::bind
