// Registration functions for each part of the _C module, one per bindings/*.cpp file. Op bindings
// mirror cpp/ops: ops_<family>.cpp binds cpp/ops/<family>.h (tests in tests/ops/test_<family>.py).
#pragma once
#include <pybind11/pybind11.h>

namespace lamina::bind {

void register_errors(pybind11::module_& m);       // errors.cpp: C++ exceptions -> Python exceptions
void register_runtime(pybind11::module_& m);      // runtime.cpp: threads, seeding, BLAS, CUDA
void register_probe(pybind11::module_& m);        // probe.cpp: measured single-core FMA peak
void register_tensor(pybind11::module_& m);       // tensor.cpp: DType, Tensor, numpy exchange
void register_creation(pybind11::module_& m);     // ops_creation.cpp: fill_, arange, random fills
void register_elementwise(pybind11::module_& m);  // ops_elementwise.cpp: binary/unary ops, clamp, where
void register_activation(pybind11::module_& m);   // ops_activation.cpp: Act and the activation kernels
void register_matmul(pybind11::module_& m);       // ops_matmul.cpp: matmul, gemm_into
void register_linear(pybind11::module_& m);       // ops_linear.cpp: fused linear layer
void register_reduce(pybind11::module_& m);       // ops_reduce.cpp: sum, mean, prod, max, var, ...
void register_softmax(pybind11::module_& m);      // ops_softmax.cpp: softmax, log-softmax
void register_loss(pybind11::module_& m);         // ops_loss.cpp: cross-entropy, NLL, pointwise losses
void register_conv(pybind11::module_& m);         // ops_conv.cpp: ConvParams, conv2d, conv_transpose2d
void register_pool(pybind11::module_& m);         // ops_pool.cpp: PoolParams, max/avg/adaptive pooling
void register_indexing(pybind11::module_& m);     // ops_indexing.cpp: cat, index, gather, scatter
void register_embedding(pybind11::module_& m);    // ops_embedding.cpp: embedding lookup and renorm
void register_dropout(pybind11::module_& m);      // ops_dropout.cpp: Philox dropout
void register_norm(pybind11::module_& m);         // ops_norm.cpp: batch norm, layer norm
void register_rbf(pybind11::module_& m);          // ops_rbf.cpp: RBF and conic-section units
void register_optim(pybind11::module_& m);        // ops_optim.cpp: fused multi-tensor optimizer steps
void register_rbm(pybind11::module_& m);          // ops_rbm.cpp: RBM sampling and contrastive divergence
void register_rnn(pybind11::module_& m);          // ops_rnn.cpp: fused RNN/LSTM/GRU, whole-sequence BPTT
void register_attention(pybind11::module_& m);    // ops_attention.cpp: fused scaled dot-product attention
void register_htm(pybind11::module_& m);          // htm.cpp: HTM spatial pooler and temporal memory

}  // namespace lamina::bind
