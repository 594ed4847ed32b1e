// Bindings for convolution and transposed convolution (cpp/ops/conv2d.h, conv_transpose2d.h):
// one m.def per C++ function, GIL released. No logic here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/conv2d.h"
#include "../ops/conv_transpose2d.h"
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

    m.def("conv2d_forward", &conv2d_forward, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("p"), nogil());
    m.def("conv2d_backward", &conv2d_backward, py::arg("dout"), py::arg("x"), py::arg("w"), py::arg("p"),
          py::arg("need_dx"), py::arg("need_dw"), py::arg("need_db"), nogil());
    m.def("conv_transpose2d_forward", &conv_transpose2d_forward, py::arg("x"), py::arg("w"), py::arg("b"),
          py::arg("p"), nogil());
    m.def("conv_transpose2d_backward", &conv_transpose2d_backward, py::arg("dout"), py::arg("x"), py::arg("w"),
          py::arg("p"), py::arg("need_dx"), py::arg("need_dw"), py::arg("need_db"), nogil());
}

}  // namespace lamina::bind
