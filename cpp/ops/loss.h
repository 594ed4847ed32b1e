// Losses: fused cross-entropy (log-softmax + NLL, class-index or probability targets), NLL, and
// pointwise losses (mse, l1, huber, smooth_l1, bce, bce-with-logits, kl_div) with their backwards.
// Shapes: logits/log_probs [N, C, d...] or [C]; class targets [N, d...] int64 (or 0-d);
// probability targets like logits; weight [C]. reduction: 0 none, 1 mean, 2 sum.
#pragma once
#include <optional>
#include <tuple>
#include <vector>

#include "../core/tensor.h"

namespace lamina {

// {loss ([N, d...] for none, else 0-d), lse [N, d...], denom (the mean's divisor)}. denom is a
// plain double: a 0-d tensor read back through numpy cost ~1 us of a 256 x 10 forward's Python.
std::tuple<Tensor, Tensor, double> cross_entropy_forward(const Tensor& logits, const Tensor& target,
                                                         const std::optional<Tensor>& weight,
                                                         int64_t ignore_index, double label_smoothing,
                                                         int reduction);
// dlogits [N, C, d...].
Tensor cross_entropy_backward(const Tensor& dout, const Tensor& logits, const Tensor& target,
                              const std::optional<Tensor>& weight, const Tensor& lse, double denom,
                              int64_t ignore_index, double label_smoothing, int reduction);

// Probability targets: {loss, lse}. Mean divides by the number of positions (N * d...).
std::vector<Tensor> cross_entropy_prob_forward(const Tensor& logits, const Tensor& target,
                                               const std::optional<Tensor>& weight,
                                               double label_smoothing, int reduction);
// {dlogits, dtarget} (undefined where not needed).
std::vector<Tensor> cross_entropy_prob_backward(const Tensor& dout, const Tensor& logits,
                                                const Tensor& target, const std::optional<Tensor>& weight,
                                                const Tensor& lse, double label_smoothing, int reduction,
                                                bool need_logits, bool need_target);

// {loss, denom}: -w[t] * x[t] per position.
std::vector<Tensor> nll_forward(const Tensor& log_probs, const Tensor& target,
                                const std::optional<Tensor>& weight, int64_t ignore_index, int reduction);
Tensor nll_backward(const Tensor& dout, const Tensor& log_probs, const Tensor& target,
                    const std::optional<Tensor>& weight, double denom, int64_t ignore_index, int reduction);

// Pointwise losses over same-shape input/target (weight, pos_weight: same shape or absent).
enum class PointwiseLoss : int { MSE = 0, L1 = 1, Huber = 2, SmoothL1 = 3, BCE = 4, BCEWithLogits = 5, KLDiv = 6 };
// reduce=false: elementwise; otherwise sum / divisor as a 0-d tensor. param: delta, beta, or
// log_target (nonzero) for kl_div.
Tensor pointwise_loss_forward(int kind, const Tensor& input, const Tensor& target,
                              const std::optional<Tensor>& weight, const std::optional<Tensor>& pos_weight,
                              double param, bool reduce, double divisor);
// {dinput, dtarget} (undefined where not needed).
std::vector<Tensor> pointwise_loss_backward(int kind, const Tensor& dout, const Tensor& input,
                                            const Tensor& target, const std::optional<Tensor>& weight,
                                            const std::optional<Tensor>& pos_weight, double param,
                                            bool reduce, double divisor, bool need_input, bool need_target);

}  // namespace lamina
