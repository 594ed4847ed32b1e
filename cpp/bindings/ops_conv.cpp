// Bindings for the conv op family: one m.def per C++ function, GIL released. No logic here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/conv2d.h"
#include "../ops/conv_transpose2d.h"
#include "../ops/pool.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_conv(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    using A2 = std::array<int64_t, 2>;
    py::class_<ConvParams>(m, "ConvParams")
        .def(py::init([](A2 stride, A2 padding, A2 dilation, A2 output_padding, int64_t groups, int64_t dims) {
                 return ConvParams{stride, padding, dilation, output_padding, groups, dims};
             }),
             py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("output_padding"),
             py::arg("groups"), py::arg("dims"))
        .def_readonly("stride", &ConvParams::stride)
        .def_readonly("padding", &ConvParams::padding)
        .def_readonly("dilation", &ConvParams::dilation)
        .def_readonly("output_padding", &ConvParams::output_padding)
        .def_readonly("groups", &ConvParams::groups)
        .def_readonly("dims", &ConvParams::dims);
    py::class_<PoolParams>(m, "PoolParams")
        .def(py::init([](A2 kernel, A2 stride, A2 padding, A2 dilation, bool ceil_mode, bool count_include_pad,
                         int64_t divisor_override, int64_t dims) {
                 return PoolParams{kernel, stride, padding, dilation, ceil_mode, count_include_pad,
                                   divisor_override, dims};
             }),
             py::arg("kernel"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
             py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("dims"))
        .def_readonly("dims", &PoolParams::dims);

    m.def("conv2d_forward", &conv2d_forward, nogil());
    m.def("conv2d_backward", &conv2d_backward, nogil());
    m.def("conv_transpose2d_forward", &conv_transpose2d_forward, nogil());
    m.def("conv_transpose2d_backward", &conv_transpose2d_backward, nogil());

    m.def("max_pool2d_forward", &max_pool2d_forward, nogil());
    m.def("max_pool2d_backward", &max_pool2d_backward, nogil());
    m.def("max_pool2d_is_2x2", &max_pool2d_is_2x2);
    m.def("max_pool2d_2x2_forward", &max_pool2d_2x2_forward, nogil());
    m.def("max_pool2d_2x2_backward", &max_pool2d_2x2_backward, nogil());
    m.def("avg_pool2d_forward", &avg_pool2d_forward, nogil());
    m.def("avg_pool2d_backward", &avg_pool2d_backward, nogil());
    m.def("adaptive_avg_pool2d_forward", &adaptive_avg_pool2d_forward, nogil());
    m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward, nogil());
    m.def("adaptive_max_pool2d_forward", &adaptive_max_pool2d_forward, nogil());
}

}  // namespace lamina::bind
