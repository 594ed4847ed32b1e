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
        [](const Tensor& d, const Tensor& x, const Tensor& w, bool nx, bool nw, bool nb,
           const std::optional<Tensor>& dw_out, const std::optional<Tensor>& db_out, double dw_scale,
           double db_scale) {
            return grads([&] { return linear_backward(d, x, w, nx, nw, nb, dw_out, db_out, dw_scale, db_scale); });
        },
        py::arg("dout"), py::arg("x"), py::arg("weight"), py::arg("need_x"), py::arg("need_w"),
        py::arg("need_b"), py::arg("dw_out") = py::none(), py::arg("db_out") = py::none(),
        py::arg("dw_scale") = 1.0, py::arg("db_scale") = 1.0);
}

}  // namespace lamina::bind
