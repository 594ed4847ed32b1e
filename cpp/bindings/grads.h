// Helpers shared by the op binding files: gradients a backward skipped (undefined tensors) come
// back to Python as None, and backwards run with the GIL released.
#pragma once
#include <pybind11/pybind11.h>

#include <tuple>
#include <utility>

#include "../core/tensor.h"

namespace lamina::bind {

inline pybind11::object maybe(const Tensor& t) { return t.defined() ? pybind11::cast(t) : pybind11::none(); }

// Runs a backward without the GIL, then hands its tuple (or pair) of tensors to Python with None
// for gaps.
template <class F>
pybind11::tuple grads(F&& f) {
    decltype(f()) r;
    {
        pybind11::gil_scoped_release nogil;
        r = f();
    }
    return std::apply([](const auto&... t) { return pybind11::make_tuple(maybe(t)...); }, r);
}

}  // namespace lamina::bind
