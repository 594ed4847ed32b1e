// Bindings for the elementwise op family: one m.def per C++ function, GIL released. No logic here
// beyond turning gradients nobody asked for (undefined tensors) into None.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "../ops/activation.h"
#include "../ops/elementwise.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

namespace {

using OptPair = std::pair<std::optional<Tensor>, std::optional<Tensor>>;

OptPair opt(std::pair<Tensor, Tensor> p) {
    return {p.first.defined() ? std::optional<Tensor>(p.first) : std::nullopt,
            p.second.defined() ? std::optional<Tensor>(p.second) : std::nullopt};
}

}  // namespace

void register_elementwise(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    py::enum_<BinaryOp>(m, "BinaryOp")
        .value("add", BinaryOp::Add).value("sub", BinaryOp::Sub).value("mul", BinaryOp::Mul)
        .value("div", BinaryOp::Div).value("pow", BinaryOp::Pow).value("maximum", BinaryOp::Maximum)
        .value("minimum", BinaryOp::Minimum).value("eq", BinaryOp::Eq).value("ne", BinaryOp::Ne)
        .value("lt", BinaryOp::Lt).value("le", BinaryOp::Le).value("gt", BinaryOp::Gt)
        .value("ge", BinaryOp::Ge).value("logical_and", BinaryOp::LogicalAnd)
        .value("logical_or", BinaryOp::LogicalOr);
    py::enum_<UnaryOp>(m, "UnaryOp")
        .value("neg", UnaryOp::Neg).value("exp", UnaryOp::Exp).value("log", UnaryOp::Log)
        .value("sqrt", UnaryOp::Sqrt).value("abs", UnaryOp::Abs).value("sin", UnaryOp::Sin)
        .value("cos", UnaryOp::Cos).value("square", UnaryOp::Square)
        .value("reciprocal", UnaryOp::Reciprocal).value("sign", UnaryOp::Sign)
        .value("logical_not", UnaryOp::LogicalNot).value("isnan", UnaryOp::IsNan)
        .value("isfinite", UnaryOp::IsFinite);
    py::enum_<Act>(m, "Act")
        .value("identity", Act::Identity).value("sigmoid", Act::Sigmoid)
        .value("bipolar_sigmoid", Act::BipolarSigmoid).value("tanh", Act::Tanh).value("relu", Act::Relu)
        .value("leaky_relu", Act::LeakyRelu).value("elu", Act::Elu).value("softplus", Act::Softplus)
        .value("gelu", Act::Gelu).value("gelu_tanh", Act::GeluTanh).value("step_ste", Act::StepSte)
        .value("step_sigmoid", Act::StepSigmoid);

    m.def("result_type", &result_type);
    m.def("binary_forward", &binary_forward, nogil());
    m.def("binary_scalar_forward", &binary_scalar_forward, nogil());
    m.def("binary_", &binary_, nogil());
    m.def("binary_scalar_", &binary_scalar_, nogil());
    m.def("binary_backward", [](const Tensor& d, const Tensor& a, const Tensor& b, const Tensor& o, BinaryOp op,
                                double alpha, bool na, bool nb) {
        std::pair<Tensor, Tensor> r;
        {
            py::gil_scoped_release g;
            r = binary_backward(d, a, b, o, op, alpha, na, nb);
        }
        return opt(r);
    });
    m.def("binary_scalar_backward", &binary_scalar_backward, nogil());
    m.def("sum_to_shape", &sum_to_shape, nogil());
    m.def("unary_forward", &unary_forward, nogil());
    m.def("unary_", &unary_, nogil());
    m.def("unary_backward", &unary_backward, nogil());
    m.def("clamp_forward", &clamp_forward, nogil());
    m.def("clamp_", &clamp_, nogil());
    m.def("clamp_backward", &clamp_backward, nogil());
    m.def("where_forward", &where_forward, nogil());
    m.def("where_backward", [](const Tensor& d, const Tensor& c, const Shape& xs, DType xd, const Shape& ys,
                               DType yd, bool nx, bool ny) {
        std::pair<Tensor, Tensor> r;
        {
            py::gil_scoped_release g;
            r = where_backward(d, c, xs, xd, ys, yd, nx, ny);
        }
        return opt(r);
    });
    m.def("all_finite", &all_finite, nogil());
    m.def("activation_saves_output", &activation_saves_output);
    m.def("activation_forward", &activation_forward, nogil());
    m.def("activation_", &activation_, nogil());
    m.def("activation_backward", &activation_backward, nogil());
}

}  // namespace lamina::bind
