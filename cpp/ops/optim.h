// Fused multi-tensor optimizer steps (SGD, Adam/AdamW, RMSprop, Adagrad) and the gradient-clipping
// helpers: one call updates every parameter of a group in place, with torch.optim's formulas.
// All tensor lists are parallel: params[i], grads[i] and every state list's [i] share one shape.
#pragma once
#include <vector>

#include "../core/tensor.h"

namespace lamina {

// p -= lr * d, with d = (maximize ? -g : g) + weight_decay * p, then through momentum:
// buf = first_step ? d : momentum * buf + (1 - dampening) * d;  d = nesterov ? d + momentum * buf : buf.
// momentum_buffers may be empty when momentum == 0. first_step fills the buffers (they may hold garbage).
void sgd_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              std::vector<Tensor>& momentum_buffers, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool maximize, bool first_step);

// Adam (decoupled_weight_decay=false) and AdamW (true). steps[i] is parameter i's step count
// after this update (1 on the first step); one entry means all parameters share it.
// max_exp_avg_sqs is used (and must be given) only with amsgrad.
void adam_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               std::vector<Tensor>& exp_avgs, std::vector<Tensor>& exp_avg_sqs,
               std::vector<Tensor>& max_exp_avg_sqs, const std::vector<double>& steps, double lr,
               double beta1, double beta2, double eps, double weight_decay, bool amsgrad,
               bool decoupled_weight_decay, bool maximize);

// RMSprop: grad_avgs only with centered, momentum_buffers only with momentum > 0.
void rmsprop_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  std::vector<Tensor>& square_avgs, std::vector<Tensor>& grad_avgs,
                  std::vector<Tensor>& momentum_buffers, double lr, double alpha, double eps,
                  double weight_decay, double momentum, bool centered, bool maximize);

// Adagrad: state_sums start at initial_accumulator_value (the caller fills them);
// steps[i] as in adam_step; clr = lr / (1 + (step - 1) * lr_decay).
void adagrad_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  std::vector<Tensor>& state_sums, const std::vector<double>& steps, double lr,
                  double lr_decay, double weight_decay, double eps, bool maximize);

// The norm of all tensors together, as if concatenated: (sum |x|^p)^(1/p), max |x| for p = inf.
// Accumulates in double. Any contiguity; float32/float64.
double multi_tensor_norm(const std::vector<Tensor>& tensors, double norm_type);

// x *= factor for every tensor (in place; contiguous tensors).
void multi_tensor_scale_(std::vector<Tensor>& tensors, double factor);

// x = clamp(x, lo, hi) for every tensor (in place; contiguous tensors).
void multi_tensor_clamp_(std::vector<Tensor>& tensors, double lo, double hi);

}  // namespace lamina
