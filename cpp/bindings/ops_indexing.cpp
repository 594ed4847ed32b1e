// Bindings for indexing: cat, advanced indexing, gather/scatter (cpp/ops/indexing.h), GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/typing.h>

#include "../ops/indexing.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_indexing(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    // A list of Tensors read in place (&cast<const Tensor&>): std::vector<Tensor> would copy each
    // one (shape and strides vectors, a refcount) before the copy kernel starts.
    m.def(
        "cat_forward",
        [](const py::typing::List<Tensor>& tensors, int64_t dim) {
            std::vector<const Tensor*> ts;
            ts.reserve(tensors.size());
            for (py::handle h : tensors) ts.push_back(&py::cast<const Tensor&>(h));
            py::gil_scoped_release release;
            return cat_forward(ts, dim);
        },
        py::arg("tensors"), py::arg("dim"));
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
