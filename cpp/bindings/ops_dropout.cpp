// Bindings for counter-based (Philox) dropout (cpp/ops/dropout.h), GIL released. The mask is
// replayed from (seed, offset) in backward instead of being stored.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/dropout.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_dropout(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("dropout_forward", &dropout_forward, py::arg("x"), py::arg("p"), nogil());
    m.def("dropout_backward", &dropout_backward, py::arg("dout"), py::arg("p"), py::arg("seed"),
          py::arg("offset"), nogil());
    m.def("dropout_mask", &dropout_mask, py::arg("shape"), py::arg("dtype"), py::arg("p"), py::arg("seed"),
          py::arg("offset"), nogil());
}

}  // namespace lamina::bind
