// One m.def per op function; the GIL is released around every kernel. No logic here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/binary.h"
#include "../ops/creation.h"
#include "../ops/matmul.h"
#include "bindings.h"
#include "convert.h"

namespace py = pybind11;

namespace lamina::bind {

void register_ops(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    // creation
    m.def("fill_", &fill_, nogil());
    m.def("arange", [](double s, double e, double st, DType dt, const std::string& dev) {
        const Device d = parse_device(dev);
        py::gil_scoped_release nogil;
        return arange(s, e, st, dt, d);
    });
    m.def("uniform_", &uniform_, nogil());
    m.def("normal_", &normal_, nogil());
    m.def("randint_", &randint_, nogil());
    m.def("bernoulli_", &bernoulli_, nogil());
    // elementwise
    m.def("add_forward", &add_forward, nogil());
    // linear algebra
    m.def("matmul_forward", &matmul_forward, nogil());
    m.def("gemm_into", &gemm_into, nogil());
}

}  // namespace lamina::bind
