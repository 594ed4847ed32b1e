// Bindings for the optim op family: one m.def per C++ function, GIL released. No logic here.
// Tensor lists arrive as std::vector<Tensor> of handles sharing storage, so in-place updates
// reach the Python tensors.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/optim.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_optim(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("sgd_step", &sgd_step, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"),
          py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"),
          py::arg("nesterov"), py::arg("maximize"), py::arg("first_step"), nogil());
    m.def("adam_step", &adam_step, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
          py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"), py::arg("steps"), py::arg("lr"),
          py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
          py::arg("amsgrad"), py::arg("decoupled_weight_decay"), py::arg("maximize"), nogil());
    m.def("rmsprop_step", &rmsprop_step, py::arg("params"), py::arg("grads"),
          py::arg("square_avgs"), py::arg("grad_avgs"), py::arg("momentum_buffers"), py::arg("lr"),
          py::arg("alpha"), py::arg("eps"), py::arg("weight_decay"), py::arg("momentum"),
          py::arg("centered"), py::arg("maximize"), nogil());
    m.def("adagrad_step", &adagrad_step, py::arg("params"), py::arg("grads"),
          py::arg("state_sums"), py::arg("steps"), py::arg("lr"), py::arg("lr_decay"),
          py::arg("weight_decay"), py::arg("eps"), py::arg("maximize"), nogil());
    m.def("multi_tensor_norm", &multi_tensor_norm, py::arg("tensors"), py::arg("norm_type"),
          nogil());
    m.def("multi_tensor_scale_", &multi_tensor_scale_, py::arg("tensors"), py::arg("factor"),
          nogil());
    m.def("multi_tensor_clamp_", &multi_tensor_clamp_, py::arg("tensors"), py::arg("lo"),
          py::arg("hi"), nogil());
}

}  // namespace lamina::bind
