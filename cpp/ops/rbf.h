// Distance-based neuron layers from the classic MLP/RBF literature.
//   rbf:   phi[n,k] = exp(-||x_n - c_k||^2 / (2 sigma_k^2)),          sigma_k = widths[k]
//   conic: net[n,k] = (x_n - c_k) . w_k - cos(omega_k) ||x_n - c_k||   (Dorffner 1994, CSFN)
// Shapes: x [N, D], centers [K, D], weight [K, D], widths / omega [K] -> [N, K].
#pragma once
#include <tuple>

#include "../core/tensor.h"

namespace lamina {

Tensor rbf_forward(const Tensor& x, const Tensor& centers, const Tensor& widths);
// (dx [N,D], dcenters [K,D], dwidths [K]); `out` is the forward's phi.
std::tuple<Tensor, Tensor, Tensor> rbf_backward(const Tensor& dout, const Tensor& x, const Tensor& centers,
                                                const Tensor& widths, const Tensor& out, bool need_x, bool need_c,
                                                bool need_w);

Tensor conic_forward(const Tensor& x, const Tensor& weight, const Tensor& centers, const Tensor& omega);
// (dx [N,D], dweight [K,D], dcenters [K,D], domega [K]). ||x_n - c_k|| = 0 has no gradient.
std::tuple<Tensor, Tensor, Tensor, Tensor> conic_backward(const Tensor& dout, const Tensor& x, const Tensor& weight,
                                                          const Tensor& centers, const Tensor& omega, bool need_x,
                                                          bool need_w, bool need_c, bool need_omega);

}  // namespace lamina
