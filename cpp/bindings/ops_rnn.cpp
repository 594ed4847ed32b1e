// Bindings for the recurrent kernels (cpp/ops/rnn.h): whole-sequence forward and backward through
// time (also used for single cells), with the GIL released. Undefined tensors come back as None.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/rnn.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

namespace {

// A list of tensors as a Python tuple, None where a tensor is undefined (c_n of non-lstm modes,
// gradients nobody asked for).
py::tuple to_tuple(const std::vector<Tensor>& v) {
    py::tuple t(v.size());
    for (size_t i = 0; i < v.size(); ++i) t[i] = v[i].defined() ? py::cast(v[i]) : py::none();
    return t;
}

}  // namespace

void register_rnn(py::module_& m) {
    using OptT = std::optional<Tensor>;
    m.def("rnn_sequence_forward", [](const std::string& mode, const Tensor& x, const Tensor& hx, const OptT& cx,
                                     const Tensor& w_ih, const Tensor& w_hh, const OptT& b_ih, const OptT& b_hh,
                                     const OptT& lengths, bool reverse) {
        std::vector<Tensor> r;
        {
            py::gil_scoped_release nogil;
            r = rnn_sequence_forward(mode, x, hx, cx, w_ih, w_hh, b_ih, b_hh, lengths, reverse);
        }
        return to_tuple(r);
    }, py::arg("mode"), py::arg("x"), py::arg("hx"), py::arg("cx"), py::arg("w_ih"), py::arg("w_hh"),
          py::arg("b_ih"), py::arg("b_hh"), py::arg("lengths"), py::arg("reverse"));
    m.def("rnn_sequence_backward", [](const std::string& mode, const OptT& dout, const OptT& dh_n, const OptT& dc_n,
                                      const std::vector<Tensor>& saved, const Tensor& w_ih, const Tensor& w_hh,
                                      const OptT& lengths, bool reverse, const std::vector<bool>& needs) {
        std::vector<Tensor> r;
        {
            py::gil_scoped_release nogil;
            r = rnn_sequence_backward(mode, dout, dh_n, dc_n, saved, w_ih, w_hh, lengths, reverse, needs);
        }
        return to_tuple(r);
    }, py::arg("mode"), py::arg("dout"), py::arg("dh_n"), py::arg("dc_n"), py::arg("saved"), py::arg("w_ih"),
          py::arg("w_hh"), py::arg("lengths"), py::arg("reverse"), py::arg("needs"));
}

}  // namespace lamina::bind
