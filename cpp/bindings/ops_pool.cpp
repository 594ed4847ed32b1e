// Bindings for max, average and adaptive pooling (cpp/ops/pool.h): one m.def per C++ function,
// GIL released. No logic here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/pool.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_pool(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    using A2 = std::array<int64_t, 2>;
    py::class_<PoolParams>(m, "PoolParams")
        .def(py::init([](A2 kernel, A2 stride, A2 padding, A2 dilation, bool ceil_mode, bool count_include_pad,
                         int64_t divisor_override, int64_t dims) {
                 return PoolParams{kernel, stride, padding, dilation, ceil_mode, count_include_pad,
                                   divisor_override, dims};
             }),
             py::arg("kernel"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
             py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("dims"))
        .def_readonly("dims", &PoolParams::dims);

    m.def("max_pool2d_forward", &max_pool2d_forward, py::arg("x"), py::arg("p"), nogil());
    m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("dout"), py::arg("indices"), py::arg("x"),
          py::arg("dims"), nogil());
    m.def("max_pool2d_is_2x2", &max_pool2d_is_2x2, py::arg("x"), py::arg("p"));
    m.def("max_pool2d_2x2_forward", &max_pool2d_2x2_forward, py::arg("x"), nogil());
    m.def("max_pool2d_2x2_backward", &max_pool2d_2x2_backward, py::arg("dout"), py::arg("x"), nogil());
    m.def("avg_pool2d_forward", &avg_pool2d_forward, py::arg("x"), py::arg("p"), nogil());
    m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("dout"), py::arg("x"), py::arg("p"), nogil());
    m.def("adaptive_avg_pool2d_forward", &adaptive_avg_pool2d_forward, py::arg("x"), py::arg("output_size"),
          nogil());
    m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward, py::arg("dout"), py::arg("x"),
          nogil());
    m.def("adaptive_max_pool2d_forward", &adaptive_max_pool2d_forward, py::arg("x"), py::arg("output_size"),
          nogil());
}

}  // namespace lamina::bind
