// Bindings for the RBM kernels (cpp/ops/rbm.h): sampling and the contrastive-divergence step,
// all with the GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/rbm.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_rbm(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("rbm_sample_bernoulli", &rbm_sample_bernoulli, nogil());
    m.def("rbm_noise", &rbm_noise, nogil());
    m.def("rbm_cd_step", &rbm_cd_step, nogil());
}

}  // namespace lamina::bind
