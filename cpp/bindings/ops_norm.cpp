// Bindings for batch and layer normalisation (cpp/ops/norm.h), GIL released around every kernel.
// Gradients a backward skipped (undefined tensors) come back to Python as None.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/norm.h"
#include "bindings.h"
#include "grads.h"

namespace py = pybind11;

namespace lamina::bind {

void register_norm(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    using OptT = std::optional<Tensor>;
    m.def("batch_norm_forward", &batch_norm_forward, py::arg("x"), py::arg("running_mean"),
          py::arg("running_var"), py::arg("weight"), py::arg("bias"), py::arg("training"), py::arg("momentum"),
          py::arg("eps"), nogil());
    m.def(
        "batch_norm_backward",
        [](const Tensor& d, const Tensor& x, const OptT& w, const Tensor& mean, const Tensor& invstd,
           bool training, bool nx, bool nw, bool nb) {
            return grads([&] { return batch_norm_backward(d, x, w, mean, invstd, training, nx, nw, nb); });
        },
        py::arg("dout"), py::arg("x"), py::arg("weight"), py::arg("save_mean"), py::arg("save_invstd"),
        py::arg("training"), py::arg("need_x"), py::arg("need_w"), py::arg("need_b"));
    m.def("layer_norm_forward", &layer_norm_forward, py::arg("x"), py::arg("normalized_shape"),
          py::arg("weight"), py::arg("bias"), py::arg("eps"), nogil());
    m.def(
        "layer_norm_backward",
        [](const Tensor& d, const Tensor& x, const Shape& ns, const OptT& w, const Tensor& mean,
           const Tensor& rstd, bool nx, bool nw, bool nb) {
            return grads([&] { return layer_norm_backward(d, x, ns, w, mean, rstd, nx, nw, nb); });
        },
        py::arg("dout"), py::arg("x"), py::arg("normalized_shape"), py::arg("weight"), py::arg("mean"),
        py::arg("rstd"), py::arg("need_x"), py::arg("need_w"), py::arg("need_b"));
}

}  // namespace lamina::bind
