// lamina._C: the compiled core. Only submodule wiring and register_* calls live here. Types
// (DType, the op enums, ConvParams, PoolParams) register before the functions that take them, so
// signatures and stubs name them.
#include "bindings.h"

#include "../core/blas.h"

// One module per CPU level (cmake/cpu_variants.cmake): the generated header names it _C_<level>
// and says how it was compiled (lamina.show_config prints it).
#if __has_include("lamina_build_info.h")
#include "lamina_build_info.h"
#else
#define LAMINA_MODULE_NAME _C
#define LAMINA_CPU_VARIANT "unknown"
#define LAMINA_BUILD_COMPILER "unknown"
#define LAMINA_BUILD_FLAGS "unknown"
#endif

PYBIND11_MODULE(LAMINA_MODULE_NAME, m) {
    m.doc() = "lamina's C++ core: tensors, kernels, BLAS and threads";
#ifdef _OPENMP
    m.attr("_build_info") = pybind11::make_tuple(LAMINA_CPU_VARIANT, LAMINA_BUILD_COMPILER,
                                                 LAMINA_BUILD_FLAGS, _OPENMP);
#else
    m.attr("_build_info") = pybind11::make_tuple(LAMINA_CPU_VARIANT, LAMINA_BUILD_COMPILER,
                                                 LAMINA_BUILD_FLAGS, 0);
#endif
    lamina::blas_init();
    namespace b = lamina::bind;
    b::register_errors(m);
    b::register_runtime(m);
    b::register_probe(m);
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
    b::register_htm(m);
}
