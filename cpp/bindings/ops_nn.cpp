// Bindings for the nn op family: one m.def per C++ function, GIL released around the kernel.
// Gradients a backward skipped (undefined tensors) come back to Python as None.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../ops/dropout.h"
#include "../ops/embedding.h"
#include "../ops/indexing.h"
#include "../ops/linear.h"
#include "../ops/matmul.h"
#include "../ops/norm.h"
#include "../ops/rbf.h"
#include "bindings.h"

namespace py = pybind11;

namespace lamina::bind {

namespace {

py::object maybe(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }

// Runs a backward without the GIL, then hands its tuple of tensors to Python with None for gaps.
template <class F>
py::tuple grads(F&& f) {
    decltype(f()) r;
    {
        py::gil_scoped_release nogil;
        r = f();
    }
    return std::apply([](const auto&... t) { return py::make_tuple(maybe(t)...); }, r);
}

}  // namespace

void register_nn(py::module_& m) {
    using nogil = py::call_guard<py::gil_scoped_release>;
    using OptT = std::optional<Tensor>;
    // matmul / linear
    m.def("matmul_backward", [](const Tensor& d, const Tensor& a, const Tensor& b, bool na, bool nb) {
        return grads([&] { return matmul_backward(d, a, b, na, nb); });
    });
    m.def("linear_forward", &linear_forward, nogil());
    m.def("linear_backward", [](const Tensor& d, const Tensor& x, const Tensor& w, bool nx, bool nw, bool nb) {
        return grads([&] { return linear_backward(d, x, w, nx, nw, nb); });
    });
    // indexing
    m.def("cat_forward", &cat_forward, nogil());
    m.def("index_forward", &index_forward, nogil());
    m.def("index_backward", &index_backward, nogil());
    m.def("index_put_", &index_put_, nogil());
    m.def("gather_forward", &gather_forward, nogil());
    m.def("gather_backward", &gather_backward, nogil());
    m.def("scatter_add_", &scatter_add_, nogil());
    // embedding, dropout
    m.def("embedding_forward", &embedding_forward, nogil());
    m.def("embedding_backward", &embedding_backward, py::arg("dout"), py::arg("indices"), py::arg("num_weights"),
          py::arg("padding_idx"), py::arg("scale_grad_by_freq") = false, nogil());
    m.def("embedding_renorm_", &embedding_renorm_, nogil());
    m.def("dropout_forward", &dropout_forward, nogil());
    m.def("dropout_backward", &dropout_backward, nogil());
    m.def("dropout_mask", &dropout_mask, nogil());
    // normalisation
    m.def("batch_norm_forward", &batch_norm_forward, nogil());
    m.def("batch_norm_backward", [](const Tensor& d, const Tensor& x, const OptT& w, const Tensor& mean,
                                    const Tensor& invstd, bool training, bool nx, bool nw, bool nb) {
        return grads([&] { return batch_norm_backward(d, x, w, mean, invstd, training, nx, nw, nb); });
    });
    m.def("layer_norm_forward", &layer_norm_forward, nogil());
    m.def("layer_norm_backward", [](const Tensor& d, const Tensor& x, const Shape& ns, const OptT& w,
                                    const Tensor& mean, const Tensor& rstd, bool nx, bool nw, bool nb) {
        return grads([&] { return layer_norm_backward(d, x, ns, w, mean, rstd, nx, nw, nb); });
    });
    // RBF / conic section units
    m.def("rbf_forward", &rbf_forward, nogil());
    m.def("rbf_backward", [](const Tensor& d, const Tensor& x, const Tensor& c, const Tensor& w, const Tensor& out,
                             bool nx, bool nc, bool nw) {
        return grads([&] { return rbf_backward(d, x, c, w, out, nx, nc, nw); });
    });
    m.def("conic_forward", &conic_forward, nogil());
    m.def("conic_backward", [](const Tensor& d, const Tensor& x, const Tensor& w, const Tensor& c, const Tensor& om,
                               bool nx, bool nw, bool nc, bool no) {
        return grads([&] { return conic_backward(d, x, w, c, om, nx, nw, nc, no); });
    });
}

}  // namespace lamina::bind
