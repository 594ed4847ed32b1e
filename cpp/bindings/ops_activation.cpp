// Bindings for the activation functions (cpp/ops/activation.h): one m.def per C++ function,
// GIL released. p0/p1 are the activation's parameters (negative_slope, alpha, beta, threshold).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/activation.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_activation(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    py::enum_<Act>(m, "Act")
        .value("identity", Act::Identity).value("sigmoid", Act::Sigmoid)
        .value("bipolar_sigmoid", Act::BipolarSigmoid).value("tanh", Act::Tanh).value("relu", Act::Relu)
        .value("leaky_relu", Act::LeakyRelu).value("elu", Act::Elu).value("softplus", Act::Softplus)
        .value("gelu", Act::Gelu).value("gelu_tanh", Act::GeluTanh).value("step_ste", Act::StepSte)
        .value("step_sigmoid", Act::StepSigmoid);

    m.def("activation_saves_output", &activation_saves_output, py::arg("act"));
    m.def("activation_forward", &activation_forward, py::arg("x"), py::arg("act"), py::arg("p0"), py::arg("p1"),
          nogil());
    m.def("activation_", &activation_, py::arg("x"), py::arg("act"), py::arg("p0"), py::arg("p1"), nogil());
    m.def("activation_backward", &activation_backward, py::arg("dout"), py::arg("saved"), py::arg("act"),
          py::arg("p0"), py::arg("p1"), nogil());
}

}  // namespace lamina::bind
