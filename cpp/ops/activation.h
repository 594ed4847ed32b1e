// Pointwise activations (sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu, step with surrogate
// gradients, ...). Shapes: x [...] -> out [...]; dx [...] from dout and the saved tensor.
#pragma once
#include "../core/tensor.h"

namespace lamina {

// p0/p1 per activation: LeakyRelu (negative_slope), Elu (alpha), Softplus (beta, threshold),
// Step* (threshold, beta). Others ignore them.
enum class Act : int {
    Identity = 0, Sigmoid, BipolarSigmoid, Tanh, Relu, LeakyRelu, Elu, Softplus, Gelu, GeluTanh,
    StepSte, StepSigmoid,
};

// True where backward wants the output (sigmoid, bipolar sigmoid, tanh, relu), else the input.
bool activation_saves_output(Act act);

Tensor activation_forward(const Tensor& x, Act act, double p0, double p1);
void activation_(Tensor& x, Act act, double p0, double p1);
// `saved` is the output when activation_saves_output(act), else the input x.
Tensor activation_backward(const Tensor& dout, const Tensor& saved, Act act, double p0, double p1);

}  // namespace lamina
