// Bindings for radial-basis-function and conic-section units (cpp/ops/rbf.h), GIL released.
// Gradients a backward skipped (undefined tensors) come back to Python as None.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/rbf.h"
#include "bindings.h"
#include "grads.h"

namespace py = pybind11;

namespace lamina::bind {

void register_rbf(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("rbf_forward", &rbf_forward, py::arg("x"), py::arg("centers"), py::arg("widths"), nogil());
    m.def(
        "rbf_backward",
        [](const Tensor& d, const Tensor& x, const Tensor& c, const Tensor& w, const Tensor& out, bool nx,
           bool nc, bool nw) { return grads([&] { return rbf_backward(d, x, c, w, out, nx, nc, nw); }); },
        py::arg("dout"), py::arg("x"), py::arg("centers"), py::arg("widths"), py::arg("out"), py::arg("need_x"),
        py::arg("need_c"), py::arg("need_w"));
    m.def("conic_forward", &conic_forward, py::arg("x"), py::arg("weight"), py::arg("centers"),
          py::arg("omega"), nogil());
    m.def(
        "conic_backward",
        [](const Tensor& d, const Tensor& x, const Tensor& w, const Tensor& c, const Tensor& om, bool nx,
           bool nw, bool nc, bool no) {
            return grads([&] { return conic_backward(d, x, w, c, om, nx, nw, nc, no); });
        },
        py::arg("dout"), py::arg("x"), py::arg("weight"), py::arg("centers"), py::arg("omega"),
        py::arg("need_x"), py::arg("need_w"), py::arg("need_c"), py::arg("need_omega"));
}

}  // namespace lamina::bind
