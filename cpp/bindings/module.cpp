// lamina._C: the compiled core. Only submodule wiring and register_* calls live here.
#include "bindings.h"

#include "../core/blas.h"

PYBIND11_MODULE(_C, m) {
    m.doc() = "lamina's C++ core: tensors, kernels, BLAS and threads";
    lamina::blas_init();
    lamina::bind::register_errors(m);
    lamina::bind::register_runtime(m);
    lamina::bind::register_tensor(m);
    lamina::bind::register_ops(m);
    lamina::bind::register_elementwise(m);
    lamina::bind::register_reduce(m);
    lamina::bind::register_conv(m);
    lamina::bind::register_nn(m);
    lamina::bind::register_optim(m);
    lamina::bind::register_rbm(m);
    lamina::bind::register_rnn(m);
    lamina::bind::register_attention(m);
}
