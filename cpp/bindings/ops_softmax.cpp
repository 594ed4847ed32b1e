// Bindings for softmax and log-softmax (cpp/ops/softmax.h), GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/softmax.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_softmax(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("softmax_forward", &softmax_forward, py::arg("x"), py::arg("dim"), py::arg("log"), nogil());
    m.def("softmax_backward", &softmax_backward, py::arg("dy"), py::arg("y"), py::arg("dim"), py::arg("log"),
          nogil());
}

}  // namespace lamina::bind
