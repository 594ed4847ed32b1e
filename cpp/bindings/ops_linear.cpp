// Bindings for the fused linear layer (cpp/ops/linear.h), GIL released around every kernel.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/linear.h"
#include "bindings.h"
#include "grads.h"

namespace py = pybind11;

namespace lamina::bind {

void register_linear(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("linear_forward", &linear_forward, py::arg("x"), py::arg("weight"), py::arg("bias"), nogil());
    m.def(
        "linear_backward",
        [](const Tensor& d, const Tensor& x, const Tensor& w, bool nx, bool nw, bool nb) {
            return grads([&] { return linear_backward(d, x, w, nx, nw, nb); });
        },
        py::arg("dout"), py::arg("x"), py::arg("weight"), py::arg("need_x"), py::arg("need_w"),
        py::arg("need_b"));
}

}  // namespace lamina::bind
