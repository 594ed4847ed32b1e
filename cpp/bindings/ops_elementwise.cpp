// Bindings for the elementwise op family (cpp/ops/elementwise.h, and the plain add kernel of
// cpp/ops/binary.h): one m.def per C++ function, GIL released. No logic here beyond turning
// gradients nobody asked for (undefined tensors) into None.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "../ops/binary.h"
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

    m.def("add_forward", &add_forward, py::arg("a"), py::arg("b"), py::arg("alpha"), nogil());
    m.def("result_type", &result_type, py::arg("a"), py::arg("b"));
    m.def("binary_forward", &binary_forward, py::arg("a"), py::arg("b"), py::arg("op"), py::arg("alpha"),
          nogil());
    m.def("binary_scalar_forward", &binary_scalar_forward, py::arg("a"), py::arg("s"), py::arg("op"),
          py::arg("reverse"), py::arg("dt"), py::arg("alpha"), nogil());
    m.def("binary_", &binary_, py::arg("a"), py::arg("b"), py::arg("op"), py::arg("alpha"), nogil());
    m.def("binary_scalar_", &binary_scalar_, py::arg("a"), py::arg("s"), py::arg("op"), py::arg("reverse"),
          py::arg("alpha"), nogil());
    m.def(
        "binary_backward",
        [](const Tensor& d, const Tensor& a, const Tensor& b, const Tensor& o, BinaryOp op, double alpha,
           bool na, bool nb) {
            std::pair<Tensor, Tensor> r;
            {
                py::gil_scoped_release g;
                r = binary_backward(d, a, b, o, op, alpha, na, nb);
            }
            return opt(r);
        },
        py::arg("dout"), py::arg("a"), py::arg("b"), py::arg("out"), py::arg("op"), py::arg("alpha"),
        py::arg("need_a"), py::arg("need_b"));
    m.def("binary_scalar_backward", &binary_scalar_backward, py::arg("dout"), py::arg("a"), py::arg("s"),
          py::arg("out"), py::arg("op"), py::arg("reverse"), py::arg("alpha"), nogil());
    m.def("sum_to_shape", &sum_to_shape, py::arg("g"), py::arg("shape"), nogil());
    m.def("unary_forward", &unary_forward, py::arg("x"), py::arg("op"), nogil());
    m.def("unary_", &unary_, py::arg("x"), py::arg("op"), nogil());
    m.def("unary_backward", &unary_backward, py::arg("dout"), py::arg("x"), py::arg("out"), py::arg("op"),
          nogil());
    m.def("clamp_forward", &clamp_forward, py::arg("x"), py::arg("lo"), py::arg("hi"), py::arg("has_lo"),
          py::arg("has_hi"), nogil());
    m.def("clamp_", &clamp_, py::arg("x"), py::arg("lo"), py::arg("hi"), py::arg("has_lo"), py::arg("has_hi"),
          nogil());
    m.def("clamp_backward", &clamp_backward, py::arg("dout"), py::arg("x"), py::arg("lo"), py::arg("hi"),
          py::arg("has_lo"), py::arg("has_hi"), nogil());
    m.def("where_forward", &where_forward, py::arg("cond"), py::arg("x"), py::arg("y"), nogil());
    m.def(
        "where_backward",
        [](const Tensor& d, const Tensor& c, const Shape& xs, DType xd, const Shape& ys, DType yd, bool nx,
           bool ny) {
            std::pair<Tensor, Tensor> r;
            {
                py::gil_scoped_release g;
                r = where_backward(d, c, xs, xd, ys, yd, nx, ny);
            }
            return opt(r);
        },
        py::arg("dout"), py::arg("cond"), py::arg("x_shape"), py::arg("x_dtype"), py::arg("y_shape"),
        py::arg("y_dtype"), py::arg("need_x"), py::arg("need_y"));
    m.def("all_finite", &all_finite, py::arg("x"), nogil());
}

}  // namespace lamina::bind
