// Bindings for the fused losses (cpp/ops/loss.h): cross-entropy, NLL and the pointwise losses,
// GIL released. `reduction` is 0 none, 1 mean, 2 sum; `kind` is a PointwiseLoss.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/loss.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_loss(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("cross_entropy_forward", &cross_entropy_forward, py::arg("logits"), py::arg("target"),
          py::arg("weight"), py::arg("ignore_index"), py::arg("label_smoothing"), py::arg("reduction"), nogil());
    m.def("cross_entropy_backward", &cross_entropy_backward, py::arg("dout"), py::arg("logits"),
          py::arg("target"), py::arg("weight"), py::arg("lse"), py::arg("denom"), py::arg("ignore_index"),
          py::arg("label_smoothing"), py::arg("reduction"), nogil());
    m.def("cross_entropy_prob_forward", &cross_entropy_prob_forward, py::arg("logits"), py::arg("target"),
          py::arg("weight"), py::arg("label_smoothing"), py::arg("reduction"), nogil());
    m.def("cross_entropy_prob_backward", &cross_entropy_prob_backward, py::arg("dout"), py::arg("logits"),
          py::arg("target"), py::arg("weight"), py::arg("lse"), py::arg("label_smoothing"),
          py::arg("reduction"), py::arg("need_logits"), py::arg("need_target"), nogil());
    m.def("nll_forward", &nll_forward, py::arg("log_probs"), py::arg("target"), py::arg("weight"),
          py::arg("ignore_index"), py::arg("reduction"), nogil());
    m.def("nll_backward", &nll_backward, py::arg("dout"), py::arg("log_probs"), py::arg("target"),
          py::arg("weight"), py::arg("denom"), py::arg("ignore_index"), py::arg("reduction"), nogil());
    m.def("pointwise_loss_forward", &pointwise_loss_forward, py::arg("kind"), py::arg("input"),
          py::arg("target"), py::arg("weight"), py::arg("pos_weight"), py::arg("param"), py::arg("reduce"),
          py::arg("divisor"), nogil());
    m.def("pointwise_loss_backward", &pointwise_loss_backward, py::arg("kind"), py::arg("dout"),
          py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("pos_weight"), py::arg("param"),
          py::arg("reduce"), py::arg("divisor"), py::arg("need_input"), py::arg("need_target"), nogil());
}

}  // namespace lamina::bind
