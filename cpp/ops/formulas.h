// Element formulas of the elementwise and activation ops (value and derivative), written once as
// LAMINA_HD inline functions so the CPU loops and the CUDA kernels compute exactly the same thing.
// Derivatives take whatever is cheapest: the saved output `y` where it determines the slope.
#pragma once
#include <cmath>

#include "../core/fastmath.h"
#include "../core/hostdev.h"

namespace lamina::fm {

// Numerically stable logistic: never exponentiates a large positive number.
// Branch-free (a select, not a jump): random signs would otherwise mispredict half the time.
template <class T>
LAMINA_HD T sigmoid(T x) {
    const T ax = x < T(0) ? -x : x;  // not fabs: keeps the loop free of library calls
    const T e = exp_t(-ax);
    return (x >= T(0) ? T(1) : e) / (T(1) + e);
}
template <class T>
LAMINA_HD T sigmoid_grad_from_out(T y) { return y * (T(1) - y); }

template <class T>
LAMINA_HD T tanh_grad_from_out(T y) { return T(1) - y * y; }

// 2 * sigmoid(x) - 1 == tanh(x / 2): values in (-1, 1); slope (1 - y^2) / 2.
template <class T>
LAMINA_HD T bipolar_sigmoid(T x) { return tanh_t(x * T(0.5)); }
template <class T>
LAMINA_HD T bipolar_sigmoid_grad_from_out(T y) { return T(0.5) * (T(1) - y * y); }

template <class T>
LAMINA_HD T relu(T x) { return x > T(0) ? x : T(0); }

template <class T>
LAMINA_HD T leaky_relu(T x, T slope) { return x > T(0) ? x : x * slope; }
template <class T>
LAMINA_HD T leaky_relu_grad(T x, T slope) { return x > T(0) ? T(1) : slope; }

template <class T>
LAMINA_HD T elu(T x, T alpha) { return x > T(0) ? x : alpha * std::expm1(x); }
template <class T>
LAMINA_HD T elu_grad(T x, T alpha) { return x > T(0) ? T(1) : alpha * exp_t(x); }

// PyTorch's softplus: log(1 + exp(beta x)) / beta, linear once beta x > threshold.
template <class T>
LAMINA_HD T softplus(T x, T beta, T threshold) {
    const T bx = beta * x;
    if (bx > threshold) return x;
    // log1p(exp(bx)) overflows for no bx <= threshold; for bx > 0 rewrite to keep precision.
    return (bx > T(0) ? bx + std::log1p(std::exp(-bx)) : std::log1p(std::exp(bx))) / beta;
}
template <class T>
LAMINA_HD T softplus_grad(T x, T beta, T threshold) {
    const T bx = beta * x;
    return bx > threshold ? T(1) : sigmoid(bx);
}

// GELU, exact (erf) and the tanh approximation.
template <class T>
LAMINA_HD T gelu(T x) {
    return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
}
template <class T>
LAMINA_HD T gelu_grad(T x) {
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
    const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
    return cdf + x * pdf;
}
// 0.5 x (1 + tanh(u)) written as x * sigmoid(2u): the same function without the cancellation
// of 1 + tanh(u) for negative x (vec_math.h's vector form is the same).
template <class T>
LAMINA_HD T gelu_tanh(T x) {
    const T k2 = T(2 * 0.79788456080286535588);  // 2 sqrt(2 / pi)
    return x * sigmoid(k2 * (x + T(0.044715) * x * x * x));
}
template <class T>
LAMINA_HD T gelu_tanh_grad(T x) {
    const T k2 = T(2 * 0.79788456080286535588);
    const T x2 = x * x;
    const T s = sigmoid(k2 * (x + T(0.044715) * x2 * x));
    return s + x * s * (T(1) - s) * k2 * (T(1) + T(3) * T(0.044715) * x2);
}

// Heaviside step (x >= threshold -> 1). Its true derivative is 0 almost everywhere, so training
// uses a surrogate: straight-through (1 inside |x - threshold| <= 1) or a sigmoid's slope.
template <class T>
LAMINA_HD T step(T x, T threshold) { return x >= threshold ? T(1) : T(0); }
template <class T>
LAMINA_HD T step_grad_ste(T x, T threshold) {
    const T d = x - threshold;
    return (d <= T(1) && d >= T(-1)) ? T(1) : T(0);
}
template <class T>
LAMINA_HD T step_grad_sigmoid(T x, T threshold, T beta) {
    const T s = sigmoid(beta * (x - threshold));
    return beta * s * (T(1) - s);
}

// Sign with sign(0) == 0 (and NaN kept).
template <class T>
LAMINA_HD T sign(T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); }

// Gradients of a ** b. PyTorch's conventions at the edges: d/da is 0 where b == 0, d/db is 0
// where a == 0 and b >= 0 (the limit from a > 0).
template <class T>
LAMINA_HD T pow_grad_base(T a, T b) { return b == T(0) ? T(0) : b * std::pow(a, b - T(1)); }
template <class T>
LAMINA_HD T pow_grad_exp(T a, T b, T out) {
    return (a == T(0) && b >= T(0)) ? T(0) : out * std::log(a);
}

}  // namespace lamina::fm
