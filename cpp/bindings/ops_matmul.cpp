// Bindings for matrix multiplication (cpp/ops/matmul.h), GIL released around every kernel.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/matmul.h"
#include "bindings.h"
#include "grads.h"

namespace py = pybind11;

namespace lamina::bind {

void register_matmul(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("matmul_forward", &matmul_forward, py::arg("a"), py::arg("b"), nogil());
    m.def(
        "matmul_backward",
        [](const Tensor& d, const Tensor& a, const Tensor& b, bool na, bool nb) {
            return grads([&] { return matmul_backward(d, a, b, na, nb); });
        },
        py::arg("dout"), py::arg("a"), py::arg("b"), py::arg("need_a"), py::arg("need_b"));
    m.def("gemm_into", &gemm_into, py::arg("out"), py::arg("a"), py::arg("b"), py::arg("alpha"),
          py::arg("beta"), nogil());
}

}  // namespace lamina::bind
