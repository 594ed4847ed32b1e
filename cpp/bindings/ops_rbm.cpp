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
    m.def("rbm_sample_bernoulli", &rbm_sample_bernoulli, py::arg("p"), nogil());
    m.def("rbm_noise", &rbm_noise, py::arg("n"), py::arg("seed"), py::arg("offset"), py::arg("normal"),
          py::arg("dtype"), nogil());
    m.def("rbm_cd_step", &rbm_cd_step, py::arg("v0"), py::arg("W"), py::arg("vbias"), py::arg("hbias"),
          py::arg("k"), py::arg("chain"), py::arg("gaussian"), nogil());
}

}  // namespace lamina::bind
