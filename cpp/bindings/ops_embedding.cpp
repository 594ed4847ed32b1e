// Bindings for embedding lookup, its gradient and max-norm renormalisation (cpp/ops/embedding.h),
// GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/embedding.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_embedding(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("embedding_forward", &embedding_forward, py::arg("weight"), py::arg("indices"), nogil());
    m.def("embedding_backward", &embedding_backward, py::arg("dout"), py::arg("indices"), py::arg("num_weights"),
          py::arg("padding_idx"), py::arg("scale_grad_by_freq") = false, nogil());
    m.def("embedding_renorm_", &embedding_renorm_, py::arg("weight"), py::arg("indices"), py::arg("max_norm"),
          py::arg("norm_type"), nogil());
}

}  // namespace lamina::bind
