// GRUCell and GRU, with PyTorch's parameter names, shapes, gate order and
// default init, so that a state dict moves between the two unchanged.
//
// Dims: T time steps, B batch, L layers, H hidden size. Per step and layer
// (Cho et al., 2014, as PyTorch writes it; gates in the order r, z, n):
//   r  = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)        reset: how much of h the candidate sees
//   z  = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)        update: how much of h to keep
//   n  = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))     the candidate
//   h' = (1 - z) * n + z * h
// One state where the LSTM has two (h and c), and three gate blocks where it has
// four. Note that r multiplies h W_hn^T + b_hn, bias included: PyTorch's (and
// cuDNN's) form, not the paper's r * h inside the product.
//
// Written with heed's ops (linear, sigmoid, tanh, ...), so autograd derives the
// backward; there is no fused kernel as the LSTM has (ops/lstm.h).
#pragma once

#include "heed/nn/lstm.h"
#include "heed/nn/module.h"

namespace heed::nn {

// What GRU returns: output [T, B, D H] (or [B, T, D H] with batch_first, [T, D H]
// unbatched), the last layer's h at every step; h, every layer's final state,
// [L D, B, H] (or [L D, H]). PyTorch's (output, h_n).
struct GRUOutput {
  Tensor output, h;
};

// One step. Parameters weight_ih [3H, in], weight_hh [3H, H], bias_ih [3H],
// bias_hh [3H], all initialised U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch.
class GRUCell : public Module {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true);
  // x: [B, in] (or [in]); h: [B, H] (or [H]), or undefined (zeros) -> h' of h's shape.
  Tensor forward(const Tensor& x, const Tensor& h = {}) const;
  Tensor operator()(const Tensor& x, const Tensor& h = {}) const { return forward(x, h); }

  int64_t input_size, hidden_size;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // biases undefined when bias = false
};

// The same options as the LSTM's: num_layers, bias, batch_first, dropout, bidirectional.
using GRUOptions = LSTMOptions;

// A stack of GRU layers. Parameters per layer k and direction: weight_ih_l{k}
// [3H, in] (in = input_size for k = 0, else D H), weight_hh_l{k} [3H, H],
// bias_ih_l{k}, bias_hh_l{k} [3H], with the suffix _reverse for the backward
// direction, in PyTorch's order.
class GRU : public Module {
 public:
  GRU(int64_t input_size, int64_t hidden_size, GRUOptions options = {});
  // x: [T, B, in] ([B, T, in] with batch_first; [T, in] unbatched); h0: [L D, B, H]
  // ([L D, H] unbatched) or undefined (zeros).
  GRUOutput forward(const Tensor& x, const Tensor& h0 = {}) const;
  GRUOutput operator()(const Tensor& x, const Tensor& h0 = {}) const { return forward(x, h0); }
  // A padded batch, sequence b real for its first lengths[b] steps: as
  // LSTM::forward_padded (zeros at the padding, h at each sequence's last step).
  GRUOutput forward_padded(const Tensor& x, const Tensor& lengths, const Tensor& h0 = {}) const;

  int64_t input_size, hidden_size, num_layers;
  bool batch_first, bidirectional;
  double dropout;
  std::vector<Tensor> weight_ih, weight_hh, bias_ih, bias_hh;  // per layer and direction, k D + d

 private:
  int64_t directions() const { return bidirectional ? 2 : 1; }
  GRUOutput run(const Tensor& seq, const Tensor& h0) const;  // seq [T, B, in], time-major
};

}  // namespace heed::nn
