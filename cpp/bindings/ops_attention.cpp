// Bindings for fused scaled dot-product attention (cpp/ops/attention.h), GIL released.
// Gradients the backward skipped (undefined tensors) come back to Python as None.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/attention.h"
#include "bindings.h"
#include "grads.h"

namespace py = pybind11;

namespace lamina::bind {

void register_attention(py::module_& m) {
    using OptT = std::optional<Tensor>;
    m.def("sdpa_forward", [](const Tensor& q, const Tensor& k, const Tensor& v, const OptT& mask, double p,
                             bool causal, double scale, bool ret_w, bool safe, const OptT& out) {
        std::tuple<Tensor, Tensor, Tensor, uint64_t, uint64_t> r;
        {
            py::gil_scoped_release nogil;
            r = sdpa_forward(q, k, v, mask, p, causal, scale, ret_w, safe, out);
        }
        return py::make_tuple(std::get<0>(r), std::get<1>(r), maybe(std::get<2>(r)), std::get<3>(r),
                              std::get<4>(r));
    }, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask"), py::arg("dropout_p"), py::arg("is_causal"),
          py::arg("scale"), py::arg("return_weights"), py::arg("safe_softmax"), py::arg("out") = py::none());
    m.def("sdpa_backward", [](const Tensor& d, const OptT& dw, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& probs, double p, uint64_t seed, uint64_t offset, double scale, bool nq,
                              bool nk, bool nv, bool nm, const OptT& dq, const OptT& dk, const OptT& dv) {
        std::tuple<Tensor, Tensor, Tensor, Tensor> r;
        {
            py::gil_scoped_release nogil;
            r = sdpa_backward(d, dw, q, k, v, probs, p, seed, offset, scale, nq, nk, nv, nm, dq, dk, dv);
        }
        return py::make_tuple(maybe(std::get<0>(r)), maybe(std::get<1>(r)), maybe(std::get<2>(r)),
                              maybe(std::get<3>(r)));
    }, py::arg("dout"), py::arg("dweights"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("probs"),
          py::arg("dropout_p"), py::arg("seed"), py::arg("offset"), py::arg("scale"), py::arg("need_q"),
          py::arg("need_k"), py::arg("need_v"), py::arg("need_mask"), py::arg("dq_into") = py::none(),
          py::arg("dk_into") = py::none(), py::arg("dv_into") = py::none());
}

}  // namespace lamina::bind
