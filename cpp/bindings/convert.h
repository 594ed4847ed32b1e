// Small conversions shared by the binding files: device strings and numpy dtypes.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "../core/tensor.h"

namespace lamina::bind {

Device parse_device(const std::string& s);
pybind11::dtype to_numpy_dtype(DType d);
// TypeError for numpy dtypes lamina cannot hold without conversion.
DType from_numpy_dtype(const pybind11::dtype& d);

}  // namespace lamina::bind
