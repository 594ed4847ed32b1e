// Whole-sequence recurrent layers (Elman tanh/ReLU, LSTM, GRU; one layer, one direction) with
// backpropagation through time inside the core: one call forward, one call backward.
// Shapes: x [T, B, I], hx / cx [B, H], w_ih [G*H, I], w_hh [G*H, H], b_ih / b_hh [G*H], G = 1, 1, 4, 3.
#pragma once
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "../core/tensor.h"

namespace lamina {

// Runs the cell `mode` ("rnn_tanh", "rnn_relu", "lstm", "gru") over x, PyTorch's gate order.
// lengths: int64 [B], each in [1, T]; steps t >= lengths[b] output 0 and keep row b's state.
// reverse: row b runs from t = lengths[b] - 1 down to 0, output written at the same t.
// Returns {output [T,B,H], h_n [B,H], c_n [B,H] (undefined unless lstm), saved...}: the saved
// workspace tensors are opaque and go back unchanged to rnn_sequence_backward.
std::vector<Tensor> rnn_sequence_forward(const std::string& mode, const Tensor& x, const Tensor& hx,
                                         const std::optional<Tensor>& cx, const Tensor& w_ih,
                                         const Tensor& w_hh, const std::optional<Tensor>& b_ih,
                                         const std::optional<Tensor>& b_hh,
                                         const std::optional<Tensor>& lengths, bool reverse);

// Gradients of rnn_sequence_forward given dout [T,B,H], dh_n [B,H], dc_n [B,H] (each may be
// absent = zero). needs: {x, hx, cx, w_ih, w_hh, b_ih, b_hh}; gradients not needed come back
// undefined. Returns {dx [T,B,I], dhx, dcx, dw_ih, dw_hh, db_ih, db_hh}.
std::vector<Tensor> rnn_sequence_backward(const std::string& mode, const std::optional<Tensor>& dout,
                                          const std::optional<Tensor>& dh_n,
                                          const std::optional<Tensor>& dc_n,
                                          const std::vector<Tensor>& saved, const Tensor& w_ih,
                                          const Tensor& w_hh, const std::optional<Tensor>& lengths,
                                          bool reverse, const std::vector<bool>& needs);

}  // namespace lamina
