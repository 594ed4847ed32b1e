// Bindings for reductions (cpp/ops/reduce.h): one m.def per C++ function, GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/reduce.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_reduce(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("sum_forward", &sum_forward, py::arg("x"), py::arg("dims"), py::arg("keepdim"), nogil());
    m.def("mean_forward", &mean_forward, py::arg("x"), py::arg("dims"), py::arg("keepdim"), nogil());
    m.def("sum_backward", &sum_backward, py::arg("dout"), py::arg("x_shape"), py::arg("dims"), py::arg("scale"),
          nogil());
    m.def("sum_to", &sum_to, py::arg("t"), py::arg("shape"), nogil());
    m.def("prod_forward", &prod_forward, py::arg("x"), py::arg("dims"), py::arg("keepdim"), nogil());
    m.def("prod_backward", &prod_backward, py::arg("dout"), py::arg("x"), py::arg("dims"), nogil());
    m.def("max_dim_forward", &max_dim_forward, py::arg("x"), py::arg("dim"), py::arg("keepdim"),
          py::arg("is_max"), nogil());
    m.def("max_dim_backward", &max_dim_backward, py::arg("dout"), py::arg("indices"), py::arg("x_shape"),
          py::arg("dim"), nogil());
    m.def("amax_forward", &amax_forward, py::arg("x"), py::arg("dims"), py::arg("keepdim"), py::arg("is_max"),
          nogil());
    m.def("amax_backward", &amax_backward, py::arg("dout"), py::arg("x"), py::arg("out"), py::arg("dims"),
          nogil());
    m.def("argmax_forward", &argmax_forward, py::arg("x"), py::arg("dims"), py::arg("keepdim"),
          py::arg("is_max"), nogil());
    m.def("var_forward", &var_forward, py::arg("x"), py::arg("dims"), py::arg("correction"), py::arg("keepdim"),
          py::arg("take_sqrt"), nogil());
    m.def("var_backward", &var_backward, py::arg("dout"), py::arg("x"), py::arg("mean"), py::arg("out"),
          py::arg("dims"), py::arg("correction"), py::arg("take_sqrt"), nogil());
    m.def("logsumexp_forward", &logsumexp_forward, py::arg("x"), py::arg("dims"), py::arg("keepdim"), nogil());
    m.def("logsumexp_backward", &logsumexp_backward, py::arg("dout"), py::arg("x"), py::arg("out"),
          py::arg("dims"), nogil());
    m.def("any_forward", &any_forward, py::arg("x"), py::arg("dims"), py::arg("keepdim"), py::arg("is_all"),
          nogil());
}

}  // namespace lamina::bind
