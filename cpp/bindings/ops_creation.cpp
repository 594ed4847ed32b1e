// Bindings for tensor creation and in-place random fills (cpp/ops/creation.h), GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/creation.h"
#include "bindings.h"
#include "convert.h"

namespace py = pybind11;

namespace lamina::bind {

void register_creation(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    m.def("fill_", &fill_, py::arg("t"), py::arg("value"), nogil());
    m.def(
        "arange",
        [](double s, double e, double st, DType dt, const std::string& dev) {
            const Device d = parse_device(dev);
            py::gil_scoped_release nogil;
            return arange(s, e, st, dt, d);
        },
        py::arg("start"), py::arg("end"), py::arg("step"), py::arg("dtype"), py::arg("device"));
    m.def("uniform_", &uniform_, py::arg("t"), py::arg("low"), py::arg("high"), nogil());
    m.def("normal_", &normal_, py::arg("t"), py::arg("mean"), py::arg("std"), nogil());
    m.def("randint_", &randint_, py::arg("t"), py::arg("low"), py::arg("high"), nogil());
    m.def("bernoulli_", &bernoulli_, py::arg("t"), py::arg("p"), nogil());
}

}  // namespace lamina::bind
