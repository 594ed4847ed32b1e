// Bindings for the optim op family: one m.def per C++ function, GIL released. No logic here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_optim(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    (void)m;
    (void)sizeof(nogil);
}

}  // namespace lamina::bind
