// Bindings for indexing: cat, advanced indexing, gather/scatter (cpp/ops/indexing.h), GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/indexing.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_indexing(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("cat_forward", &cat_forward, py::arg("tensors"), py::arg("dim"), nogil());
    m.def("index_forward", &index_forward, py::arg("src"), py::arg("dim"), py::arg("indices"), nogil());
    m.def("index_backward", &index_backward, py::arg("dout"), py::arg("in_shape"), py::arg("dim"),
          py::arg("indices"), nogil());
    m.def("index_put_", &index_put_, py::arg("dst"), py::arg("dim"), py::arg("indices"), py::arg("src"),
          py::arg("accumulate"), nogil());
    m.def("gather_forward", &gather_forward, py::arg("x"), py::arg("dim"), py::arg("index"), nogil());
    m.def("gather_backward", &gather_backward, py::arg("dout"), py::arg("x_shape"), py::arg("dim"),
          py::arg("index"), nogil());
    m.def("scatter_add_", &scatter_add_, py::arg("self"), py::arg("dim"), py::arg("index"), py::arg("src"),
          nogil());
}

}  // namespace lamina::bind
