// LSTMCell and LSTM, with PyTorch's parameter names, shapes, gate order and
// default init, so that a state dict moves between the two unchanged.
//
// Dims: T time steps, B batch, L layers, H hidden size. Per step and layer:
//   z  = x W_ih^T + b_ih + h W_hh^T + b_hh        [B, 4H], gates in the order i, f, g, o
//   i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of z's four [B, H] blocks
//   c' = f c + i g,   h' = o tanh(c')
// (ops/lstm.h has the fused gate ops and their backward.)
#pragma once

#include "heed/nn/module.h"

namespace heed::nn {

// What LSTMCell returns: the new hidden and cell state, each [B, H] (or [H]).
// auto [h, c] = cell(x, h, c);
struct LSTMState {
  Tensor h, c;
};

// What LSTM returns: output [T, B, H] (or [B, T, H] with batch_first, [T, H]
// unbatched) is the last layer's h at every step; h and c are every layer's
// final state, [L, B, H] (or [L, H]). PyTorch's (output, (h_n, c_n)).
struct LSTMOutput {
  Tensor output, h, c;
};

// One step. Parameters weight_ih [4H, in], weight_hh [4H, H], bias_ih [4H],
// bias_hh [4H], all initialised U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch.
class LSTMCell : public Module {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true);
  // x: [B, in] (or [in]); h, c: [B, H] (or [H]), both or neither (zeros).
  LSTMState forward(const Tensor& x, const Tensor& h = {}, const Tensor& c = {}) const;
  LSTMState operator()(const Tensor& x, const Tensor& h = {}, const Tensor& c = {}) const {
    return forward(x, h, c);
  }

  int64_t input_size, hidden_size;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // biases undefined when bias = false
};

// PyTorch's nn.LSTM options, by name: nn::LSTM lstm(4, 8, {.num_layers = 2, .batch_first = true}).
struct LSTMOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;    // x and output as [B, T, .] instead of [T, B, .]
  double dropout = 0;          // on each layer's output but the last, in training mode
  bool bidirectional = false;  // a second LSTM per layer reads the sequence backwards
};

// A stack of num_layers LSTM layers over a sequence; layer k reads layer k-1's
// output. Parameters per layer k: weight_ih_l{k} [4H, in] (in = input_size for
// k = 0, else D H), weight_hh_l{k} [4H, H], bias_ih_l{k}, bias_hh_l{k} [4H], and
// with bidirectional the same again with the suffix _reverse (D = 2 directions;
// D = 1 otherwise). The output at step t is then [h_fwd_t, h_bwd_t], [.., 2H].
// (PyTorch's proj_size is not supported.)
class LSTM : public Module {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, LSTMOptions options = {});
  // x: [T, B, in] ([B, T, in] with batch_first; [T, in] unbatched).
  // h0, c0: [L D, B, H] ([L D, H] unbatched), both or neither (zeros); row
  // k D + d is layer k, direction d (0 forward, 1 backward), as in PyTorch.
  LSTMOutput forward(const Tensor& x, const Tensor& h0 = {}, const Tensor& c0 = {}) const;
  LSTMOutput operator()(const Tensor& x, const Tensor& h0 = {}, const Tensor& c0 = {}) const {
    return forward(x, h0, c0);
  }
  // A padded batch of sequences of different lengths: sequence b is real for its
  // first lengths[b] steps (int64 [B], each in [1, T]) and padding after. The
  // output is zero at the padding, and h and c are each sequence's state after
  // its own last real step (the backward direction starts there): what PyTorch
  // gives for pack_padded_sequence(x, lengths, enforce_sorted=False), then
  // pad_packed_sequence. Sequences of equal length run together as one batch,
  // so a batch of n distinct lengths costs n smaller runs.
  LSTMOutput forward_padded(const Tensor& x, const Tensor& lengths, const Tensor& h0 = {},
                            const Tensor& c0 = {}) const;

  int64_t input_size, hidden_size, num_layers;
  bool batch_first, bidirectional;
  double dropout;
  // Per layer and direction (index k D + d), the same handles as the registered
  // parameters (biases empty when bias = false).
  std::vector<Tensor> weight_ih, weight_hh, bias_ih, bias_hh;

 private:
  int64_t directions() const { return bidirectional ? 2 : 1; }
  // The stack on a time-major batch: seq [T, B, in], h0, c0 [L D, B, H] or undefined.
  LSTMOutput run(const Tensor& seq, const Tensor& h0, const Tensor& c0) const;
};

}  // namespace heed::nn
