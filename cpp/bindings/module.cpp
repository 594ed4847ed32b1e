// lamina._C: the compiled core. Only submodule wiring and register_* calls live here. Types
// (DType, the op enums, ConvParams, PoolParams) register before the functions that take them, so
// signatures and stubs name them.
#include "bindings.h"

#include "../core/blas.h"

PYBIND11_MODULE(_C, m) {
    m.doc() = "lamina's C++ core: tensors, kernels, BLAS and threads";
    lamina::blas_init();
    namespace b = lamina::bind;
    b::register_errors(m);
    b::register_runtime(m);
    b::register_tensor(m);
    b::register_creation(m);
    b::register_elementwise(m);
    b::register_activation(m);
    b::register_matmul(m);
    b::register_linear(m);
    b::register_reduce(m);
    b::register_softmax(m);
    b::register_loss(m);
    b::register_conv(m);
    b::register_pool(m);
    b::register_indexing(m);
    b::register_embedding(m);
    b::register_dropout(m);
    b::register_norm(m);
    b::register_rbf(m);
    b::register_optim(m);
    b::register_rbm(m);
    b::register_rnn(m);
    b::register_attention(m);
}
