// Bindings for the reduce op family (reductions, softmax, losses): one m.def per C++ function,
// GIL released. No logic here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/loss.h"
#include "../ops/reduce.h"
#include "../ops/softmax.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_reduce(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    // reductions
    m.def("sum_forward", &sum_forward, nogil());
    m.def("mean_forward", &mean_forward, nogil());
    m.def("sum_backward", &sum_backward, nogil());
    m.def("sum_to", &sum_to, nogil());
    m.def("prod_forward", &prod_forward, nogil());
    m.def("prod_backward", &prod_backward, nogil());
    m.def("max_dim_forward", &max_dim_forward, nogil());
    m.def("max_dim_backward", &max_dim_backward, nogil());
    m.def("amax_forward", &amax_forward, nogil());
    m.def("amax_backward", &amax_backward, nogil());
    m.def("argmax_forward", &argmax_forward, nogil());
    m.def("var_forward", &var_forward, nogil());
    m.def("var_backward", &var_backward, nogil());
    m.def("logsumexp_forward", &logsumexp_forward, nogil());
    m.def("logsumexp_backward", &logsumexp_backward, nogil());
    m.def("any_forward", &any_forward, nogil());
    // softmax family
    m.def("softmax_forward", &softmax_forward, nogil());
    m.def("softmax_backward", &softmax_backward, nogil());
    // losses
    m.def("cross_entropy_forward", &cross_entropy_forward, nogil());
    m.def("cross_entropy_backward", &cross_entropy_backward, nogil());
    m.def("cross_entropy_prob_forward", &cross_entropy_prob_forward, nogil());
    m.def("cross_entropy_prob_backward", &cross_entropy_prob_backward, nogil());
    m.def("nll_forward", &nll_forward, nogil());
    m.def("nll_backward", &nll_backward, nogil());
    m.def("pointwise_loss_forward", &pointwise_loss_forward, nogil());
    m.def("pointwise_loss_backward", &pointwise_loss_backward, nogil());
}

}  // namespace lamina::bind
