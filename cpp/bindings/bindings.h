// Registration functions for each part of the _C module (one per bindings/*.cpp file).
#pragma once
#include <pybind11/pybind11.h>

namespace lamina::bind {

void register_errors(pybind11::module_& m);
void register_tensor(pybind11::module_& m);
void register_ops(pybind11::module_& m);        // creation, add, matmul (ops.cpp)
void register_elementwise(pybind11::module_& m);  // ops_elementwise.cpp: arithmetic, math, activations
void register_reduce(pybind11::module_& m);       // ops_reduce.cpp: reductions, softmax, losses
void register_conv(pybind11::module_& m);         // ops_conv.cpp: convolution, im2col, pooling
void register_nn(pybind11::module_& m);           // ops_nn.cpp: indexing, embedding, dropout, norms, RBF/CSFN
void register_optim(pybind11::module_& m);        // ops_optim.cpp: fused multi-tensor optimizer steps
void register_rbm(pybind11::module_& m);          // ops_rbm.cpp: RBM sampling and contrastive divergence
void register_rnn(pybind11::module_& m);          // ops_rnn.cpp: fused RNN/LSTM/GRU cells and whole-sequence BPTT
void register_attention(pybind11::module_& m);    // ops_attention.cpp: fused scaled dot-product attention
void register_runtime(pybind11::module_& m);

}  // namespace lamina::bind
